"""Plug-ins: another package can add a face system, a colouriser, a dataset layout or a quality estimator by
declaring a Python entry point, and fr-eval picks it by name like its own.

In the plug-in's ``pyproject.toml``::

    [project.entry-points."fr_eval.systems"]
    mynet = "mypkg.fr:build_system"          # build_system(cfg: dict) -> FaceSystem
    [project.entry-points."fr_eval.colourisers"]
    mycol = "mypkg.fr:build_colouriser"      # build_colouriser(name: str, cfg: dict) -> Colouriser
    [project.entry-points."fr_eval.datasets"]
    mylayout = "mypkg.fr:load_dataset"       # load_dataset(settings: PluginDatasetSettings) -> Dataset
    [project.entry-points."fr_eval.quality"]
    myq = "mypkg.fr:MyEstimator"             # MyEstimator(**quality_settings.myq) -> Estimator

then ``system=plugin system.plugin=mynet`` (its settings under ``system.settings``),
``colourisers.x={type: mycol}`` with ``colouriser=[x]``, ``dataset.type=mylayout`` (the keys every
dataset has are parsed as fr-eval's, the others handed over in ``settings.settings``), and
``quality=[myq]``; ``fr-eval --keys`` lists the plug-ins installed.
A built-in name always wins over a plug-in's.
"""
from __future__ import annotations

from importlib.metadata import entry_points

from .errors import ConfigError

GROUPS = ("fr_eval.systems", "fr_eval.colourisers", "fr_eval.datasets", "fr_eval.quality")


def available(group: str) -> dict:
    """``{name: entry point}`` of an entry-point group (nothing is imported yet)."""
    return {ep.name: ep for ep in entry_points(group=group)}


def load(group: str, name: str, what: str):
    """The object a plug-in registered under ``name``; a one-line error naming the known ones."""
    eps = available(group)
    if name not in eps:
        raise ConfigError(f"{what}={name} is not known; plug-ins in {group}: {', '.join(sorted(eps)) or 'none'}")
    try:
        return eps[name].load()
    except Exception as exc:  # an import error inside the plug-in
        raise ConfigError(f"{what}={name}: the plug-in {eps[name].value} could not be loaded "
                          f"({type(exc).__name__}: {exc})") from None
