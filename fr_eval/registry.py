"""One registry for fr-eval's four plug-in families: face systems, colourisers, dataset layouts and
quality measures. Each member is a settings dataclass (fr_eval.settings: every parameter once, with its
default, parser and doc) and a builder in its package; other packages add members through the entry-point
group of the family (:mod:`fr_eval.plugins`). ``fr-eval --keys``, the usage text and the README's tables of
members (:func:`markdown`; ``python -m fr_eval.registry`` prints them, a test holds the README to them) read
this table."""
from __future__ import annotations

from dataclasses import dataclass, fields

from . import colourisers, datasets, quality, systems
from .plugins import available
from .settings import COLOURISERS, DATASETS, QUALITY, SYSTEMS, DatasetSettings


@dataclass(frozen=True)
class Family:
    """A plug-in family: how a run names a member, the built-ins' settings and builders, the entry points."""
    name: str
    chosen_by: str  # the config key that names a member
    settings: dict  # built-in member -> its settings dataclass (members without settings: absent)
    builders: dict  # built-in member -> its builder (or class)
    group: str  # the entry-point group other packages register under
    base: type | None = None  # the settings every member shares (dataset layouts: DatasetSettings)

    def builtin(self) -> list[str]:
        return list(self.builders)

    def about(self, member: str) -> str:
        """The member's one line: its builder's docstring, else its settings'."""
        for obj in (self.builders.get(member), self.settings.get(member)):
            doc = (getattr(obj, "__doc__", None) or "").strip()
            if doc and not doc.startswith(f"{getattr(obj, '__name__', '')}("):  # not a dataclass's generated one
                return " ".join(doc.split("\n\n")[0].split())
        return ""

    def keys(self, member: str) -> list[str]:
        """The member's own keys: its settings' fields, less the one that names it and those every member
        of the family shares (:attr:`common`)."""
        cls = self.settings.get(member)
        return [f.name for f in fields(cls) if f.name not in ("name", "type", *self.common)] if cls else []

    @property
    def common(self) -> tuple:
        return tuple(f.name for f in fields(self.base)) if self.base else ()

    def plugins(self) -> list[str]:
        """Members installed by other packages (a built-in name always wins)."""
        return sorted(n for n in available(self.group) if n not in self.builders)


FAMILIES = {
    "systems": Family("face systems", "system=<name>", SYSTEMS, systems.BUILDERS, "fr_eval.systems"),
    "colourisers": Family("colourisers", "colourisers.<x>.type=<name>", COLOURISERS, colourisers.BUILDERS,
                          "fr_eval.colourisers"),
    "datasets": Family("dataset layouts", "dataset.type=<name>", DATASETS, datasets.LOADERS, "fr_eval.datasets",
                       DatasetSettings),
    "quality": Family("quality measures", "quality=[<name>]", QUALITY, quality.ESTIMATORS, "fr_eval.quality"),
}


def _cell(text: str) -> str:
    """Text in a Markdown table cell: its pipes and angle brackets escaped."""
    return text.replace("|", "\\|").replace("<", "\\<")


def markdown() -> str:
    """A Markdown table of each family's built-in members (the README's, kept equal to it by a test)."""
    out = []
    for fam in FAMILIES.values():
        common = [k for k in fam.common if k not in ("name", "type")]
        shared = f"; every member also takes {', '.join(f'`{k}`' for k in common)}" if common else ""
        out += [f"**{fam.name}** (`{fam.chosen_by}`; other packages: entry points `{fam.group}`{shared})", "",
                "| member | what it is | its keys |", "|---|---|---|"]
        out += [f"| `{m}` | {_cell(fam.about(m))} | {', '.join(f'`{k}`' for k in fam.keys(m)) or '-'} |"
                for m in fam.builtin()]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
