"""Datasets, picked by ``dataset.type`` in the config (one YAML per dataset in ``datasets/``)."""
from __future__ import annotations

from ..errors import ConfigError
from .base import Dataset, Sample
from .feret import load_feret
from .folder import load_folder
from .lfw import load_lfw_people
from .manifest import load_manifest

LOADERS = {"folder": load_folder, "manifest": load_manifest, "lfw": load_lfw_people, "feret": load_feret}
LFW_MODES = ("people",)


def load_dataset(cfg) -> Dataset:
    """Build the dataset a config node describes (``type`` picks the loader)."""
    kind = cfg.get("type", "folder")
    if kind not in LOADERS:
        raise ConfigError(f"dataset.type={kind} is not known; choose from {', '.join(sorted(LOADERS))}")
    if kind == "folder":
        return load_folder(cfg["root"], name=cfg.get("name", "folder"),
                           references_per_subject=int(cfg.get("references_per_subject", 1)),
                           min_images=int(cfg.get("min_images", 2)))
    if kind == "lfw":
        mode = cfg.get("mode", "people")
        if mode not in LFW_MODES:
            raise ConfigError(f"dataset.mode={mode} is not available; choose from {', '.join(LFW_MODES)}")
        return load_lfw_people(cfg["root"], min_images=int(cfg.get("min_images", 2)), name=cfg.get("name", "lfw"))
    if kind == "feret":
        return load_feret(cfg["root"], name=cfg.get("name", "feret"),
                          reference_pose=cfg.get("reference_pose", "fa"),
                          probe_poses=tuple(cfg.get("probe_poses", ("fa", "fb"))),
                          prefer_other_session=bool(cfg.get("prefer_other_session", True)))
    if kind == "manifest":
        return load_manifest(cfg["path"], root=cfg.get("root"), name=cfg.get("name", "manifest"),
                             strict=bool(cfg.get("strict", False)))
    raise AssertionError(kind)


__all__ = ["Dataset", "Sample", "load_dataset", "LOADERS"]
