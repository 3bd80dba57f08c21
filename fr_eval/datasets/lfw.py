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

import numpy as np

from ..errors import ConfigError, FrEvalError
from .base import Dataset, ProtocolPair, Sample, read_text
from .folder import load_folder
from .integrity import drop_samples

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
    lines = read_text(path, "dataset.pairs").splitlines()
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


def load_lfw_people(root: str | Path, *, min_images: int = 2, name: str = "lfw", exclude=(),
                    single_image_subjects: str = "drop"):
    """People mode: a folder dataset restricted to subjects with at least ``min_images`` images
    (one-image people kept as references only with ``single_image_subjects="impostor"``); files not
    named ``<Name>_NNNN.jpg`` after their folder are listed as ignored (a subject then without a
    reference, or without a probe when it had one, is excluded)."""
    ds = load_folder(root, name=name, references_per_subject=1, min_images=min_images, exclude=exclude,
                     single_image_subjects=single_image_subjects)
    odd = [s for s in ds.references + ds.probes
           if not (m := NAME_RE.match(s.path.name)) or m.group("name") != s.subject]
    if odd:
        drop_samples(ds, {s.rel for s in odd}, "not named <Name>/<Name>_NNNN.jpg")
    ds.settings.update(type="lfw", mode="people")
    return ds


def find_pairs_file(root: Path) -> Path | None:
    """``pairs.txt`` beside the images, one level up, or in a sibling ``protocol/`` folder."""
    for cand in (root / "pairs.txt", root.parent / "pairs.txt", root.parent / "protocol" / "pairs.txt"):
        if cand.is_file():
            return cand
    return None


def load_lfw_pairs(root: str | Path, *, pairs: str | Path | None = None, extra_roots=(), fill_mismatched=0,
                   seed: int = 0, name: str = "lfw-pairs") -> Dataset:
    """Pairs mode: the comparisons ``pairs.txt`` prescribes, image 1 as the reference side and
    image 2 as the probe side. Images are looked up under ``root`` then each of ``extra_roots``.

    Pairs with a missing image are counted and each is named in ``Dataset.problems``.
    ``fill_mismatched=N`` adds N mismatched pairs drawn (seeded) among the images present, spread
    over the 10 folds and marked ``origin="filled"``: for subsets of LFW that keep the matched
    pairs only. ``fill_mismatched=balanced`` adds, in each fold, as many as it has matched pairs
    (the protocol's 1:1 balance). With them the figures are no longer the LFW protocol's, and the
    report says so.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FrEvalError(f"dataset.root={root} is not a directory (the LFW folder of <Name>/<Name>_NNNN.jpg)")
    roots = [root] + [Path(r).expanduser() for r in extra_roots]
    for r in roots[1:]:
        if not r.is_dir():
            raise FrEvalError(f"dataset.extra_roots: {r} is not a directory")
    pfile = Path(pairs).expanduser() if pairs else find_pairs_file(root)
    if pfile is None or not pfile.is_file():
        raise FrEvalError(f"dataset.pairs={pairs or '(not given)'}: no pairs.txt found (looked beside {root}, "
                          f"one level up and in ../protocol); give dataset.pairs=<pairs.txt>")
    all_pairs = parse_pairs(pfile)
    locate = _locator(roots)
    present, problems = _present_pairs(all_pairs, locate, pfile.name)
    per_fold = _fill_per_fold(fill_mismatched, present)
    filled = _fill_mismatched(present, per_fold, seed) if sum(per_fold) else []
    used = present + filled
    if not used:
        raise FrEvalError(f"{pfile}: none of its {len(all_pairs)} pairs has both images under "
                          f"{', '.join(map(str, roots))}")
    refs, probes = _pair_samples(used, locate)
    n_same = sum(p.same for p in all_pairs)
    settings = {
        "type": "lfw", "mode": "pairs", "pairs_file": str(pfile.resolve()), "roots": [str(r.resolve()) for r in roots],
        "pairs_in_file": len(all_pairs), "matched_in_file": n_same, "mismatched_in_file": len(all_pairs) - n_same,
        "pairs_present": len(present), "matched_present": sum(p.same for p in present),
        "mismatched_present": sum(not p.same for p in present), "pairs_missing": len(all_pairs) - len(present),
        "mismatched_filled": len(filled), "fill_seed": seed if filled else None,
        "protocol": "LFW View 2 (unrestricted-labeled pairs, 10 folds)" if not filled else
                    f"NOT the LFW protocol: {len(filled)} mismatched pairs were drawn by fr-eval among the images "
                    f"present (seed {seed}) because the data lacks the protocol's own",
    }
    return Dataset(name=name, root=root.resolve(), references=refs, probes=probes, problems=problems,
                   settings=settings, pairs=used)


def _locator(roots: list[Path]):
    """A cached lookup: the first root holding a relative path, or None."""
    where: dict[str, Path | None] = {}

    def locate(rel):
        if rel not in where:
            where[rel] = next((r / rel for r in roots if (r / rel).is_file()), None)
        return where[rel]
    return locate


def _present_pairs(all_pairs, locate, pfile_name: str) -> tuple[list[ProtocolPair], list[dict]]:
    """The pairs whose two images exist, and a problem naming each pair that has a missing image."""
    present, problems = [], []
    for p in all_pairs:
        absent = [p.rel(k) for k in (1, 2) if locate(p.rel(k)) is None]
        if absent:
            problems.append({"kind": "pair with a missing image", "where": f"{pfile_name}:{p.line}",
                             "detail": f"fold {p.fold + 1} {'matched' if p.same else 'mismatched'}: "
                                       f"{', '.join(absent)} not found"})
        else:
            present.append(ProtocolPair(p.rel(1), p.rel(2), p.same, p.fold))
    return present, problems


def _fill_per_fold(fill_mismatched, present) -> list[int]:
    """How many mismatched pairs to draw in each of the 10 folds."""
    if fill_mismatched == "balanced":
        return [sum(p.same for p in present if p.fold == k) for k in range(10)]
    try:
        n = int(fill_mismatched or 0)
    except ValueError:
        n = -1
    if n < 0:
        raise ConfigError(f"dataset.fill_mismatched={fill_mismatched} must be a count >= 0 or 'balanced'")
    return [n // 10 + (k < n % 10) for k in range(10)]


def _pair_samples(used, locate) -> tuple[list[Sample], list[Sample]]:
    """Each pair's image 1 once as a reference, image 2 once as a probe, in the pairs' order."""
    refs, probes, seen_r, seen_p = [], [], set(), set()
    for p in used:
        if p.rel1 not in seen_r:
            seen_r.add(p.rel1)
            refs.append(Sample(path=locate(p.rel1).resolve(), rel=p.rel1, subject=p.rel1.split("/", 1)[0],
                               role="reference"))
        if p.rel2 not in seen_p:
            seen_p.add(p.rel2)
            probes.append(Sample(path=locate(p.rel2).resolve(), rel=p.rel2, subject=p.rel2.split("/", 1)[0],
                                 role="probe"))
    return refs, probes


def _fill_mismatched(present: list[ProtocolPair], per_fold: list[int], seed: int) -> list[ProtocolPair]:
    """Distinct pairs of images of different people among those present, seeded; ``per_fold[k]``
    of them in fold k."""
    n = sum(per_fold)
    folds = [k for k, c in enumerate(per_fold) for _ in range(c)]
    images = sorted({p.rel1 for p in present} | {p.rel2 for p in present})
    subjects = np.array([r.split("/", 1)[0] for r in images])
    if len(set(subjects)) < 2:
        raise FrEvalError("dataset.fill_mismatched needs images of at least two people among the pairs present")
    rng = np.random.default_rng(seed)
    taken = {(p.rel1, p.rel2) for p in present}
    out = []
    max_pairs = int(sum((subjects != s).sum() for s in subjects))  # ordered cross-person pairs
    if n > max_pairs - len(taken):
        raise FrEvalError(f"dataset.fill_mismatched={n}: only {max_pairs} cross-person pairs exist among the "
                          f"{len(images)} images present")
    while len(out) < n:
        a, b = rng.integers(len(images), size=2)
        if subjects[a] == subjects[b] or (images[a], images[b]) in taken:
            continue
        taken.add((images[a], images[b]))
        out.append(ProtocolPair(images[a], images[b], False, folds[len(out)], origin="filled"))
    return out
