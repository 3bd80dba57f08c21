"""Impostor scores as a stream of blocks: exact operating points without holding every score.

:func:`cross_subject_blocks` scores every cross-subject (reference, probe) pair as blocked float32
matrix products, masking the genuine cells and failed samples, in blocks sized from a memory
budget (:func:`products`: the same blocks for the figures and the score export). :class:`ImpostorSummary`
consumes any stream of impostor blocks and keeps, in bounded memory:

* the highest ``floor(max_fmr * N) + 1`` scores (candidates at or above the running k-th highest,
  trimmed by an in-place partition), from which the threshold at each FMR target is exactly
  :func:`fr_eval.metrics.threshold_at_fmr`'s on all the scores (every qualifying threshold lies
  above the kept tail's lowest score, so every count it needs is inside the tail), and so is the
  achieved FMR;
* the count, mean and sum of squared deviations in float64 (per block part, about a shift), merged
  with Chan et al.'s pairwise update (stable where a running sum of squares is not), for d';
* a fixed-bin histogram of the scores for the EER and the DET curve away from the tail.

The per-score work is one compiled pass (:mod:`fr_eval._scan`), a block's parts on every CPU. A
stream of at most ``keep_all`` scores is kept whole instead, and every figure is then computed on
the scores themselves.

Written here rather than taken from a library: no streaming quantile library gives an exact,
conservative order statistic, and the merge is a few lines of NumPy.
"""
from __future__ import annotations

import collections
import contextlib
import contextvars
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from . import metrics
from ._scan import scan

#: histogram of impostor scores: cosine similarities in [-1, 1], this many equal bins (scores a
#: rounding outside count in the end bins)
HIST_BINS = 1 << 16
HIST_RANGE = (-1.0, 1.0)
#: the scan's buffer of candidate tail scores (scores)
OUT_CHUNK = 1 << 20
_EMPTY_F = np.zeros(0, np.float32)

#: scores made by matrix products in this process, by what they were made for (``cross_subject``: the
#: blocked impostor products; :mod:`fr_eval.identification` adds its searches'). A run reports the
#: difference across its stages (:func:`products_made`), so that a second pass over the same products
#: shows as a count, not as a guess.
PRODUCTS: collections.Counter = collections.Counter()
_PRODUCTS_LOCK = threading.Lock()
#: the counter of the run under way in this context (:func:`products_counted`): two runs in one process, on
#: two threads, each count their own products (a difference of :data:`PRODUCTS` would mix them)
_RUN_PRODUCTS: contextvars.ContextVar = contextvars.ContextVar("fr_eval_run_products", default=None)


def count_products(kind: str, n: int) -> None:
    """Add ``n`` scores made by a matrix product for ``kind`` to :data:`PRODUCTS`.

    Parameters
    ----------
    kind : str
        What the product was for (``cross_subject``, ``identification``).
    n : int
        Scores made (cells of the product).

    Returns
    -------
    None
    """
    with _PRODUCTS_LOCK:
        PRODUCTS[kind] += int(n)
        run = _RUN_PRODUCTS.get()
        if run is not None:
            run[kind] += int(n)


@contextlib.contextmanager
def products_counted():
    """Count, in a counter of their own, the products made in this context (this thread, or a task that
    copies its context) while the block runs: a run's exact count even with another run beside it in the
    process. Products made in worker threads are counted by the thread that hands them out.

    Parameters
    ----------
    None

    Returns
    -------
    context manager yielding collections.Counter
        kind -> scores made inside the block.
    """
    counter = collections.Counter()
    token = _RUN_PRODUCTS.set(counter)
    try:
        yield counter
    finally:
        _RUN_PRODUCTS.reset(token)


def products_made(since: dict) -> dict:
    """The scores made since ``since`` (a copy of :data:`PRODUCTS` taken before), by kind.

    Parameters
    ----------
    since : dict
        ``dict(PRODUCTS)`` taken before the work counted.

    Returns
    -------
    dict
        kind -> scores made since (kinds with none left out).
    """
    with _PRODUCTS_LOCK:
        return {k: int(v - since.get(k, 0)) for k, v in PRODUCTS.items() if v - since.get(k, 0)}


def budget_rows(budget_bytes: int, n_cols: int, dim: int) -> int:
    """Rows of the reference side per block so that one block's float32 scores, its mask and the
    reference rows stay within ``budget_bytes``.

    Parameters
    ----------
    budget_bytes : int
        Memory for one block.
    n_cols : int
        Probes (the block's columns).
    dim : int
        The embeddings' length.

    Returns
    -------
    int
        References per block (at least 1).
    """
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

    def keep_mask(self) -> np.ndarray:
        """True at the block's impostor cells (False at the same-subject ones)."""
        keep = np.ones(self.scores.shape, bool)
        keep[self.excluded] = False
        return keep

    def impostors(self) -> np.ndarray:
        """The block's impostor scores, row-major (a copy)."""
        return self.scores[self.keep_mask()]

    def cells_at_or_above(self, threshold: float) -> tuple:
        """(rows, cols) of the block's impostor cells scoring at or above ``threshold``, row-major (the
        same-subject cells never, NaN-masked or not): the false matches at a threshold, the near-duplicates."""
        hit = self.scores >= threshold
        hit[self.excluded] = False
        return np.nonzero(hit)


def acquired(ok, *arrays) -> tuple:
    """``arrays`` restricted to the acquired samples (``ok``; None: all of them).

    Parameters
    ----------
    ok : (n,) array of bool or None
        Which samples were acquired (None: all).
    *arrays : (n, ...) arrays
        Arrays with one row per sample.

    Returns
    -------
    tuple of arrays
        The arrays restricted to the acquired samples.
    """
    if ok is None:
        return arrays
    keep = np.asarray(ok, bool)
    return tuple(a[keep] for a in arrays)


def cross_subject_blocks(ref: np.ndarray, ref_subject: np.ndarray, probe: np.ndarray, probe_subject: np.ndarray,
                         *, ref_ok=None, probe_ok=None, budget_bytes: int = metrics.BLOCK_BYTES, reuse: bool = False,
                         threads: int = 1):
    """Yield blocks (:class:`Block`) holding the scores of every (reference, probe) pair of different
    subjects whose two samples were acquired, a block of references at a time. Failed samples are
    left out before the product; the same-subject cells of each block are named, not copied out.
    Embeddings are rows, L2-normalised by the caller (scores are dot products). ``reuse``: every
    block is written into one buffer (no fresh pages per block: faster), so a block is valid only
    until the next one is asked for. ``threads``: each product is computed in this many row slices
    side by side (call it with BLAS limited to one thread, as :func:`summarise_cross_subject` does:
    BLAS's own threads spin after each product and slow the scan that follows).

    Parameters
    ----------
    ref : (n_ref, d) array
        Reference score vectors (rows whose dot products are the scores).
    ref_subject : (n_ref,) array
        Each reference's subject.
    probe : (n_probe, d) array
        Probe score vectors.
    probe_subject : (n_probe,) array
        Each probe's subject.
    ref_ok, probe_ok : arrays of bool, or None
        Which samples were acquired.
    budget_bytes : int
        Memory for one block.
    reuse : bool
        One buffer for every block (a block is valid until the next).
    threads : int
        Row slices computed side by side.

    Returns
    -------
    iterator of Block
        Each block's scores (references x probes, float32) and its same-subject cells.
    """
    ref, probe = np.ascontiguousarray(ref, np.float32), np.ascontiguousarray(probe, np.float32)
    ref_subject, probe_subject = np.asarray(ref_subject), np.asarray(probe_subject)
    ref, ref_subject = acquired(ref_ok, ref, ref_subject)
    probe, probe_subject = acquired(probe_ok, probe, probe_subject)
    columns = columns_by_subject(probe_subject)
    step = budget_rows(budget_bytes, len(probe), ref.shape[1])
    probe_t = np.ascontiguousarray(probe.T)
    buf = np.empty((min(step, len(ref)), len(probe)), np.float32) if reuse else None
    for start in range(0, len(ref), step):
        subjects = ref_subject[start:start + step]
        cols = [columns.get(sj, _EMPTY) for sj in subjects.tolist()]
        rows = np.repeat(np.arange(len(subjects)), [len(c) for c in cols])
        block = ref[start:start + step]
        scores = np.empty((len(block), len(probe)), np.float32) if buf is None else buf[:len(block)]
        _products(block, probe_t, scores, threads)
        count_products("cross_subject", scores.size)
        yield Block(scores, (rows, np.concatenate(cols) if cols else _EMPTY))


def products(ref, ref_subject, probe, probe_subject, budget_bytes: int):
    """:func:`cross_subject_blocks` as the summary and the score export both run it (one buffer,
    every CPU, BLAS at one thread per slice), so both see the same float32 products, bit for bit.
    Samples are the acquired ones (the caller leaves failed ones out).

    Parameters
    ----------
    ref, ref_subject, probe, probe_subject
        As :func:`cross_subject_blocks`, acquired samples only.
    budget_bytes : int
        Memory for one block.

    Returns
    -------
    iterator of Block
    """
    with threadpool_limits(limits=1, user_api="blas"):
        yield from cross_subject_blocks(ref, ref_subject, probe, probe_subject, budget_bytes=budget_bytes,
                                        reuse=True, threads=_cpus())


def _products(block: np.ndarray, probe_t: np.ndarray, out: np.ndarray, threads: int) -> None:
    if threads <= 1 or len(block) < 2 * threads:
        np.matmul(block, probe_t, out=out)
        return
    cuts = np.linspace(0, len(block), threads + 1).astype(int)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda ab: np.matmul(block[ab[0]:ab[1]], probe_t, out=out[ab[0]:ab[1]]),
                      zip(cuts[:-1], cuts[1:])))


_EMPTY = np.zeros(0, np.intp)


def columns_by_subject(subjects: np.ndarray) -> dict:
    """subject -> the indices of its entries, ascending.

    Parameters
    ----------
    subjects : (n,) array
        Each probe's subject.

    Returns
    -------
    dict
        subject -> the column indices of its probes.
    """
    order = np.argsort(subjects, kind="stable")
    values, starts = np.unique(subjects[order], return_index=True)
    ends = np.r_[starts[1:], len(order)]
    return {v: order[a:b] for v, a, b in zip(values.tolist(), starts, ends)}


def count_cross_subject(ref_subject, probe_subject, ref_ok=None, probe_ok=None) -> int:
    """How many scores :func:`cross_subject_blocks` yields: acquired reference x acquired probe
    pairs of different subjects (all pairs minus the same-subject ones), without scoring them.

    Parameters
    ----------
    ref_subject : (n_ref,) array
        Each reference's subject.
    probe_subject : (n_probe,) array
        Each probe's subject.
    ref_ok, probe_ok : (n_ref,), (n_probe,) arrays of bool, or None
        Which samples were acquired (None: all).

    Returns
    -------
    int
        The cross-subject (impostor) pairs of acquired samples.
    """
    ref_subject, probe_subject = np.asarray(ref_subject), np.asarray(probe_subject)
    (ref_subject,), (probe_subject,) = acquired(ref_ok, ref_subject), acquired(probe_ok, probe_subject)
    subjects, r = np.unique(ref_subject, return_counts=True)
    p = dict(zip(*np.unique(probe_subject, return_counts=True)))
    same = sum(int(c) * int(p.get(s, 0)) for s, c in zip(subjects, r))
    return int(ref_subject.size) * int(probe_subject.size) - same


class _Tail:
    """The ``k`` highest scores of a stream, kept as they come: those at or above the k-th highest
    kept so far (a lower bound of the final one: a score below it can never be among the k highest).
    Candidates are appended to one buffer of up to 2k scores; when it is full, an in-place partition
    keeps the k highest at its front (a partition per block would cost k per block, and fresh arrays
    cost page faults). Kept in the scores' own precision (float32 from the products); arrival order
    is kept until the first trim (a stream kept whole is never trimmed)."""

    def __init__(self, k: int, bound: float = -np.inf):
        self.k, self.bound = k, bound
        self.buf, self.used = _EMPTY_F, 0

    def __getstate__(self):  # travels (Ray) without its spare capacity
        return {"k": self.k, "bound": self.bound, "buf": self.buf[:self.used].copy(), "used": self.used}

    def offer(self, values: np.ndarray) -> None:
        cand = values[values >= self.bound] if self.bound > -np.inf else values
        if cand.size > self.k:  # only their k highest can stay: one partition now, not a trim per buffer-full
            cut = cand.size - self.k  # (ascending input, an imported sorted score file, made that quadratic)
            cand = np.partition(cand, cut)[cut:]
        while cand.size:
            if self.used == self.buf.size:
                self._make_room(cand)
            take = min(cand.size, self.buf.size - self.used)
            self.buf[self.used:self.used + take] = cand[:take]
            self.used += take
            cand = cand[take:]
            if cand.size and self.bound > -np.inf:
                cand = cand[cand >= self.bound]

    def _make_room(self, cand: np.ndarray) -> None:
        if self.used > self.k:
            self._trim()
            return
        dtype = np.result_type(self.buf.dtype, cand.dtype) if self.used else cand.dtype
        cap = min(max(2 * self.buf.size, 2 * cand.size, 1 << 16), max(2 * self.k, 1))
        grown = np.empty(max(cap, self.used + 1), dtype)
        grown[:self.used] = self.buf[:self.used]
        self.buf = grown

    def _trim(self) -> None:
        cut = self.used - self.k
        region = self.buf[:self.used]
        region.partition(cut)  # in place: region[cut] is the lowest of the k highest
        self.bound = float(region[cut])
        self.buf[:self.k] = region[cut:]
        self.used = self.k

    def values(self) -> np.ndarray:
        if self.used > self.k:
            self._trim()
        return self.buf[:self.used]


@dataclass
class ImpostorSummary:
    """What the operating points, d', the EER and the DET need of the impostor scores, kept in
    bounded memory as blocks arrive (see the module's docstring).

    ``total``: how many scores the stream will hold (the tail's length depends on it: a score
    dropped early could be needed once more scores have come). ``max_fmr``: the largest target.
    ``keep_all``: a stream of at most this many scores is kept whole (:attr:`exact`): every figure,
    the EER and the DET included, is then computed on the scores themselves. ``threads``: a large
    block is scanned in this many parts side by side (default: the CPUs this process may use)."""

    total: int
    max_fmr: float = metrics.MAX_FMR
    keep_all: int = 0
    threads: int | None = None
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(HIST_BINS, np.int64))
    _tail: _Tail | None = None
    _sorted: np.ndarray | None = field(default=None, repr=False)  # the kept scores, ascending, float64
    _floor: float = -np.inf  # the highest bound a scan of a block used (see :attr:`floor`)

    def __post_init__(self):
        if self._tail is None:
            self._tail = _Tail(self.k_needed())

    @classmethod
    def of(cls, scores, max_fmr: float = metrics.MAX_FMR) -> "ImpostorSummary":
        """Every score of an array, kept whole (exact)."""
        a = np.asarray(scores).ravel()
        s = cls(total=a.size, max_fmr=max_fmr, keep_all=a.size)
        s.add(a)
        return s

    @classmethod
    def from_parts(cls, n: int, mean: float, m2: float, hist, tail, histogram_range=HIST_RANGE) -> "ImpostorSummary":
        """A streamed summary rebuilt from what a report's ``scores.npz`` keeps of it: the count, mean
        and sum of squared deviations, the histogram and the ascending tail (``<row>|impostor_moments``,
        ``_histogram``, ``_tail``); its DET, FMRs and d' are the run's own. The tail's length gives the
        largest FMR it serves, (len - 1) / n."""
        n, tail = int(n), np.asarray(tail, np.float64)
        hist = np.asarray(hist, np.int64)
        if hist.shape != (HIST_BINS,) or tuple(map(float, histogram_range)) != HIST_RANGE:
            raise ValueError(f"a histogram of {hist.size} bins over {list(histogram_range)}; this fr-eval keeps "
                             f"{HIST_BINS} over {list(HIST_RANGE)}")
        if not 0 < tail.size <= n or int(hist.sum()) != n:
            raise ValueError(f"a tail of {tail.size} scores and a histogram of {int(hist.sum())} do not describe "
                             f"{n} impostor scores")
        s = cls(total=n, max_fmr=(tail.size - 1) / n, keep_all=0)
        if s.k_needed() != tail.size:
            raise ValueError(f"a tail of {tail.size} scores is not what {n} scores keep for some FMR target")
        s.n, s.mean, s.m2, s.hist = n, float(mean), float(m2), hist.copy()
        s._tail.offer(tail)
        return s

    @property
    def exact(self) -> bool:
        """True when every score is kept (the stream holds at most ``keep_all``)."""
        return self.total <= self.keep_all

    def k_needed(self) -> int:
        """How many of the highest scores are kept: all of them when :attr:`exact`, else as many as
        the largest target needs (the false matches it allows, +1 for the score just below)."""
        if self.exact:
            return self.total
        return metrics.allowed_false_matches(self.max_fmr, self.total) + 1

    def add(self, block) -> None:
        """Take a :class:`Block` (its same-subject cells are set to NaN: the block is ours, a fresh
        product) or a 1-D array of impostor scores (checked finite)."""
        if isinstance(block, Block):
            flat, n_b = block.scores.reshape(-1), block.size
            block.scores[block.excluded] = np.nan
        else:
            flat = np.asarray(block).ravel()
            if flat.dtype.kind != "f":
                flat = flat.astype(np.float64)
            if not np.isfinite(flat).all():
                raise ValueError("impostor scores must be finite (failed samples are masked, not scored)")
            n_b = flat.size
        if n_b == 0:
            return
        if self.n + n_b > self.total:
            raise ValueError(f"more impostor scores than the {self.total} announced")
        self._sorted = None
        if self.exact:  # kept whole: the figures come from the scores at the end
            kept = flat[~np.isnan(flat)]
            if kept.size != n_b:
                raise ValueError("impostor scores must be finite (failed samples are masked, not scored)")
            self._tail.offer(kept)
            k64 = kept.astype(np.float64)
            mean_b = float(k64.mean())
            self._moments(n_b, mean_b, float(np.square(k64 - mean_b).sum()))
            return
        k, bound = self.k_needed(), self._tail.bound
        guess = _guess_bound(flat, k) if bound == -np.inf else -np.inf
        used = max(bound, guess)
        results = self._scan(flat, used, k)
        if guess > -np.inf and sum(r[1].size for r in results) < k:  # the guess was too high: again
            used = bound
            results = self._scan(flat, bound, k)
        self._floor = max(self._floor, used)
        if sum(r[2] for r in results) != n_b:  # NaN among the block's own scores
            raise ValueError("impostor scores must be finite (failed samples are masked, not scored)")
        for hist, top, n, mean, m2 in results:
            self.hist += hist
            self._moments(n, mean, m2)
            self._tail.offer(top)

    def _scan(self, flat: np.ndarray, bound: float, k: int) -> list:
        parts = np.array_split(flat, self._threads()) if flat.size >= 1 << 20 else [flat]
        if len(parts) == 1:
            return [_scan_part(parts[0], bound, k, self.mean)]
        with ThreadPoolExecutor(len(parts)) as pool:
            return list(pool.map(lambda x: _scan_part(x, bound, k, self.mean), parts))

    def _threads(self) -> int:
        return self.threads or _cpus()

    def _moments(self, n_b: int, mean_b: float, m2_b: float) -> None:
        """Chan et al.'s pairwise update: fold in a part's count, mean and sum of squared deviations."""
        if n_b == 0:
            return
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n

    def merge(self, other: "ImpostorSummary") -> "ImpostorSummary":
        """Fold in the summary of another part of the same stream (another range of blocks, summed
        elsewhere: a Ray task); the result is what one pass over both parts gives."""
        if (other.total, other.max_fmr, other.exact) != (self.total, self.max_fmr, self.exact):
            raise ValueError("summaries of different streams (total, max_fmr or keep_all differ) cannot be merged")
        if other.n == 0:
            return self
        if self.n + other.n > self.total:
            raise ValueError(f"more impostor scores than the {self.total} announced")
        self._sorted = None
        self._moments(other.n, other.mean, other.m2)
        if not self.exact:
            self.hist += other.hist
        self._tail.offer(other._tail.values())
        return self

    def _complete(self) -> np.ndarray:
        """The kept scores, ascending, in float64 (sorted once)."""
        if self.n != self.total:
            raise ValueError(f"the stream is incomplete: {self.n} of {self.total} impostor scores")
        if self._sorted is None:
            self._sorted = np.sort(self._tail.values()).astype(np.float64)
        return self._sorted

    @property
    def floor(self) -> float:
        """A score no higher than the lowest of the tail the stream will end with (-inf when kept whole):
        a score below it is never one of the :meth:`k_needed` highest, so every threshold the summary
        fixes at an FMR target up to ``max_fmr`` lies above it. The bound each block's scan used (the
        tail's running k-th highest, or a sampled guess that at least k of the block's scores reached).
        What rides along the scan (:mod:`fr_eval.scan_taps`) keeps the cells at or above it."""
        if self.exact:
            return -np.inf
        return max(self._floor, self._tail.bound)

    @property
    def top(self) -> np.ndarray:
        """The kept scores (the highest :meth:`k_needed`; every score when :attr:`exact`), unordered."""
        return self._tail.values()

    def tail(self) -> np.ndarray:
        """The kept scores, ascending (float64): the highest :meth:`k_needed` of them."""
        return self._complete()

    @property
    def scores(self) -> np.ndarray:
        """Every impostor score (float64) in the order they came, when :attr:`exact`; a streamed
        summary has only its tail."""
        if not self.exact:
            raise ValueError(f"the {self.total} impostor scores were streamed, not kept (keep_all={self.keep_all}); "
                             "their tail, histogram and moments are")
        self._complete()
        return self._tail.values().astype(np.float64)

    # -- the figures ----------------------------------------------------------------------------
    def threshold(self, fmr: float) -> float:
        """:func:`fr_eval.metrics.threshold_at_fmr` on all the scores seen, exactly."""
        if self.n == 0:
            raise ValueError("no impostor scores: a threshold at a target FMR needs impostors")
        top = self._complete()
        if fmr > self.max_fmr + 1e-15 and not self.exact:
            raise ValueError(f"fmr={fmr} is above the summary's max_fmr={self.max_fmr}: its tail is too short")
        return metrics.threshold_from_sorted(top, fmr, self.n)  # the in-memory path's rule, on the tail

    def is_exact_at(self, t: float) -> bool:
        """Whether :meth:`fmr_at` is exact at ``t``: every score is kept, or ``t`` lies above the
        kept tail's lowest score."""
        top = self._complete()
        return top.size == self.n or bool(top.size and t > top[0])

    def count_at_or_above(self, t: float) -> int:
        """Impostors scoring >= t: exact where :meth:`is_exact_at`, else from the histogram (the
        bins from t's up: an upper bound, off by at most the scores of t's bin below t)."""
        top = self._complete()
        if self.is_exact_at(t):
            return int(top.size - np.searchsorted(top, t, side="left"))
        b = int(np.clip(math.floor((t - HIST_RANGE[0]) / self.resolution), 0, HIST_BINS - 1))
        return int(self.hist[b:].sum())

    def fmr_at(self, t: float) -> float:
        return self.count_at_or_above(t) / self.n if self.n else float("nan")

    @property
    def var(self) -> float:
        if self.exact:
            return float(self.scores.var()) if self.n else float("nan")
        return self.m2 / self.n if self.n else float("nan")

    def d_prime(self, genuine) -> float:
        """:func:`fr_eval.metrics.d_prime`, the impostor side from the merged moments (from the scores
        themselves when :attr:`exact`)."""
        gen = np.asarray(genuine, np.float64)
        if self.exact:
            return metrics.d_prime(gen, self.scores) if self.n else float("nan")
        if gen.size == 0 or self.n == 0:
            return float("nan")
        return metrics.d_prime_from_moments(float(gen.mean()), float(gen.var()), self.mean, self.var)

    def det(self, genuine) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(FMR, FNMR, thresholds) as :func:`fr_eval.metrics.det_points` gives them: from the scores
        when :attr:`exact`, else :meth:`det_points` (the histogram and the exact tail)."""
        if self.exact:
            return metrics.det_points(genuine, self.scores)
        t, fmr, fnmr = self.det_points(genuine)
        return fmr[::-1], fnmr[::-1], t[::-1]

    def det_points(self, genuine) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(thresholds, FMR, FNMR) at every histogram edge whose FMR the histogram gives, plus every
        distinct score of the kept tail, where the FMR is exact; ascending thresholds. FNMR is exact
        everywhere (the genuine scores are all kept)."""
        return metrics.det_points_from_histogram(genuine, self.hist, HIST_RANGE, self._complete(), self.n)

    def eer(self, genuine) -> tuple[float, float, float]:
        """(EER, its threshold, its bound). Exact (bound 0) when :attr:`exact`; else where FNMR and FMR
        cross on :meth:`det_points`, interpolated linearly between the two bracketing points, and the
        bound is how much either rate changes between them (the in-memory EER lies within it)."""
        gen = np.asarray(genuine, np.float64)
        if gen.size == 0 or self.n == 0:
            return float("nan"), float("nan"), float("nan")
        if self.exact:
            return (*metrics.eer(gen, self.scores), 0.0)
        return metrics.eer_from_points(*self.det_points(gen))

    @property
    def resolution(self) -> float:
        """Width of one histogram bin (the EER's and the DET's resolution away from the tail)."""
        return (HIST_RANGE[1] - HIST_RANGE[0]) / HIST_BINS

    def describe(self) -> dict:
        """How the impostor scores were kept, for the report."""
        out = {"n": int(self.n), "exact": self.exact, "kept": int(self.top.size)}
        if not self.exact:
            out.update(histogram_bins=HIST_BINS, histogram_range=list(HIST_RANGE), resolution=self.resolution,
                       tail_max_fmr=self.max_fmr)
        return out


def _cpus() -> int:
    """The CPUs this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _guess_bound(flat: np.ndarray, k: int) -> float:
    """A score likely to have a little more than k of the block's scores at or above it, from a seeded sample of
    the block (before the stream has k scores, so that the first block is not copied whole as tail
    candidates). The caller checks that at least k scores were found at or above it (then every
    score the tail needs was kept) and scans again without it otherwise."""
    n_sample = 1 << 16
    share = k / flat.size
    if share >= 0.4 or flat.size < 1 << 18:
        return -np.inf
    share += 0.1 * share + 6.0 * math.sqrt(share * (1.0 - share) / n_sample)  # a margin of > 6 sigma
    pick = np.random.default_rng(0).integers(0, flat.size, n_sample)
    sample = flat[pick]
    sample = sample[~np.isnan(sample)]
    return float(np.quantile(sample, 1.0 - share)) if sample.size else -np.inf


def _scan_part(x: np.ndarray, bound: float, k: int, shift: float):
    """One part of a block through :func:`fr_eval._scan.scan`: (histogram, its highest scores at or
    above ``bound`` (at most k of them, or all when fewer), count, mean, sum of squared deviations)."""
    hist = np.zeros(HIST_BINS, np.int64)
    out = np.empty(min(x.size, OUT_CHUNK), x.dtype)
    tail = _Tail(k, bound)
    start, n, s1, s2 = 0, 0, 0.0, 0.0
    while start < x.size:
        read, m, c, a, b = scan(x[start:], tail.bound, hist, out, shift)
        start += read
        n, s1, s2 = n + c, s1 + a, s2 + b
        tail.offer(out[:m].copy())
    if n == 0:
        return hist, tail.values(), 0, 0.0, 0.0
    mean = s1 / n
    return hist, tail.values(), n, shift + mean, max(s2 - s1 * mean, 0.0)


def summarise(blocks, total: int, max_fmr: float = metrics.MAX_FMR, keep_all: int = 0) -> ImpostorSummary:
    """The impostor scores of ``blocks`` summarised: every score kept when ``total <= keep_all``, else the
    exact tail that the FMR targets up to ``max_fmr`` need, a histogram and the moments.

    Parameters
    ----------
    blocks : iterable of Block or of 1-D arrays
        The impostor scores, a block at a time.
    total : int
        How many scores there are in all.
    max_fmr : float
        The largest FMR target the tail must serve.
    keep_all : int
        Up to this many scores are kept whole.

    Returns
    -------
    ImpostorSummary
        The merged summary (tail, histogram, moments; every score when kept whole).
    """
    s = ImpostorSummary(total=total, max_fmr=max_fmr, keep_all=keep_all)
    for b in blocks:
        s.add(b)
    return s


def summarise_cross_subject(ref, ref_subject, probe, probe_subject, *, ref_ok=None, probe_ok=None,
                            max_fmr: float = metrics.MAX_FMR, keep_all: int = 0, budget_bytes: int = metrics.BLOCK_BYTES,
                            executor: str = "local", tasks: int | None = None, taps=()) -> ImpostorSummary:
    """The summary of every cross-subject impostor score, computed here (``executor="local"``) or
    as Ray tasks over ranges of references, merged on the driver (``"ray"``: Ray must be started;
    the probe side goes into the object store once). Both give the same figures.

    Parameters
    ----------
    ref, ref_subject, probe, probe_subject
        As :func:`cross_subject_blocks`.
    ref_ok, probe_ok : arrays of bool, or None
        Which samples were acquired.
    max_fmr, keep_all
        As :func:`summarise`.
    budget_bytes : int
        Memory for one block.
    executor : str
        ``local`` (threads here) or ``ray`` (tasks over reference blocks, merged here).
    taps : sequence
        What rides along the scan (:mod:`fr_eval.scan_taps`): each tap's ``take(row0, block, summary)``
        sees every block after the summary has (its same-subject cells NaN; ``row0``: its first
        reference among the acquired ones), so the products feeding the figures also feed the false
        matches per group and the score export. With ``ray`` the blocks are made in the tasks: the taps
        then get a second local pass (counted in :data:`PRODUCTS`).

    Returns
    -------
    ImpostorSummary
        Every cross-subject comparison's score, summarised.
    """
    ref, ref_subject = np.asarray(ref, np.float32), np.asarray(ref_subject)
    probe, probe_subject = np.asarray(probe, np.float32), np.asarray(probe_subject)
    ref, ref_subject = acquired(ref_ok, ref, ref_subject)
    probe, probe_subject = acquired(probe_ok, probe, probe_subject)
    total = count_cross_subject(ref_subject, probe_subject)
    spec = {"total": total, "max_fmr": max_fmr, "keep_all": keep_all}
    if executor == "local":
        out = ImpostorSummary(**spec)
        _feed(products(ref, ref_subject, probe, probe_subject, budget_bytes), out, taps, summarise=True)
        return out
    if executor != "ray":
        raise ValueError(f"executor={executor}: choose local or ray")
    import ray  # optional heavy dependency (ray), loaded only when used

    n_tasks = tasks or max(1, int(ray.cluster_resources().get("CPU", 1)))
    task = ray.remote(_summarise_part)
    probe_ref = ray.put((probe, probe_subject))
    parts = [task.remote(ref[idx], ref_subject[idx], probe_ref, spec, budget_bytes)
             for idx in np.array_split(np.arange(len(ref)), n_tasks) if len(idx)]
    out = ImpostorSummary(**spec)
    for part in parts:  # merged in the tasks' order: the same result whatever order they finish in
        out.merge(ray.get(part))
    count_products("cross_subject", len(ref) * len(probe))  # made in the tasks' processes
    if taps:
        _feed(products(ref, ref_subject, probe, probe_subject, budget_bytes), out, taps, summarise=False)
    return out


def _feed(blocks, summary: ImpostorSummary, taps, summarise: bool) -> None:
    """Each block into the summary (``summarise``; else the summary is complete and the same-subject cells
    are masked here) and then into every tap."""
    row0 = 0
    for b in blocks:
        if summarise:
            summary.add(b)
        else:
            b.scores[b.excluded] = np.nan
        for tap in taps:
            tap.take(row0, b, summary)
        row0 += b.scores.shape[0]


def _summarise_part(ref, ref_subject, probe_side, spec: dict, budget_bytes: int) -> ImpostorSummary:
    """A Ray task's range of references (one CPU each: its scan runs in one thread)."""
    probe, probe_subject = probe_side
    s = ImpostorSummary(**spec, threads=1)
    for b in cross_subject_blocks(ref, ref_subject, probe, probe_subject, budget_bytes=budget_bytes, reuse=True):
        s.add(b)
    s.top  # noqa: B018 - the pending candidates merged before the summary travels
    return s


__all__ = ["ImpostorSummary", "budget_rows", "columns_by_subject", "count_cross_subject", "cross_subject_blocks",
           "products", "summarise",
           "summarise_cross_subject"]
