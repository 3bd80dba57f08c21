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
    impostor_rule: str  # "all" or "sample"
    impostor_total: int  # all cross-subject reference x probe pairs
    seed: int

    def summary(self) -> dict:
        return {"genuine": int(len(self.genuine)), "impostor": int(len(self.impostor)),
                "impostor_rule": self.impostor_rule,
                "impostor_pairs_available": self.impostor_total, "seed": self.seed}


def build_comparisons(ds: Dataset, impostors: str | int = "all", seed: int = 0) -> Comparisons:
    """Genuine: every probe x every reference of its subject.

    Impostor: every cross-subject reference x probe pair (``impostors="all"``), or a
    seeded uniform sample of ``N`` of them without replacement (``impostors=N``).
    """
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
