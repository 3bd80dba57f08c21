"""Colourisers, picked by name: ``colouriser=[exemplar, ...]`` with settings under ``colourisers.<name>``.

New back ends add a builder to ``BUILDERS`` keyed by their ``type``.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..plugins import available, load
from ..settings import colouriser_settings
from .base import ColourisationFailed, Colouriser
from .exemplar import ExemplarColouriser
from .precomputed import PrecomputedColouriser


def _exemplar(name, s):
    return ExemplarColouriser(name=name, seed=s.seed, samples=s.samples, window=s.window, choice=s.choice,
                              face_region=s.face_region)


def _precomputed(name, s):
    return PrecomputedColouriser(s.root, name=name)


def _need_torch(name):
    try:
        import torch  # noqa: F401 (optional heavy dependency, checked only when used)
    except ImportError as exc:
        raise ConfigError(f"colouriser {name} (DeOldify) needs PyTorch: pip install -e '.[deoldify]' "
                          "(on a CPU-only machine: pip install torch==<version> from a CPU wheel first)") from exc


def _generator_args(s) -> dict:
    return dict(model=s.model, weights=s.weights, render_factor=s.render_factor, device=s.device,
                cache_dir=s.cache_dir, download=s.download, sha256=s.sha256, threads=s.threads, merge=s.merge)


def _deoldify(name, s):
    _need_torch(name)
    from .deoldify import DeOldifyColouriser  # optional heavy dependency (torch), loaded only when used
    return DeOldifyColouriser(name=name, **_generator_args(s))


def _deoldify_kelley(name, s):
    _need_torch(name)
    from .kelley import KelleyColouriser  # optional heavy dependency (torch), loaded only when used
    return KelleyColouriser(name=name, output=s.output, **_generator_args(s))


BUILDERS = {"exemplar": _exemplar, "precomputed": _precomputed, "deoldify": _deoldify,
            "deoldify_kelley": _deoldify_kelley}


def build_colouriser(name: str, definitions) -> Colouriser:
    """The colouriser ``name`` as ``definitions`` (``colourisers.<name>``: each a settings dataclass, or a
    plain node parsed here; a plug-in's type keeps its node as given) defines it."""
    if name not in definitions:
        raise ConfigError(f"colouriser={name} is not defined; choose from {', '.join(sorted(definitions))} "
                          f"(or define colourisers.{name}.type=<{'|'.join(sorted(BUILDERS))}>)")
    s = definitions[name]
    if isinstance(s, dict):
        s = colouriser_settings(name, {**s, "type": s.get("type", name)})
    if not isinstance(s, dict):  # a built-in type, parsed into its settings
        return BUILDERS[s.type](name, s)
    kind = s.get("type", name)
    if kind not in available("fr_eval.colourisers"):
        raise ConfigError(f"colourisers.{name}.type={kind} is not known; choose from {', '.join(sorted(BUILDERS))} "
                          f"or a plug-in ({', '.join(sorted(available('fr_eval.colourisers'))) or 'none installed'})")
    return load("fr_eval.colourisers", kind, f"colourisers.{name}.type")(name, dict(s))


__all__ = ["ColourisationFailed", "Colouriser", "build_colouriser", "BUILDERS"]
