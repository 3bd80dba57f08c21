"""Which reference is compared with which probe (genuine and impostor comparisons)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .datasets.base import Dataset


@dataclass
class Comparisons:
    #: (n, 2) indices into ``dataset.references`` and ``dataset.probes``
    genuine: np.ndarray
    impostor: np.ndarray
    impostor_rule: str  # "all", "sample" or "protocol pairs"
    impostor_total: int  # all cross-subject reference x probe pairs (or the protocol's mismatched pairs)
    seed: int
    #: pairs protocols: the fold of each genuine / impostor comparison, and which impostor
    #: pairs fr-eval filled in (not the protocol's)
    genuine_folds: np.ndarray | None = None
    impostor_folds: np.ndarray | None = None
    impostor_filled: np.ndarray | None = None

    def summary(self) -> dict:
        out = {"genuine": int(len(self.genuine)), "impostor": int(len(self.impostor)),
               "impostor_rule": self.impostor_rule,
               "impostor_pairs_available": self.impostor_total, "seed": self.seed}
        if self.impostor_filled is not None:
            out["impostor_filled"] = int(self.impostor_filled.sum())
        return out


def build_comparisons(ds: Dataset, impostors: str | int = "all", seed: int = 0) -> Comparisons:
    """Genuine: every probe x every reference of its subject.

    Impostor: every cross-subject reference x probe pair (``impostors="all"``), or a
    seeded uniform sample of ``N`` of them without replacement (``impostors=N``).
    """
    if ds.pairs is not None:
        return _protocol_pairs(ds)
    ref_subj = np.array([s.subject for s in ds.references])
    probe_subj = np.array([s.subject for s in ds.probes])
    same = ref_subj[:, None] == probe_subj[None, :]  # (R, P)
    gen = np.argwhere(same)
    imp_all = np.argwhere(~same)
    total = len(imp_all)
    if impostors == "all":
        imp, rule = imp_all, "all"
    else:
        n = int(impostors)
        if n <= 0:
            raise ValueError("impostors must be 'all' or a positive integer")
        if n >= total:
            imp, rule = imp_all, "all"
        else:
            pick = np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))
            imp, rule = imp_all[pick], "sample"
    return Comparisons(genuine=gen.astype(np.int64), impostor=imp.astype(np.int64),
                       impostor_rule=rule, impostor_total=total, seed=seed)


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
