"""Identification (1:N): searches against a gallery of enrolled subjects, streamed, and the figures of
ISO/IEC 19795-1 and NIST FRTE 1:N on the result, as pure functions of arrays.

A **gallery** holds one entry per enrolled subject (its template: a reference embedding, or the mean
of several). A **search** is one probe sample: **mated** when its subject is enrolled, **non-mated**
otherwise. The search x gallery scores are never held: :func:`search_gallery` computes them a block of
searches at a time (float32 products, as the impostor scan does) and keeps per search its mate's score,
its mate's rank and the top ``k`` candidates.

Definitions (the names NIST FRTE 1:N and ISO/IEC 19795-1 use; every rate is a fraction):

* **rank of the mate**: 1 + the number of non-mate gallery entries scoring at or above the mate's
  score: ties count against the mate, as bob.measure's ``cmc`` and ``recognition_rate`` count them.
* **identification rate at rank r** (closed set, the CMC): the share of mated searches whose mate
  ranks r or better. A mated search that failed to acquire has no mate rank and counts as a miss.
* **FPIR(T)**: the share of non-mated searches that return any candidate scoring at or above T (their
  top score is at or above T). A non-mated search that failed to acquire returns no candidate.
* **FNIR(R, T)**: the share of mated searches whose mate is not among the top R candidates at or above
  T (a miss: rank > R, or score < T, or a failure to acquire). FNIR at T = 0 ... -inf is the
  investigation mode's miss rate at rank R (1 - the identification rate at rank R).
* The threshold at a target FPIR is fixed by the conservative rule of the FMR threshold
  (:func:`fr_eval.metrics.threshold_from_sorted` on the non-mated searches' top scores: achieved
  FPIR <= target, the smallest such threshold).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from . import metrics
from ._scan import search_rows
from .streaming import _cpus, budget_rows, count_products

#: the rank of a mate that has no score (a failed search) and the score of an absent candidate
NO_RANK = 0
NO_SCORE = -np.inf
#: searches per product: every score is computed in a product of exactly this many rows (the last one
#: zero-padded). BLAS takes other code paths for other shapes (a single row, small matrices), whose
#: float32 sums differ in the last bit; with one shape the scores are the same bits whatever the block
#: size, so the streamed search and the full matrix (:func:`score_matrix`) agree exactly.
CHUNK = 64


def _products(x: np.ndarray, gallery_t: np.ndarray, out: np.ndarray) -> None:
    """``out = x @ gallery_t`` (float32), in products of exactly :data:`CHUNK` rows (counted by the caller, in
    the thread that hands the work out: :func:`fr_eval.streaming.products_counted`)."""
    for start in range(0, len(x), CHUNK):
        part = x[start:start + CHUNK]
        if len(part) == CHUNK:
            np.matmul(part, gallery_t, out=out[start:start + CHUNK])
        else:
            padded = np.zeros((CHUNK, x.shape[1]), np.float32)
            padded[:len(part)] = part
            out[start:start + CHUNK] = np.matmul(padded, gallery_t)[:len(part)]


def score_matrix(search, gallery) -> np.ndarray:
    """Every search x gallery score at once (float32), computed as :func:`search_gallery` computes them,
    bit for bit: for galleries small enough to hold, and to check the streamed search against.

    Parameters
    ----------
    search : (n, d) array
    gallery : (g, d) array

    Returns
    -------
    (n, g) array of float32
    """
    x, g = np.ascontiguousarray(search, np.float32), np.ascontiguousarray(gallery, np.float32)
    out = np.empty((len(x), len(g)), np.float32)
    count_products("identification", len(x) * len(g))
    with threadpool_limits(limits=1, user_api="blas"):
        _products(x, np.ascontiguousarray(g.T), out)
    return out


@dataclass(frozen=True)
class SearchResults:
    """What the streamed search keeps of each search (n searches, a gallery of ``gallery_size``).

    Attributes
    ----------
    mated : (n,) array of bool
        The search's subject is enrolled in the gallery.
    acquired : (n,) array of bool
        The search sample was acquired (a failed one has no scores).
    mate_score : (n,) array of float32
        Its mate's score; nan for a non-mated or failed search.
    mate_rank : (n,) array of int64
        Its mate's rank (1 = first; ties count against the mate); 0 (``NO_RANK``) for a non-mated
        or failed search.
    top_score : (n, k) array of float32
        The ``k`` highest scores, descending; ``-inf`` where there is no candidate (a failed search,
        or a gallery smaller than ``k``).
    top_entry : (n, k) array of int64
        The gallery entries of ``top_score`` (ties in the order of the gallery); -1 where none.
    gallery_size : int
        Candidates in the gallery (enrolled subjects).
    subjects : (gallery_size,) array
        The candidates' subjects: ``top_entry`` indexes it.
    """

    mated: np.ndarray
    acquired: np.ndarray
    mate_score: np.ndarray
    mate_rank: np.ndarray
    top_score: np.ndarray
    top_entry: np.ndarray
    gallery_size: int
    subjects: np.ndarray = None

    @property
    def top1(self) -> np.ndarray:
        """(n,) the highest score of each search (``-inf`` for a failed search or an empty gallery)."""
        if self.top_score.shape[1] == 0:
            return np.full(len(self.mated), NO_SCORE, np.float32)
        return self.top_score[:, 0]

    def mated_searches(self) -> tuple[np.ndarray, np.ndarray]:
        """(mate_rank, mate_score) of the mated searches: the input of :func:`cmc` and :func:`fnir`."""
        return self.mate_rank[self.mated], self.mate_score[self.mated]

    def nonmated_top1(self) -> np.ndarray:
        """The top score of each non-mated search: the input of :func:`fpir` and :func:`threshold_at_fpir`."""
        return self.top1[~self.mated]


def gallery_columns(search_subject, gallery_subject) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gallery's subjects and each search's mate among them.

    Parameters
    ----------
    search_subject : (n,) array
        Each search's subject.
    gallery_subject : (g,) array
        Each gallery entry's subject; a subject with several entries (``template=best``: one per
        reference) is one candidate, scored by its best entry.

    Returns
    -------
    subjects : (m,) array
        The enrolled subjects, in the order of their first entry: the candidates.
    entry_subject : (g,) array of int64
        Each entry's candidate.
    mate : (n,) array of int64
        Each search's candidate (-1: not enrolled).
    """
    subjects, first, entry_subject = np.unique(np.asarray(gallery_subject), return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # candidates in gallery order
    rank_of = np.empty_like(order)
    rank_of[order] = np.arange(len(order))
    entry = {s: i for i, s in enumerate(subjects[order].tolist())}
    mate = np.array([entry.get(s, -1) for s in np.asarray(search_subject).tolist()], np.int64)
    return subjects[order], rank_of[entry_subject.ravel()].astype(np.int64), mate


def search_gallery(search, search_subject, gallery, gallery_subject, *, k: int = 20, search_ok=None,
                   budget_bytes: int = metrics.BLOCK_BYTES, executor: str = "local", tasks: int | None = None,
                   threads: int | None = None) -> SearchResults:
    """Search every sample against the gallery, a block of searches at a time.

    Scores are the float32 dot products of the rows (L2-normalise them first for cosine); one
    block of searches x the gallery is held at a time (as many searches as ``budget_bytes`` allows,
    in whole products of :data:`CHUNK` rows), so memory is set by ``budget_bytes``, not by the number
    of comparisons. Every score is the same float32 value, bit for bit, whatever the block size, so
    the ranks and top candidates equal those of the full score matrix (:func:`score_matrix`) over the
    acquired searches.

    Parameters
    ----------
    search : (n, d) array
        The searches' score vectors.
    search_subject : (n,) array
        Each search's subject (enrolled or not).
    gallery : (g, d) array
        One score vector per enrolled subject.
    gallery_subject : (g,) array
        Each entry's subject; a subject with several entries is one candidate scored by its best entry
        (the ``best`` template), else one entry per subject (a ``mean`` template).
    k : int
        Candidates kept per search (the largest rank reported, and what FPIR thresholds need: 1).
    search_ok : (n,) array of bool, optional
        Which searches were acquired (None: all); a failed search has no scores.
    budget_bytes : int
        Memory for one block of scores.
    executor : str
        ``local`` (this process's threads) or ``ray``: Ray tasks over ranges of searches (whole products
        each, one CPU each), their results merged on the driver, the same bits as ``local``.
    tasks : int, optional
        Ray tasks (default: the cluster's CPUs).
    threads : int, optional
        ``local``: threads side by side (default: the CPUs this process may use).

    Returns
    -------
    SearchResults
    """
    search, gallery = _checked(search, search_subject, gallery, gallery_subject)
    subjects, entry_subject, col = gallery_columns(search_subject, gallery_subject)
    n, m = len(search), len(subjects)
    ok = np.ones(n, bool) if search_ok is None else np.asarray(search_ok, bool)
    kk = min(int(k), m)
    out = SearchResults(mated=col >= 0, acquired=ok.copy(), mate_score=np.full(n, np.nan, np.float32),
                        mate_rank=np.full(n, NO_RANK, np.int64), top_score=np.full((n, kk), NO_SCORE, np.float32),
                        top_entry=np.full((n, kk), -1, np.int64), gallery_size=m, subjects=subjects)
    rows = np.flatnonzero(ok)
    if m == 0 or len(rows) == 0:
        return out
    if executor == "ray":
        return _on_ray(search, search_subject, gallery, gallery_subject, rows, out, k, budget_bytes, tasks)
    if executor != "local":
        raise ValueError(f"executor={executor}: choose local or ray")
    return _search_local(search, gallery, entry_subject, col, rows, out, budget_bytes, threads or _cpus())


def _checked(search, search_subject, gallery, gallery_subject) -> tuple[np.ndarray, np.ndarray]:
    """The searches and the gallery as float32 rows, their shapes, subjects and values checked."""
    search = np.ascontiguousarray(search, np.float32)
    gallery = np.ascontiguousarray(gallery, np.float32)
    n, g = len(search), len(gallery)
    if len(np.asarray(gallery_subject)) != g or len(np.asarray(search_subject)) != n:
        raise ValueError("one subject per search and per gallery entry")
    if search.ndim != 2 or gallery.ndim != 2 or (n and g and search.shape[1] != gallery.shape[1]):
        raise ValueError(f"searches {search.shape} and gallery {gallery.shape} must be (n, d) and (g, d)")
    if not (np.isfinite(search).all() and np.isfinite(gallery).all()):
        raise ValueError("an embedding holds a non-finite value; searches and gallery must be finite")
    return search, gallery


def slices(n: int, parts: int) -> list[tuple[int, int]]:
    """``n`` rows cut into at most ``parts`` ranges of whole :data:`CHUNK`-row products (the last range
    ends at ``n``): how a block is shared among threads, and the searches among Ray tasks."""
    per = max(1, -(-n // CHUNK // max(1, parts))) * CHUNK
    return [(a, min(a + per, n)) for a in range(0, n, per)]


def _search_local(search, gallery, entry_subject, col, rows, out: SearchResults, budget_bytes: int,
                  threads: int) -> SearchResults:
    """The acquired searches ``rows`` in blocks of whole products, each block's slices on threads (the
    products and the compiled pass both release the GIL), written into ``out``."""
    g, m, k = len(gallery), out.gallery_size, out.top_score.shape[1]
    several = m < g  # a subject with several entries: the best of them is its score
    if several:
        by = np.argsort(entry_subject, kind="stable")
        gallery, starts = gallery[by], np.searchsorted(entry_subject[by], np.arange(m))
    step = max(CHUNK, budget_rows(budget_bytes, g, search.shape[1]) // CHUNK * CHUNK)
    gallery_t = np.ascontiguousarray(gallery.T)
    buf = np.empty((min(step, len(rows)), g), np.float32)
    threads = max(1, min(threads, len(rows) // CHUNK))

    def part(at, scores):  # one slice of a block, written to disjoint rows of the buffer and of out
        _products(search[at], gallery_t, scores)
        _keep(np.maximum.reduceat(scores, starts, axis=1) if several else scores, at, col[at], k, out)

    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        for start in range(0, len(rows), step):
            at = rows[start:start + step]
            count_products("identification", len(at) * g)
            list(pool.map(lambda ab: part(at[ab[0]:ab[1]], buf[ab[0]:ab[1]]), slices(len(at), threads)))
    return out


def _on_ray(search, search_subject, gallery, gallery_subject, rows, out: SearchResults, k, budget_bytes, tasks):
    """:func:`search_gallery`'s searches in Ray tasks over ranges of whole 64-row products, merged here."""
    import ray  # optional heavy dependency (ray), loaded only when used

    n_tasks = tasks or max(1, int(ray.cluster_resources().get("CPU", 1)))
    side = ray.put((gallery, np.asarray(gallery_subject)))
    subjects = np.asarray(search_subject)
    task = ray.remote(num_cpus=1)(_search_part)
    parts = [(at, task.remote(search[at], subjects[at], side, k, budget_bytes))
             for at in (rows[a:b] for a, b in slices(len(rows), n_tasks))]
    for at, part in parts:
        r = ray.get(part)
        out.mate_score[at], out.mate_rank[at] = r.mate_score, r.mate_rank
        out.top_score[at], out.top_entry[at] = r.top_score, r.top_entry
    count_products("identification", len(rows) * len(gallery))  # made in the tasks' processes
    return out


def _search_part(search, search_subject, gallery_side, k, budget_bytes) -> SearchResults:
    """A Ray task's range of searches, searched locally (its threads limited to its one CPU)."""
    gallery, gallery_subject = gallery_side
    return search_gallery(search, search_subject, gallery, gallery_subject, k=k, budget_bytes=budget_bytes,
                          threads=1)


def _keep(scores: np.ndarray, at: np.ndarray, col: np.ndarray, k: int, out: SearchResults) -> None:
    """One block's mate scores and ranks and top ``k`` candidates (:func:`fr_eval._scan.search_rows`),
    written into ``out`` at rows ``at``."""
    top_score = np.full((len(at), k), NO_SCORE, np.float32)
    top_entry = np.full((len(at), k), -1, np.int64)
    rank = np.full(len(at), NO_RANK, np.int64)
    search_rows(scores, col, top_score, top_entry, rank)
    mated = col >= 0
    out.mate_score[at[mated]] = scores[np.flatnonzero(mated), col[mated]]
    out.mate_rank[at] = rank
    out.top_score[at], out.top_entry[at] = top_score, top_entry


def cmc(mate_rank, max_rank: int = 20) -> np.ndarray:
    """The cumulative match characteristic: the identification rate at ranks 1 ... ``max_rank``.

    Parameters
    ----------
    mate_rank : (n_mated,) array of int
        Each mated search's mate rank (0: failed to acquire, a miss at every rank).
    max_rank : int
        The largest rank.

    Returns
    -------
    (max_rank,) array of float
        Fractions of the mated searches; element r-1 is the rate at rank r.
    """
    rank = np.asarray(mate_rank, np.int64)
    if rank.size == 0:
        raise ValueError("no mated search: the identification rate needs searches whose subject is enrolled")
    hits = np.bincount(rank[(rank >= 1) & (rank <= max_rank)], minlength=max_rank + 1)[1:]
    return np.cumsum(hits) / rank.size


def fnir(mate_rank, mate_score, rank: int, threshold: float) -> float:
    """FNIR(R, T): the share of mated searches whose mate is not in the top ``rank`` at or above
    ``threshold`` (failures to acquire are misses).

    Parameters
    ----------
    mate_rank : (n_mated,) array of int
        Mate ranks (0: failed).
    mate_score : (n_mated,) array of float
        Mate scores (nan: failed).
    rank : int
        R, the candidate list's length considered.
    threshold : float
        T (``-inf`` for investigation mode).

    Returns
    -------
    float
        A fraction of the mated searches.
    """
    r, s = np.asarray(mate_rank), np.asarray(mate_score, np.float64)
    if r.size == 0:
        raise ValueError("no mated search: FNIR needs searches whose subject is enrolled")
    hit = (r >= 1) & (r <= rank) & (s >= threshold)  # nan >= T is False: a failed search is a miss
    return float(1.0 - hit.mean())


def fpir(top1, threshold: float) -> float:
    """FPIR(T): the share of non-mated searches with a candidate at or above ``threshold``.

    Parameters
    ----------
    top1 : (n_nonmated,) array of float
        Each non-mated search's highest score (``-inf``: failed, no candidate).
    threshold : float
        T.

    Returns
    -------
    float
        A fraction of the non-mated searches.
    """
    t = np.asarray(top1, np.float64)
    if t.size == 0:
        raise ValueError("no non-mated search: FPIR needs searches whose subject is not enrolled")
    return float((t >= threshold).mean())


def threshold_at_fpir(top1, target: float) -> float:
    """The conservative threshold for a target FPIR: the smallest T with FPIR(T) <= ``target`` (the
    rule of :func:`fr_eval.metrics.threshold_at_fmr`, applied to the non-mated searches' top scores;
    failed searches count in the denominator and never alarm).

    Parameters
    ----------
    top1 : (n_nonmated,) array of float
        Each non-mated search's highest score (``-inf``: failed).
    target : float
        The target FPIR, a fraction.

    Returns
    -------
    float
    """
    t = np.asarray(top1, np.float64)
    finite = np.sort(t[np.isfinite(t)])
    if finite.size == 0:
        raise ValueError("no non-mated search returned a candidate: a threshold at a target FPIR needs some")
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"the target FPIR must be a fraction in [0, 1], got {target}")
    return metrics.threshold_from_sorted(finite, target, t.size)


def tradeoff(mate_rank, mate_score, top1, rank: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The FNIR-FPIR tradeoff at rank ``rank`` (NIST FRTE's error tradeoff), at every threshold where
    either rate changes: the non-mated top scores and the mate scores.

    Parameters
    ----------
    mate_rank, mate_score : (n_mated,) arrays
        As :func:`fnir`.
    top1 : (n_nonmated,) array
        As :func:`fpir`.
    rank : int
        R.

    Returns
    -------
    thresholds, fpir, fnir : (m,) arrays of float
        Ascending thresholds and the two rates (fractions) at each.
    """
    r, s = np.asarray(mate_rank), np.asarray(mate_score, np.float64)
    t = np.asarray(top1, np.float64)
    if r.size == 0 or t.size == 0:
        raise ValueError("the tradeoff needs mated and non-mated searches")
    hit_scores = np.sort(s[(r >= 1) & (r <= rank)])  # a hit at T when its score >= T
    alarms = np.sort(t[np.isfinite(t)])
    thr = np.unique(np.r_[hit_scores, alarms])
    fpir_t = (alarms.size - np.searchsorted(alarms, thr, side="left")) / t.size
    fnir_t = 1.0 - (hit_scores.size - np.searchsorted(hit_scores, thr, side="left")) / r.size
    return thr, fpir_t, fnir_t
