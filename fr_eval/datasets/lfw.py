"""Labeled Faces in the Wild (Huang et al., UMass TR 07-49, 2007): ``<Name>/<Name>_NNNN.jpg``.

*people* mode: subjects with at least ``min_images`` images, the first image by number as the
reference, the others as probes. *pairs* (View 2): :func:`parse_pairs` reads ``pairs.txt``
(10 folds of 300 matched + 300 mismatched pairs) and :func:`resolve_pairs` says which pairs
have both images present, naming the others.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import FrEvalError
from .folder import load_folder

NAME_RE = re.compile(r"^(?P<name>.+)_(?P<num>\d{4})\.jpg$")


@dataclass(frozen=True)
class Pair:
    fold: int  # 0..9
    same: bool  # matched (same person) or mismatched
    name1: str
    n1: int
    name2: str
    n2: int
    line: int  # line number in pairs.txt

    def rel(self, which: int) -> str:
        name, n = (self.name1, self.n1) if which == 1 else (self.name2, self.n2)
        return f"{name}/{name}_{n:04d}.jpg"


def parse_pairs(path: str | Path) -> list[Pair]:
    """Parse LFW's ``pairs.txt``: a header ``<folds> <pairs per class>``, then per fold the
    matched pairs (``name n1 n2``) followed by the mismatched ones (``name1 n1 name2 n2``)."""
    lines = Path(path).read_text().splitlines()
    try:
        folds, per = (int(v) for v in lines[0].split())
    except (IndexError, ValueError) as exc:
        raise FrEvalError(f"{path}: the first line must be '<folds> <pairs per class>'") from exc
    pairs = []
    i = 1
    for fold in range(folds):
        for same in (True, False):
            for _ in range(per):
                if i >= len(lines):
                    raise FrEvalError(f"{path}: ends at line {i}, expected {folds} folds of 2 x {per} pairs")
                f = lines[i].split()
                if same and len(f) == 3:
                    pairs.append(Pair(fold, True, f[0], int(f[1]), f[0], int(f[2]), i + 1))
                elif not same and len(f) == 4:
                    pairs.append(Pair(fold, False, f[0], int(f[1]), f[2], int(f[3]), i + 1))
                else:
                    kind = "matched (name n1 n2)" if same else "mismatched (name1 n1 name2 n2)"
                    raise FrEvalError(f"{path}:{i + 1}: expected a {kind} pair, got {lines[i]!r}")
                i += 1
    return pairs


def resolve_pairs(pairs: list[Pair], root: str | Path) -> tuple[list[Pair], list[dict]]:
    """(pairs whose two images exist under ``root``, [{line, pair, missing images}] for the others)."""
    root = Path(root)
    present, missing = [], []
    for p in pairs:
        absent = [p.rel(k) for k in (1, 2) if not (root / p.rel(k)).is_file()]
        if absent:
            missing.append({"line": p.line, "fold": p.fold, "same": p.same, "missing": absent})
        else:
            present.append(p)
    return present, missing


def load_lfw_people(root: str | Path, *, min_images: int = 2, name: str = "lfw"):
    """People mode: a folder dataset restricted to subjects with at least ``min_images`` images;
    files not named ``<Name>_NNNN.jpg`` after their folder are listed as ignored."""
    ds = load_folder(root, name=name, references_per_subject=1, min_images=min_images)
    odd = [s for s in ds.references + ds.probes
           if not (m := NAME_RE.match(s.path.name)) or m.group("name") != s.subject]
    if odd:
        bad = {s.rel for s in odd}
        ds.references = [s for s in ds.references if s.rel not in bad]
        ds.probes = [s for s in ds.probes if s.rel not in bad]
        ds.ignored += [{"path": r, "reason": "not named <Name>/<Name>_NNNN.jpg"} for r in sorted(bad)]
    ds.settings.update(type="lfw", mode="people")
    return ds
