"""Datasets, picked by ``dataset.type`` in the config (one YAML per dataset in ``fr_eval/conf/dataset/``,
and your own in ``./datasets/``)."""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError, FrEvalError
from .base import Dataset, ProtocolPair, Sample
from .feret import load_feret
from .folder import load_folder
from .frgc import load_frgc
from .lfw import load_lfw_pairs, load_lfw_people
from .manifest import load_manifest, problems_message
from .sources import resolve_root

LFW_MODES = ("people", "pairs")


def _folder(cfg, exclude=()):
    return load_folder(cfg["root"], name=cfg.get("name", "folder"), nested=cfg.get("nested", "refuse"), exclude=exclude,
                       references_per_subject=int(cfg.get("references_per_subject", 1)),
                       min_images=int(cfg.get("min_images", 2)), reference_pattern=cfg.get("reference_pattern"),
                       probe_pattern=cfg.get("probe_pattern"), reference_list=cfg.get("reference_list"),
                       probe_list=cfg.get("probe_list"))


def _lfw(cfg, exclude=()):
    mode = cfg.get("mode", "people")
    if mode not in LFW_MODES:
        raise ConfigError(f"dataset.mode={mode} is not available; choose from {', '.join(LFW_MODES)}")
    if mode == "people":
        return load_lfw_people(cfg["root"], min_images=int(cfg.get("min_images", 2)), name=cfg.get("name", "lfw"),
                               exclude=exclude)
    return load_lfw_pairs(cfg["root"], pairs=cfg.get("pairs"), extra_roots=cfg.get("extra_roots") or (),
                          fill_mismatched=cfg.get("fill_mismatched") or 0, seed=int(cfg.get("seed", 0)),
                          name=cfg.get("name", "lfw"))


def _feret(cfg, exclude=()):
    return load_feret(cfg["root"], name=cfg.get("name", "feret"), reference_pose=cfg.get("reference_pose", "fa"),
                      probe_poses=tuple(cfg.get("probe_poses", ("fa", "fb"))),
                      prefer_other_session=bool(cfg.get("prefer_other_session", True)))


def _frgc(cfg, exclude=()):
    return load_frgc(cfg["root"], name=cfg.get("name", "frgc"), controlled=cfg.get("controlled"),
                     uncontrolled=cfg.get("uncontrolled"), metadata=cfg.get("metadata"),
                     reference_condition=cfg.get("reference_condition", "controlled"),
                     probe_conditions=tuple(cfg.get("probe_conditions", ("controlled", "uncontrolled"))),
                     prefer_other_session=bool(cfg.get("prefer_other_session", True)))


def _manifest(cfg, exclude=()):
    return load_manifest(cfg["path"], root=cfg.get("root"), name=cfg.get("name", "manifest"),
                         strict=bool(cfg.get("strict", False)), allow_outside=bool(cfg.get("allow_outside")))


LOADERS = {"folder": _folder, "manifest": _manifest, "lfw": _lfw, "feret": _feret, "frgc": _frgc}


def load_dataset(cfg, exclude=()) -> Dataset:
    """Build the dataset a config node describes (``type`` picks the loader), then apply the
    options every dataset has: ``strict`` (stop on any problem) and ``limit_subjects`` (a seeded
    random subset of N subjects, for quick runs). ``exclude``: folders never read as data (the run's
    own report and store folders)."""
    kind = cfg.get("type", "folder")
    if kind not in LOADERS:
        raise ConfigError(f"dataset.type={kind} is not known; choose from {', '.join(sorted(LOADERS))}")
    cfg = resolve_root(dict(cfg))  # the given root, else the local copy, else fetched (LFW)
    if not cfg.get("root") and kind != "manifest":
        raise ConfigError("dataset.root must be given, e.g. dataset.root=<folder of images>")
    ds = LOADERS[kind](cfg, exclude)
    if cfg.get("strict") and ds.problems:  # the manifest loader stops by itself, before skipping
        raise FrEvalError(f"dataset {ds.name}: {problems_message(ds.problems)} (dataset.strict=false skips "
                          f"and lists them)")
    limit = cfg.get("limit_subjects")
    if limit not in (None, "", 0):
        limit_subjects(ds, int(limit), int(cfg.get("seed", 0)))
    return ds


def limit_subjects(ds: Dataset, n: int, seed: int = 0) -> None:
    """Keep a seeded uniform sample of ``n`` of the subjects that have a reference and a probe."""
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
