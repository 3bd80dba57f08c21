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

#: histogram of impostor scores: cosine similarities in [-1, 1], this many equal bins (scores a
#: rounding outside count in the end bins)
HIST_BINS = 1 << 16
HIST_RANGE = (-1.0, 1.0)
#: scores per chunk of a block in the moments and the histogram
CHUNK = 1 << 20
_EMPTY_F = np.zeros(0, np.float32)


def budget_rows(budget_bytes: int, n_cols: int, dim: int) -> int:
    """Rows of the reference side per block so that one block's float32 scores, its mask and the
    reference rows stay within ``budget_bytes``."""
    per_row = n_cols * (4 + 1 + 4) + dim * 4
    return max(1, int(budget_bytes // max(per_row, 1)))


@dataclass
class Block:
    """One block of scores: ``scores`` (references x probes, float32) and the cells in it that are
    not impostor comparisons (same subject), as (rows, cols) index arrays."""

    scores: np.ndarray
    excluded: tuple

    @property
    def size(self) -> int:
        return self.scores.size - len(self.excluded[0])

    def impostors(self) -> np.ndarray:
        """The block's impostor scores, row-major (a copy)."""
        keep = np.ones(self.scores.shape, bool)
        keep[self.excluded] = False
        return self.scores[keep]


def cross_subject_blocks(ref: np.ndarray, ref_subject: np.ndarray, probe: np.ndarray, probe_subject: np.ndarray,
                         *, ref_ok=None, probe_ok=None, budget_bytes: int = 256 << 20):
    """Yield blocks (:class:`Block`) holding the scores of every (reference, probe) pair of different
    subjects whose two samples were acquired, a block of references at a time. Failed samples are
    left out before the product; the same-subject cells of each block are named, not copied out.
    Embeddings are rows, L2-normalised by the caller (scores are dot products)."""
    ref, probe = np.ascontiguousarray(ref, np.float32), np.ascontiguousarray(probe, np.float32)
    ref_subject, probe_subject = np.asarray(ref_subject), np.asarray(probe_subject)
    if ref_ok is not None:
        ref, ref_subject = ref[np.asarray(ref_ok, bool)], ref_subject[np.asarray(ref_ok, bool)]
    if probe_ok is not None:
        probe, probe_subject = probe[np.asarray(probe_ok, bool)], probe_subject[np.asarray(probe_ok, bool)]
    columns = _columns_by_subject(probe_subject)
    step = budget_rows(budget_bytes, len(probe), ref.shape[1])
    probe_t = np.ascontiguousarray(probe.T)
    for start in range(0, len(ref), step):
        subjects = ref_subject[start:start + step]
        cols = [columns.get(sj, _EMPTY) for sj in subjects.tolist()]
        rows = np.repeat(np.arange(len(subjects)), [len(c) for c in cols])
        yield Block(ref[start:start + step] @ probe_t, (rows, np.concatenate(cols) if cols else _EMPTY))


_EMPTY = np.zeros(0, np.intp)


def _columns_by_subject(subjects: np.ndarray) -> dict:
    order = np.argsort(subjects, kind="stable")
    values, starts = np.unique(subjects[order], return_index=True)
    ends = np.r_[starts[1:], len(order)]
    return {v: order[a:b] for v, a, b in zip(values.tolist(), starts, ends)}


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
    top: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))
    hist: np.ndarray = field(default_factory=lambda: np.zeros(HIST_BINS, np.int64))
    _bound: float = -np.inf  # the k-th highest score so far (-inf until k are kept)
    _pending: list = field(default_factory=list)  # candidates for the tail not yet merged
    _waiting: int = 0

    def add(self, block) -> None:
        """Take a :class:`Block` or a 1-D array of impostor scores."""
        if isinstance(block, Block):
            scores, excluded = block.scores, block.excluded
        else:
            scores, excluded = np.asarray(block).ravel(), None
            if scores.dtype.kind != "f":
                scores = scores.astype(np.float64)
        ex = scores[excluded] if excluded is not None else _EMPTY_F
        n_b = scores.size - ex.size
        if n_b == 0:
            return
        if self.n + n_b > self.total:
            raise ValueError(f"more impostor scores than the {self.total} announced")
        flat = scores.reshape(-1)
        for lo in range(0, flat.size, CHUNK):  # chunks keep the float64 and index temporaries small
            self._chunk(flat[lo:lo + CHUNK])
        if ex.size:  # take the same-subject cells back out of what the chunks counted
            self._chunk(ex, sign=-1)
            if excluded is not None:
                scores[excluded] = -np.inf  # the block is ours (a fresh product): masked for the tail
        self._tail(flat)

    def _chunk(self, c: np.ndarray, sign: int = 1) -> None:
        if not np.isfinite(c).all():
            raise ValueError("impostor scores must be finite (failed samples are masked, not scored)")
        c64 = c.astype(np.float64)
        n_c, s1 = c64.size, float(c64.sum())
        mean_c = s1 / n_c
        d = c64 - mean_c
        m2_c = float(d @ d)
        if sign > 0:
            n = self.n + n_c
            delta = mean_c - self.mean
            self.mean += delta * n_c / n
            self.m2 += m2_c + delta * delta * self.n * n_c / n
            self.n = n
        else:  # the inverse of the merge: remove a part whose moments are known
            n = self.n - n_c
            mean = (self.mean * self.n - s1) / n if n else 0.0
            delta = mean_c - mean
            self.m2 -= m2_c + delta * delta * n * n_c / self.n
            self.mean, self.n = mean, n
        idx = ((c + np.float32(1.0)) * np.float32(HIST_BINS / 2)).astype(np.intp)
        np.clip(idx, 0, HIST_BINS, out=idx)
        h = np.bincount(idx, minlength=HIST_BINS + 1)
        h[HIST_BINS - 1] += h[HIST_BINS]  # a cosine a rounding above 1 counts in the top bin
        self.hist += sign * h[:HIST_BINS]

    def _tail(self, flat: np.ndarray) -> None:
        """Keep the scores that can still be among the k highest: those at or above the k-th
        highest kept so far (a lower bound of the final one). Candidates wait until they are as
        many as k before a partition trims them (a partition per block would cost k per block).
        Kept in the scores' own precision (float32 from the products: the same values)."""
        if self._bound > -np.inf:
            cand = flat[flat >= self._bound]
        else:
            cand = flat[np.isfinite(flat)] if flat.dtype.kind == "f" else flat
        self._pending.append(cand)
        self._waiting += cand.size
        if self._waiting > max(self.k_needed(), self.top.size):
            self._merge()

    def _merge(self) -> None:
        if not self._pending:
            return
        k = self.k_needed()
        parts = [self.top, *self._pending]
        dtype = np.result_type(*[p.dtype for p in parts if p.size]) if any(p.size for p in parts) else np.float32
        merged = np.concatenate([p.astype(dtype, copy=False) for p in parts])
        if merged.size > k:
            merged = np.partition(merged, merged.size - k)[merged.size - k:]
            self._bound = float(merged.min())
        self.top, self._pending, self._waiting = merged, [], 0

    def merge(self, other: "ImpostorSummary") -> "ImpostorSummary":
        """Fold in the summary of another part of the same stream (another range of blocks, summed
        elsewhere: a Ray task); the result is what one pass over both parts gives."""
        if (other.total, other.max_fmr) != (self.total, self.max_fmr):
            raise ValueError("summaries of different streams (total or max_fmr differ) cannot be merged")
        if other.n == 0:
            return self
        if self.n + other.n > self.total:
            raise ValueError(f"more impostor scores than the {self.total} announced")
        n = self.n + other.n
        delta = other.mean - self.mean
        self.mean += delta * other.n / n
        self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.n = n
        self.hist += other.hist
        self._pending += [other.top, *other._pending]
        self._merge()
        return self

    def k_needed(self) -> int:
        """How many of the highest scores the largest target needs (the false matches it allows,
        +1 for the score just below the qualifying ones)."""
        return int(math.floor(self.max_fmr * self.total + 1e-9)) + 1

    def _complete(self) -> None:
        if self.n != self.total:
            raise ValueError(f"the stream is incomplete: {self.n} of {self.total} impostor scores")
        self._merge()

    # -- the figures ----------------------------------------------------------------------------
    def threshold(self, fmr: float) -> float:
        """:func:`fr_eval.metrics.threshold_at_fmr` on all the scores seen, exactly."""
        if self.n == 0:
            raise ValueError("no impostor scores: a threshold at a target FMR needs impostors")
        self._complete()
        if fmr > self.max_fmr + 1e-15:
            raise ValueError(f"fmr={fmr} is above the summary's max_fmr={self.max_fmr}: its tail is too short")
        allowed = int(math.floor(fmr * self.n + 1e-9))
        values, counts = np.unique(self.top.astype(np.float64), return_counts=True)  # as the in-memory path
        n_at_or_above = np.cumsum(counts[::-1])[::-1]
        ok = np.nonzero(n_at_or_above <= allowed)[0]
        if ok.size == 0:
            return float(np.nextafter(values[-1], np.inf))
        return float(values[ok[0]])

    def count_at_or_above(self, t: float) -> int:
        """Impostors scoring >= t, exactly when t is above the kept tail's lowest score."""
        self._complete()
        if (self.top.size and t > float(self.top.min())) or self.top.size == self.n:
            return int((self.top.astype(np.float64) >= t).sum())  # float64: t may lie between float32s
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

    def det_points(self, genuine) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(thresholds, FMR, FNMR) at every histogram edge whose FMR the histogram gives, plus every
        distinct score of the kept tail, where the FMR is exact; ascending thresholds. FNMR is exact
        everywhere (the genuine scores are all kept)."""
        self._complete()
        gen = np.sort(np.asarray(genuine, np.float64))
        edges = np.linspace(HIST_RANGE[0], HIST_RANGE[1], HIST_BINS + 1)[:-1]
        at_or_above = np.cumsum(self.hist[::-1])[::-1]  # impostors in bins >= i
        tail = np.unique(self.top.astype(np.float64))
        if self.top.size < self.n:  # the tail's lowest score may have ties outside it: not exact there
            tail = tail[1:]
        lowest = float(tail[0]) if tail.size else np.inf
        keep = edges < lowest  # from the tail's scores up, the tail itself is exact
        t = np.r_[edges[keep], tail]
        top = np.sort(self.top.astype(np.float64))
        fmr = np.r_[at_or_above[keep] / self.n, (top.size - np.searchsorted(top, tail, side="left")) / self.n]
        fnmr = np.searchsorted(gen, t, side="left") / gen.size if gen.size else np.full(t.size, np.nan)
        return t, fmr, fnmr

    def eer(self, genuine) -> tuple[float, float]:
        """(EER, its bound): where FNMR and FMR cross on :meth:`det_points`, interpolated linearly
        between the two bracketing points; the bound is how much either rate changes between them
        (the in-memory EER lies within it)."""
        t, fmr, fnmr = self.det_points(genuine)
        diff = fnmr - fmr  # increasing with the threshold
        i = int(np.searchsorted(diff, 0.0, side="left"))
        if i == 0 or i == diff.size:
            j = min(max(i, 0), diff.size - 1)
            return float((fmr[j] + fnmr[j]) / 2), float(abs(fmr[j] - fnmr[j]))
        w = -diff[i - 1] / (diff[i] - diff[i - 1])
        e = float(fmr[i - 1] + w * (fmr[i] - fmr[i - 1]))
        return e, float(max(fmr[i - 1] - fmr[i], fnmr[i] - fnmr[i - 1]))

    @property
    def resolution(self) -> float:
        """Width of one histogram bin (the EER's and the DET's resolution away from the tail)."""
        return (HIST_RANGE[1] - HIST_RANGE[0]) / HIST_BINS


def summarise(blocks, total: int, max_fmr: float = 0.01) -> ImpostorSummary:
    s = ImpostorSummary(total=total, max_fmr=max_fmr)
    for b in blocks:
        s.add(b)
    return s


def summarise_cross_subject(ref, ref_subject, probe, probe_subject, *, ref_ok=None, probe_ok=None,
                            max_fmr: float = 0.01, budget_bytes: int = 256 << 20, executor: str = "local",
                            tasks: int | None = None) -> ImpostorSummary:
    """The summary of every cross-subject impostor score, computed here (``executor="local"``) or
    as Ray tasks over ranges of references, merged on the driver (``"ray"``: Ray must be started;
    the probe side goes into the object store once). Both give the same figures."""
    ref, ref_subject = np.asarray(ref, np.float32), np.asarray(ref_subject)
    probe, probe_subject = np.asarray(probe, np.float32), np.asarray(probe_subject)
    if ref_ok is not None:
        ref, ref_subject = ref[np.asarray(ref_ok, bool)], ref_subject[np.asarray(ref_ok, bool)]
    if probe_ok is not None:
        probe, probe_subject = probe[np.asarray(probe_ok, bool)], probe_subject[np.asarray(probe_ok, bool)]
    total = count_cross_subject(ref_subject, probe_subject)
    if executor == "local":
        return summarise(cross_subject_blocks(ref, ref_subject, probe, probe_subject, budget_bytes=budget_bytes),
                         total, max_fmr)
    if executor != "ray":
        raise ValueError(f"executor={executor}: choose local or ray")
    import ray

    n_tasks = tasks or max(1, int(ray.cluster_resources().get("CPU", 1)))
    task = ray.remote(_summarise_part)
    probe_ref = ray.put((probe, probe_subject))
    parts = [task.remote(ref[idx], ref_subject[idx], probe_ref, total, max_fmr, budget_bytes)
             for idx in np.array_split(np.arange(len(ref)), n_tasks) if len(idx)]
    out = ImpostorSummary(total=total, max_fmr=max_fmr)
    for part in parts:  # merged in the tasks' order: the same result whatever order they finish in
        out.merge(ray.get(part))
    return out


def _summarise_part(ref, ref_subject, probe_side, total, max_fmr, budget_bytes) -> ImpostorSummary:
    probe, probe_subject = probe_side
    s = ImpostorSummary(total=total, max_fmr=max_fmr)
    for b in cross_subject_blocks(ref, ref_subject, probe, probe_subject, budget_bytes=budget_bytes):
        s.add(b)
    s._merge()
    return s


__all__ = ["ImpostorSummary", "budget_rows", "count_cross_subject", "cross_subject_blocks", "summarise",
           "summarise_cross_subject"]
