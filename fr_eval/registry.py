"""One registry for fr-eval's four plug-in families: face systems, colourisers, dataset layouts and
quality measures. Each member is a settings dataclass (fr_eval.settings: every parameter once, with its
default, parser and doc) and a builder in its package; other packages add members through the entry-point
group of the family (:mod:`fr_eval.plugins`). ``fr-eval --keys`` and the usage text read this table."""
from __future__ import annotations

from dataclasses import dataclass

from . import colourisers, datasets, quality, systems
from .plugins import available
from .settings import COLOURISERS, DATASETS, QUALITY, SYSTEMS


@dataclass(frozen=True)
class Family:
    """A plug-in family: how a run names a member, the built-ins' settings and builders, the entry points."""
    name: str
    chosen_by: str  # the config key that names a member
    settings: dict  # built-in member -> its settings dataclass (members without settings: absent)
    builders: dict  # built-in member -> its builder (or class)
    group: str  # the entry-point group other packages register under

    def builtin(self) -> list[str]:
        return list(self.builders)

    def plugins(self) -> list[str]:
        """Members installed by other packages (a built-in name always wins)."""
        return sorted(n for n in available(self.group) if n not in self.builders)


FAMILIES = {
    "systems": Family("face systems", "system=<name>", SYSTEMS, systems.BUILDERS, "fr_eval.systems"),
    "colourisers": Family("colourisers", "colourisers.<x>.type=<name>", COLOURISERS, colourisers.BUILDERS,
                          "fr_eval.colourisers"),
    "datasets": Family("dataset layouts", "dataset.type=<name>", DATASETS, datasets.LOADERS, "fr_eval.datasets"),
    "quality": Family("quality measures", "quality=[<name>]", QUALITY, quality.ESTIMATORS, "fr_eval.quality"),
}
