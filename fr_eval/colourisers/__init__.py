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


BUILDERS = {"exemplar": _exemplar, "precomputed": _precomputed}


def build_colouriser(name: str, definitions) -> Colouriser:
    if name not in definitions:
        raise ConfigError(f"colouriser={name} is not defined; choose from {', '.join(sorted(definitions))} "
                          f"(or define colourisers.{name}.type=<{'|'.join(sorted(BUILDERS))}>)")
    cfg = dict(definitions[name])
    kind = cfg.get("type", name)
    if kind not in BUILDERS:
        raise ConfigError(f"colourisers.{name}.type={kind} is not known; choose from {', '.join(sorted(BUILDERS))}")
    return BUILDERS[kind](name, cfg)


__all__ = ["ColourisationFailed", "Colouriser", "build_colouriser", "BUILDERS"]
