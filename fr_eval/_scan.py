"""The one loop over every impostor score of a streamed summary, compiled with Numba.

Written by hand for speed, where the figures need every score once: NumPy needs five passes over a
block for the same work (scale, cast to intp, bincount, compare, extract), 3.5 to 4 ns per score on
the 2-core development machine; this loop makes one pass (1.2 to 1.6 ns per score, the float64
moments included) and releases the GIL, so the two halves of a block run on two cores.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def scan(scores, bound, hist, out, shift):  # pragma: no cover - compiled (tested through streaming)
    """One pass over ``scores`` (1-D float32 or float64; NaN cells are skipped: they are not
    impostor comparisons).

    Adds each score to ``hist`` (bin ``floor((s + 1) * bins / 2)`` in float64, exact for float32
    scores and a power-of-two ``bins``; clamped to the end bins) and to the
    float64 count, sum and sum of squares of ``s - shift``; copies the scores ``>= bound`` into
    ``out`` and stops early when ``out`` is full. Returns (scores read, scores copied, count, sum, sum
    of squares)."""
    top = hist.size - 1
    half = hist.size / 2.0
    m, n, s1, s2 = 0, 0, 0.0, 0.0
    stop = scores.size
    for i in range(scores.size):
        s = scores[i]
        if s != s:
            continue
        d = np.float64(s)
        j = int((d + 1.0) * half)
        if j < 0:
            j = 0
        elif j > top:
            j = top
        hist[j] += 1
        d -= shift
        n += 1
        s1 += d
        s2 += d * d
        if s >= bound:
            out[m] = s
            m += 1
            if m == out.size:
                stop = i + 1
                break
    return stop, m, n, s1, s2


@numba.njit(nogil=True, cache=True)
def search_rows(scores, mate, top_score, top_entry, rank):  # pragma: no cover - compiled (tested through identification)
    """One pass over each row of ``scores`` (searches x candidates, float32, finite): the ``k`` highest
    candidates into ``top_score``/``top_entry`` (k = their width; descending score, ties in candidate
    order: exactly a stable sort's first k) and, where ``mate[i] >= 0``, ``rank[i]`` = the candidates
    scoring at or above the mate's score, the mate included (its rank, ties counting against it).

    Written by hand for speed: ``argpartition`` + ``lexsort`` + a comparison pass read a row three times
    and allocate as they go; this reads it once (an insertion into the k kept is rare after the first
    few hundred candidates) and releases the GIL, so row slices run on several cores."""
    k = top_score.shape[1]
    for i in range(scores.shape[0]):
        row = scores[i]
        m = mate[i]
        ms = row[m] if m >= 0 else np.float32(0.0)
        count = 0
        filled = 0
        for j in range(row.size):
            v = row[j]
            if m >= 0 and v >= ms:
                count += 1
            if k == 0 or (filled == k and not v > top_score[i, k - 1]):
                continue
            p = filled if filled < k else k - 1
            while p > 0 and top_score[i, p - 1] < v:  # after the equal ones: ties keep candidate order
                if p < k:
                    top_score[i, p] = top_score[i, p - 1]
                    top_entry[i, p] = top_entry[i, p - 1]
                p -= 1
            top_score[i, p] = v
            top_entry[i, p] = j
            if filled < k:
                filled += 1
        if m >= 0:
            rank[i] = count
