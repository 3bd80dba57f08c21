"""Colourisers, picked by name: ``colouriser=[exemplar, ...]`` with settings under ``colourisers.<name>``.

New back ends (DeOldify, ...) add a builder to ``BUILDERS`` keyed by their ``type``.
"""
from __future__ import annotations

from ..errors import ConfigError
from .base import ColourisationFailed, Colouriser
from .exemplar import ExemplarColouriser
from .precomputed import PrecomputedColouriser


def _exemplar(name, cfg):
    return ExemplarColouriser(name=name, seed=cfg.get("seed", 0), samples=cfg.get("samples", 200),
                              window=cfg.get("window", 5))


def _precomputed(name, cfg):
    return PrecomputedColouriser(cfg.get("root"), name=name)


def _deoldify(name, cfg):
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"colouriser {name} (DeOldify) needs PyTorch: pip install -e '.[deoldify]' "
                          "(on a CPU-only machine: pip install torch==<version> from a CPU wheel first)") from exc
    from .deoldify import DeOldifyColouriser
    return DeOldifyColouriser(name=name, model=cfg.get("model", "stable"), weights=cfg.get("weights"),
                              render_factor=cfg.get("render_factor", 35), device=cfg.get("device", "auto"),
                              cache_dir=cfg.get("cache_dir"), download=bool(cfg.get("download", True)),
                              sha256=cfg.get("sha256"), threads=cfg.get("threads", 1))


BUILDERS = {"exemplar": _exemplar, "precomputed": _precomputed, "deoldify": _deoldify}


def build_colouriser(name: str, definitions) -> Colouriser:
    if name not in definitions:
        raise ConfigError(f"colouriser={name} is not defined; choose from {', '.join(sorted(definitions))} "
                          f"(or define colourisers.{name}.type=<{'|'.join(sorted(BUILDERS))}>)")
    cfg = dict(definitions[name])
    kind = cfg.get("type", name)
    if kind in BUILDERS:
        return BUILDERS[kind](name, cfg)
    from ..plugins import available, load
    if kind not in available("fr_eval.colourisers"):
        raise ConfigError(f"colourisers.{name}.type={kind} is not known; choose from {', '.join(sorted(BUILDERS))} "
                          f"or a plug-in ({', '.join(sorted(available('fr_eval.colourisers'))) or 'none installed'})")
    return load("fr_eval.colourisers", kind, f"colourisers.{name}.type")(name, cfg)


__all__ = ["ColourisationFailed", "Colouriser", "build_colouriser", "BUILDERS"]
