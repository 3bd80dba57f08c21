"""Impostor scores as a stream of blocks: exact operating points without holding every score.

:func:`cross_subject_blocks` scores every cross-subject (reference, probe) pair as blocked float32
matrix products, masking the genuine cells and failed samples, in blocks sized from a memory
budget. :class:`ImpostorSummary` consumes any stream of impostor blocks and keeps, in bounded
memory:

* the highest ``floor(max_fmr * N) + 1`` scores (a partition per block, merged), from which the
  threshold at each FMR target is exactly :func:`fr_eval.metrics.threshold_at_fmr`'s on all the
  scores (every qualifying threshold lies above the kept tail's lowest score, so every count it
  needs is inside the tail), and so is the achieved FMR;
* the count, mean and sum of squared deviations in float64, merged block by block with Chan et
  al.'s pairwise update (stable where a running sum of squares is not), for d';
* a fixed-bin histogram of the scores for the EER and the DET curve away from the tail.

Written here rather than taken from a library: no streaming quantile library gives an exact,
conservative order statistic, and the merge is a few lines of NumPy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: histogram of impostor scores: cosine similarities in [-1, 1], this many equal bins
HIST_BINS = 1 << 16
HIST_RANGE = (-1.0, 1.0)


def budget_rows(budget_bytes: int, n_cols: int, dim: int) -> int:
    """Rows of the reference side per block so that one block's float32 scores, its mask and the
    reference rows stay within ``budget_bytes``."""
    per_row = n_cols * (4 + 1 + 4) + dim * 4
    return max(1, int(budget_bytes // max(per_row, 1)))


def cross_subject_blocks(ref: np.ndarray, ref_subject: np.ndarray, probe: np.ndarray, probe_subject: np.ndarray,
                         *, ref_ok=None, probe_ok=None, budget_bytes: int = 256 << 20):
    """Yield the impostor scores of every (reference, probe) pair of different subjects whose two
    samples were acquired, as 1-D float32 arrays, one per block of references (row-major order
    within a block). Embeddings are rows, L2-normalised by the caller (scores are dot products)."""
    ref, probe = np.ascontiguousarray(ref, np.float32), np.ascontiguousarray(probe, np.float32)
    ref_subject, probe_subject = np.asarray(ref_subject), np.asarray(probe_subject)
    ref_ok = np.ones(len(ref), bool) if ref_ok is None else np.asarray(ref_ok, bool)
    probe_ok = np.ones(len(probe), bool) if probe_ok is None else np.asarray(probe_ok, bool)
    probe, probe_subject = probe[probe_ok], probe_subject[probe_ok]
    keep = np.nonzero(ref_ok)[0]
    step = budget_rows(budget_bytes, len(probe), ref.shape[1] if ref.ndim == 2 else 0)
    probe_t = np.ascontiguousarray(probe.T)
    for start in range(0, len(keep), step):
        rows = keep[start:start + step]
        scores = ref[rows] @ probe_t
        yield scores[ref_subject[rows][:, None] != probe_subject[None, :]]


def count_cross_subject(ref_subject, probe_subject, ref_ok=None, probe_ok=None) -> int:
    """How many scores :func:`cross_subject_blocks` yields: acquired reference x acquired probe
    pairs of different subjects (all pairs minus the same-subject ones), without scoring them."""
    ref_subject, probe_subject = np.asarray(ref_subject), np.asarray(probe_subject)
    if ref_ok is not None:
        ref_subject = ref_subject[np.asarray(ref_ok, bool)]
    if probe_ok is not None:
        probe_subject = probe_subject[np.asarray(probe_ok, bool)]
    subjects, r = np.unique(ref_subject, return_counts=True)
    p = dict(zip(*np.unique(probe_subject, return_counts=True)))
    same = sum(int(c) * int(p.get(s, 0)) for s, c in zip(subjects, r))
    return int(ref_subject.size) * int(probe_subject.size) - same


@dataclass
class ImpostorSummary:
    """What the operating points, d', the EER and the DET need of the impostor scores, kept in
    bounded memory as blocks arrive (see the module's docstring).

    ``total``: how many scores the stream will hold (the tail's length depends on it: a score
    dropped early could be needed once more scores have come). ``max_fmr``: the largest target."""

    total: int
    max_fmr: float = 0.01
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    top: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))
    hist: np.ndarray = field(default_factory=lambda: np.zeros(HIST_BINS, np.int64))
    outside: int = 0  # scores outside HIST_RANGE (counted, not binned)

    def add(self, block) -> None:
        b = np.asarray(block, np.float64).ravel()
        if b.size == 0:
            return
        if self.n + b.size > self.total:
            raise ValueError(f"more impostor scores than the {self.total} announced")
        if not np.isfinite(b).all():
            raise ValueError("impostor scores must be finite (failed samples are masked, not scored)")
        self._moments(b)
        self._tail(b)
        h, _ = np.histogram(b, bins=HIST_BINS, range=HIST_RANGE)
        self.hist += h
        self.outside += int(b.size - h.sum())

    def _moments(self, b: np.ndarray) -> None:
        n_b, mean_b = b.size, float(b.mean())
        m2_b = float(((b - mean_b) ** 2).sum())
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n

    def _tail(self, b: np.ndarray) -> None:
        k = self.k_needed()
        merged = np.concatenate([self.top, b])
        if merged.size > k:
            merged = np.partition(merged, merged.size - k)[merged.size - k:]
        self.top = merged

    def k_needed(self) -> int:
        """How many of the highest scores the largest target needs (the false matches it allows,
        +1 for the score just below the qualifying ones)."""
        return int(math.floor(self.max_fmr * self.total + 1e-9)) + 1

    def _complete(self) -> None:
        if self.n != self.total:
            raise ValueError(f"the stream is incomplete: {self.n} of {self.total} impostor scores")

    # -- the figures ----------------------------------------------------------------------------
    def threshold(self, fmr: float) -> float:
        """:func:`fr_eval.metrics.threshold_at_fmr` on all the scores seen, exactly."""
        if self.n == 0:
            raise ValueError("no impostor scores: a threshold at a target FMR needs impostors")
        self._complete()
        if fmr > self.max_fmr + 1e-15:
            raise ValueError(f"fmr={fmr} is above the summary's max_fmr={self.max_fmr}: its tail is too short")
        allowed = int(math.floor(fmr * self.n + 1e-9))
        values, counts = np.unique(self.top, return_counts=True)
        n_at_or_above = np.cumsum(counts[::-1])[::-1]
        ok = np.nonzero(n_at_or_above <= allowed)[0]
        if ok.size == 0:
            return float(np.nextafter(values[-1], np.inf))
        return float(values[ok[0]])

    def count_at_or_above(self, t: float) -> int:
        """Impostors scoring >= t, exactly when t is above the kept tail's lowest score."""
        self._complete()
        if (self.top.size and t > self.top.min()) or self.top.size == self.n:
            return int((self.top >= t).sum())
        raise ValueError("a count below the kept tail needs the histogram (approximate)")

    def fmr_at(self, t: float) -> float:
        return self.count_at_or_above(t) / self.n

    @property
    def var(self) -> float:
        return self.m2 / self.n if self.n else float("nan")

    def d_prime(self, genuine) -> float:
        """:func:`fr_eval.metrics.d_prime` with the impostor side from the merged moments."""
        gen = np.asarray(genuine, np.float64)
        if gen.size == 0 or self.n == 0:
            return float("nan")
        pooled = math.sqrt((gen.var() + self.var) / 2.0)
        if pooled == 0:
            return float("inf") if gen.mean() != self.mean else float("nan")
        return abs(float(gen.mean()) - self.mean) / pooled

    @property
    def resolution(self) -> float:
        """Width of one histogram bin (the EER's and the DET's resolution away from the tail)."""
        return (HIST_RANGE[1] - HIST_RANGE[0]) / HIST_BINS


def summarise(blocks, total: int, max_fmr: float = 0.01) -> ImpostorSummary:
    s = ImpostorSummary(total=total, max_fmr=max_fmr)
    for b in blocks:
        s.add(b)
    return s


__all__ = ["ImpostorSummary", "budget_rows", "count_cross_subject", "cross_subject_blocks", "summarise"]
