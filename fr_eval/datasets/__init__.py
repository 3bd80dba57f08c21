"""Datasets, picked by ``dataset.type`` in the config (one YAML per dataset in ``fr_eval/conf/dataset/``,
and your own in ``./datasets/``)."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import ConfigError, FrEvalError
from ..plugins import load
from ..settings import (
    FeretSettings,
    FolderSettings,
    FrgcSettings,
    LfwSettings,
    ManifestSettings,
    PluginDatasetSettings,
    dataset_settings,
)
from .base import Dataset, ProtocolPair, Sample
from .feret import load_feret
from .folder import load_folder
from .frgc import load_frgc
from .lfw import load_lfw_pairs, load_lfw_people
from .manifest import load_manifest, problems_message
from .sources import resolve_root


def _folder(s: FolderSettings, exclude=()):
    return load_folder(s.root, name=s.name, nested=s.nested, exclude=exclude,
                       references_per_subject=s.references_per_subject, min_images=s.min_images,
                       reference_pattern=s.reference_pattern, probe_pattern=s.probe_pattern,
                       reference_list=s.reference_list, probe_list=s.probe_list,
                       single_image_subjects=s.single_image_subjects)


def _lfw(s: LfwSettings, exclude=()):
    if s.mode == "people":
        return load_lfw_people(s.root, min_images=s.min_images, name=s.name, exclude=exclude,
                               single_image_subjects=s.single_image_subjects)
    return load_lfw_pairs(s.root, pairs=s.pairs, extra_roots=s.extra_roots, fill_mismatched=s.fill_mismatched,
                          seed=s.seed, name=s.name)


def _feret(s: FeretSettings, exclude=()):
    return load_feret(s.root, name=s.name, reference_pose=s.reference_pose, probe_poses=tuple(s.probe_poses),
                      prefer_other_session=s.prefer_other_session,
                      single_image_subjects=s.single_image_subjects)


def _frgc(s: FrgcSettings, exclude=()):
    return load_frgc(s.root, name=s.name, controlled=s.controlled, uncontrolled=s.uncontrolled, metadata=s.metadata,
                     reference_condition=s.reference_condition, probe_conditions=tuple(s.probe_conditions),
                     prefer_other_session=s.prefer_other_session,
                     single_image_subjects=s.single_image_subjects)


def _manifest(s: ManifestSettings, exclude=()):
    return load_manifest(s.path, root=s.root, name=s.name, strict=s.strict, allow_outside=s.allow_outside,
                         single_image_subjects=s.single_image_subjects)


def _plugin(s: PluginDatasetSettings, exclude=()):
    ds = load("fr_eval.datasets", s.type, "dataset.type")(s)
    if not isinstance(ds, Dataset):
        raise ConfigError(f"dataset.type={s.type}: the plug-in did not build a fr_eval.datasets.Dataset")
    return ds


LOADERS = {"folder": _folder, "manifest": _manifest, "lfw": _lfw, "feret": _feret, "frgc": _frgc}


def load_dataset(settings, exclude=()) -> Dataset:
    """Build the dataset a config node describes (its :class:`~fr_eval.settings.DatasetSettings`, or a
    plain node, parsed here; ``type`` picks the loader), then apply the options every dataset has:
    ``strict`` (stop on any problem) and ``limit_subjects`` (a seeded random subset of N subjects, for
    quick runs). ``exclude``: folders never read as data (the run's own report and store folders)."""
    s = dataset_settings(settings) if isinstance(settings, dict) else settings
    # the given root, else the local copy, else fetched (LFW); an unsettled single_image_subjects (a node that
    # did not pass settings.validate) is drop, verification's default
    s = dataclasses.replace(s, root=resolve_root(s), single_image_subjects=s.single_image_subjects)
    if not s.root and s.type != "manifest":
        raise ConfigError("dataset.root must be given, e.g. dataset.root=<folder of images>")
    ds = LOADERS.get(s.type, _plugin)(s, exclude)
    if s.strict and ds.problems:  # the manifest loader stops by itself, before skipping
        raise FrEvalError(f"dataset {ds.name}: {problems_message(ds.problems)} (dataset.strict=false skips "
                          f"and lists them)")
    if s.limit_subjects is not None:
        limit_subjects(ds, s.limit_subjects, s.seed)
    return ds


def limit_subjects(ds: Dataset, n: int, seed: int = 0) -> None:
    """Keep a seeded uniform sample of ``n`` of the subjects that have a reference and a probe (reference-only
    subjects, :attr:`Dataset.reference_only`, are left out too)."""
    if n < 1:
        raise ConfigError(f"dataset.limit_subjects={n} must be a positive integer (or null for all)")
    eligible = sorted({s.subject for s in ds.references} & {s.subject for s in ds.probes})
    before = len(ds.subjects)
    if n < len(eligible):
        keep = set(np.random.default_rng(seed).choice(eligible, size=n, replace=False).tolist())
        ds.restrict_subjects(keep)
    ds.settings["limit_subjects"] = {"n": n, "seed": seed, "subjects_before": before,
                                     "subjects_after": len(ds.subjects)}


__all__ = ["Dataset", "Sample", "ProtocolPair", "load_dataset", "limit_subjects", "LOADERS"]
