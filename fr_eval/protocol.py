"""Which reference is compared with which probe (genuine and impostor comparisons)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .datasets.base import Dataset
from .streaming import columns_by_subject


@dataclass
class Comparisons:
    #: (n, 2) indices into ``dataset.references`` and ``dataset.probes``
    genuine: np.ndarray
    #: (n, 2) impostor pairs of a sample or a pairs protocol; None for "all": every cross-subject
    #: pair, scored as blocks of a matrix product (:mod:`fr_eval.streaming`), never listed
    impostor: np.ndarray | None
    impostor_rule: str  # "all", "sample" or "protocol pairs"
    impostor_total: int  # all cross-subject reference x probe pairs (or the protocol's mismatched pairs)
    seed: int
    #: pairs protocols: the fold of each genuine / impostor comparison, and which impostor
    #: pairs fr-eval filled in (not the protocol's)
    genuine_folds: np.ndarray | None = None
    impostor_folds: np.ndarray | None = None
    impostor_filled: np.ndarray | None = None

    @property
    def n_impostor(self) -> int:
        return self.impostor_total if self.impostor is None else int(len(self.impostor))

    def summary(self) -> dict:
        out = {"genuine": int(len(self.genuine)), "impostor": self.n_impostor,
               "impostor_rule": self.impostor_rule,
               "impostor_pairs_available": self.impostor_total, "seed": self.seed}
        if self.impostor_filled is not None:
            out["impostor_filled"] = int(self.impostor_filled.sum())
        return out


def build_comparisons(ds: Dataset, impostors: str | int = "all", seed: int = 0) -> Comparisons:
    """Genuine: every probe x every reference of its subject, reference-major.

    Impostor: every cross-subject reference x probe pair (``impostors="all"``: not listed, see
    :class:`Comparisons`), or a seeded uniform sample of ``N`` of them without replacement
    (``impostors=N``: the draw's positions in the reference-major order of all cross-subject pairs,
    found without listing them). Memory grows with references + probes, not their product.
    """
    if ds.pairs is not None:
        return _protocol_pairs(ds)
    ref_subj = np.array([s.subject for s in ds.references])
    probe_subj = np.array([s.subject for s in ds.probes])
    same, cross = same_subject(ref_subj, probe_subj)
    gen = np.stack([np.repeat(np.arange(len(ref_subj)), [len(c) for c in same]),
                    np.concatenate(same) if same else _NONE], axis=1).astype(np.int64)
    total = int(cross.sum())
    if impostors == "all":
        return Comparisons(genuine=gen, impostor=None, impostor_rule="all", impostor_total=total, seed=seed)
    n = int(impostors)
    if n <= 0:
        raise ValueError("impostors must be 'all' or a positive integer")
    if n >= total:
        return Comparisons(genuine=gen, impostor=None, impostor_rule="all", impostor_total=total, seed=seed)
    imp = sample_cross_subject(ref_subj, probe_subj, n, seed)
    return Comparisons(genuine=gen, impostor=imp, impostor_rule="sample", impostor_total=total, seed=seed)


_NONE = np.zeros(0, np.int64)


def same_subject(ref_subject: np.ndarray, probe_subject: np.ndarray) -> tuple[list, np.ndarray]:
    """Per reference: the probes of its subject (ascending) and how many probes are of another."""
    cols = columns_by_subject(np.asarray(probe_subject))
    same = [cols.get(sj, _NONE) for sj in np.asarray(ref_subject).tolist()]
    return same, len(probe_subject) - np.array([len(c) for c in same], dtype=np.int64)


def sample_cross_subject(ref_subject: np.ndarray, probe_subject: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A seeded uniform sample of ``n`` cross-subject (reference, probe) pairs without replacement,
    in reference-major order: the draw's positions among all of them, found without listing them."""
    same, cross = same_subject(ref_subject, probe_subject)
    pick = np.sort(np.random.default_rng(seed).choice(int(cross.sum()), size=n, replace=False))
    return _nth_cross_subject(pick, cross, same)


def _nth_cross_subject(q: np.ndarray, cross: np.ndarray, same: list) -> np.ndarray:
    """The (reference, probe) pairs at positions ``q`` (ascending) of the reference-major list of
    cross-subject pairs: row r holds the probes not in ``same[r]``, ascending."""
    ends = np.cumsum(cross)
    rows = np.searchsorted(ends, q, side="right")
    within = q - (ends[rows] - cross[rows])
    probes = np.empty(q.size, np.int64)
    for r in np.unique(rows).tolist():
        m = rows == r
        own = np.sort(same[r])
        # the w-th probe not in `own`: w plus the number of own probes at or before it
        probes[m] = within[m] + np.searchsorted(own - np.arange(own.size), within[m], side="right")
    return np.stack([rows, probes], axis=1).astype(np.int64)


def _protocol_pairs(ds: Dataset) -> Comparisons:
    """The comparisons a pairs protocol prescribes: matched pairs are genuine, mismatched impostor."""
    ri = {s.rel: i for i, s in enumerate(ds.references)}
    pi = {s.rel: i for i, s in enumerate(ds.probes)}
    idx = np.array([(ri[p.rel1], pi[p.rel2]) for p in ds.pairs], dtype=np.int64).reshape(-1, 2)
    same = np.array([p.same for p in ds.pairs], dtype=bool)
    folds = np.array([p.fold for p in ds.pairs], dtype=np.int64)
    filled = np.array([p.origin == "filled" for p in ds.pairs], dtype=bool)
    return Comparisons(genuine=idx[same], impostor=idx[~same], impostor_rule="protocol pairs",
                       impostor_total=int((~same).sum()), seed=0, genuine_folds=folds[same],
                       impostor_folds=folds[~same], impostor_filled=filled[~same])
