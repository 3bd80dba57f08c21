"""The same image under two names: content duplicates in a dataset (found by the images' sha256) and,
as a setting, near-duplicate embeddings across subjects (found by similarity after acquisition).

One face filed under two subjects turns a genuine pair into an impostor of score ~1: it sets the
threshold (the highest impostor scores fix it) and every genuine attempt then fails. A face twice in
one subject turns a genuine attempt into a comparison of an image with itself. Both are problems of
the dataset, listed with both paths; ``dataset.duplicates`` says what the run does with them:

- ``error`` (the default): stop before any image is processed, naming the copies;
- ``drop``: keep the first image of each group (a file inside a real folder before one reached
  through a symbolic link, then by subject and path) and leave the copies out, each listed;
- ``keep``: use them as they are, each listed in the report's problems.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FrEvalError
from .. import metrics
from ..streaming import products
from .base import Dataset, Sample

POLICIES = ("error", "drop", "keep")


@dataclass(frozen=True)
class DuplicateGroup:
    """Samples whose files hold the same bytes, the one kept under ``drop`` first."""

    sha256: str
    samples: tuple

    @property
    def cross_subject(self) -> bool:
        return len({s.subject for s in self.samples}) > 1


def _through_link(ds: Dataset, s: Sample) -> bool:
    """Whether the sample's subject folder is reached through a symbolic link (the copy, not the original)."""
    first = s.rel.split("/", 1)[0]
    return (Path(ds.root) / first).is_symlink()


def content_duplicates(ds: Dataset, shas: dict) -> list[DuplicateGroup]:
    """Groups of two or more samples (references and probes) whose files have the same sha256
    (``shas``: path -> sha256, None where unreadable: such files fail to acquire later, never grouped)."""
    by_sha: dict[str, list[Sample]] = {}
    seen = set()
    for s in ds.references + ds.probes:
        if s.rel in seen:
            continue
        seen.add(s.rel)
        sha = shas.get(s.path)
        if sha:
            by_sha.setdefault(sha, []).append(s)
    groups = []
    for sha, members in by_sha.items():
        if len(members) > 1:
            members = sorted(members, key=lambda s: (_through_link(ds, s), s.subject, s.rel))
            groups.append(DuplicateGroup(sha, tuple(members)))
    return sorted(groups, key=lambda g: (not g.cross_subject, g.samples[0].subject, g.samples[0].rel))


def _pair_text(g: DuplicateGroup) -> str:
    return " = ".join(s.rel for s in g.samples)


def apply_duplicates(ds: Dataset, groups: list[DuplicateGroup], policy: str) -> dict:
    """Act on the duplicate groups by ``policy`` (see the module): raises for ``error`` when an image
    is under two subjects; lists every group in ``ds.problems``; under ``drop`` leaves the copies out
    (a subject left without a reference or a probe is then excluded). Returns a summary for the report."""
    if policy not in POLICIES:
        raise FrEvalError(f"dataset.duplicates={policy} is not valid: choose from {', '.join(POLICIES)}")
    cross = [g for g in groups if g.cross_subject]
    if cross and policy == "error":
        shown = "; ".join(_pair_text(g) for g in cross[:4]) + (f"; and {len(cross) - 4} more" if len(cross) > 4 else "")
        links = sorted({s.rel.split("/", 1)[0] for g in cross for s in g.samples if _through_link(ds, s)})
        linked = "".join(f"; {n} is a symbolic link to {(Path(ds.root) / n).resolve().name}" for n in links[:3])
        raise FrEvalError(f"dataset {ds.name}: {len(cross)} image(s) appear under two or more subjects (the same "
                          f"sha256): {shown}{linked}; fix the folders, or give dataset.duplicates=drop (keeps the "
                          f"first of each, drops the copies) or dataset.duplicates=keep")
    dropped = set()
    for g in groups:
        kind = "same image under two subjects" if g.cross_subject else "same image twice in one subject"
        what = {"drop": f"kept {g.samples[0].rel}, dropped the other(s)", "keep": "all kept (dataset.duplicates=keep)",
                "error": "all kept (within one subject: dataset.duplicates=drop leaves the copies out)"}[policy]
        ds.problems.append({"kind": kind, "where": ", ".join(sorted({s.subject for s in g.samples})),
                            "detail": f"{_pair_text(g)} (sha256 {g.sha256[:12]}...): {what}"})
        if policy == "drop":
            dropped |= {s.rel for s in g.samples[1:]}
    if dropped:
        drop_samples(ds, dropped, "a copy of another image (dataset.duplicates=drop)")
    return {"policy": policy, "groups": len(groups), "cross_subject_groups": len(cross),
            "dropped": sorted(dropped)}


def drop_samples(ds: Dataset, rels: set, why: str) -> None:
    """Leave the samples ``rels`` out; a subject then without a reference or a probe is excluded (a
    reference-only subject, :attr:`Dataset.reference_only`, only when it has no reference left)."""
    before = {s.subject: 0 for s in ds.references + ds.probes}
    for s in ds.references + ds.probes:
        before[s.subject] += 1
    ds.references = [s for s in ds.references if s.rel not in rels]
    ds.probes = [s for s in ds.probes if s.rel not in rels]
    ds.ignored += [{"path": r, "reason": why} for r in sorted(rels)]
    with_ref = {s.subject for s in ds.references}
    whole = (with_ref & {s.subject for s in ds.probes}) | (with_ref & ds.reference_only)
    lost = sorted(set(before) - whole)  # without a reference or without a probe now
    if lost:
        ds.restrict_subjects(whole)
        ds.excluded += [{"subject": s, "images": before[s], "reason": f"no reference or no probe left after "
                         f"dropping {why}"} for s in lost]
    elif ds.pairs is not None:  # pairs naming a dropped image go too
        ds.restrict_subjects(whole)


def content_digest(ds: Dataset, shas: dict) -> str:
    """One sha256 over the dataset's images as used (each sample's role, path and content sha256,
    sorted): two runs on the same images have the same digest (``fr-eval compare`` checks it)."""
    lines = sorted(f"{s.role}\t{s.rel}\t{shas.get(s.path) or ''}" for s in ds.references + ds.probes)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def near_duplicate_pairs(ref_emb: np.ndarray, ref_subject: np.ndarray, probe_emb: np.ndarray,
                         probe_subject: np.ndarray, threshold: float, budget_bytes: int = metrics.BLOCK_BYTES):
    """The cross-subject pairs whose score is at or above ``threshold``, found a block of the
    product at a time (the same blocked products as the impostor scores).

    Parameters
    ----------
    ref_emb, probe_emb : (n_ref, d), (n_probe, d) score vectors of acquired samples (rows whose dot
        products are the scores).
    ref_subject, probe_subject : (n_ref,), (n_probe,) subject indices.
    threshold : a similarity no impostor should reach (e.g. 0.95 for cosine).

    Returns
    -------
    pairs : (n, 2) int array of (reference index, probe index); scores : (n,) float64, in the same order.
    """
    out_pairs, out_scores = [], []
    row0 = 0
    for b in products(ref_emb, ref_subject, probe_emb, probe_subject, budget_bytes):
        r, c = b.cells_at_or_above(threshold)
        out_pairs.append(np.stack([row0 + r, c], axis=1))
        out_scores.append(b.scores[r, c].astype(np.float64))
        row0 += b.scores.shape[0]
    if not out_pairs:
        return np.zeros((0, 2), int), np.zeros(0)
    return np.concatenate(out_pairs), np.concatenate(out_scores)
