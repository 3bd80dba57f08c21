"""What rides along the impostor scan: the one pass over a pair of variants' impostor products also
feeds the false matches per pair of subjects (the differentials' counts) and the score export, so that
no later stage makes the products again (issue 40).

Each tap's ``take(row0, block, summary)`` sees a :class:`fr_eval.streaming.Block` after the
:class:`fr_eval.streaming.ImpostorSummary` has (its same-subject cells are NaN by then; ``row0`` is its
first reference among the acquired ones); a block is valid only during the call (one buffer serves
every block), so a tap copies what it keeps. Indices given to a tap map the acquired samples the scan
runs over to the run's references and probes.
"""
from __future__ import annotations

import os
import tempfile
import weakref

import numpy as np

from . import metrics
from .protocol import sample_cross_subject
from .scores import Comparisons, SpilledComparisons


class HighCells:
    """The cross-subject cells of a scan scoring at or above the summary's floor (the lowest score the
    summary's tail can end with: see :attr:`fr_eval.streaming.ImpostorSummary.floor`): every false match
    at any threshold the summary fixes (FMR targets up to its ``max_fmr``), found without a second product.

    For a stream kept whole the floor is the k-th highest score of each block (k = the false matches
    ``max_fmr`` allows, + 1, ``max_fmr`` the loosest target the caller will ask at; a block's k-th highest is
    never above the stream's). Kept cells are pruned to the latest floor whenever they pass ``4 k`` (at least
    2^20), so memory stays near the tail's."""

    def __init__(self, ref_index: np.ndarray, probe_index: np.ndarray, max_fmr: float = metrics.MAX_FMR):
        self.ref_index, self.probe_index = np.asarray(ref_index), np.asarray(probe_index)
        self.max_fmr = max_fmr
        self.floor = -np.inf  # every cell at or above it is kept
        self._rows, self._cols, self._scores, self._held = [], [], [], 0

    def take(self, row0: int, block, summary) -> None:
        k = metrics.allowed_false_matches(max(self.max_fmr, summary.max_fmr), summary.total) + 1
        floor = summary.floor
        if summary.exact:  # kept whole (at most keep_all scores): a block's own k-th highest
            flat = block.scores.reshape(-1)
            valid = flat[~np.isnan(flat)]
            if valid.size >= k:
                floor = float(np.partition(valid, valid.size - k)[valid.size - k])
        self.floor = max(self.floor, floor)
        r, c = block.cells_at_or_above(self.floor)
        self._rows.append((row0 + r).astype(np.int64))
        self._cols.append(c.astype(np.int64))
        self._scores.append(block.scores[r, c].copy())
        self._held += r.size
        if self._held > max(4 * k, 1 << 20):
            self._prune()

    def _prune(self) -> None:
        s = np.concatenate(self._scores)
        keep = s >= self.floor
        self._rows = [np.concatenate(self._rows)[keep]]
        self._cols = [np.concatenate(self._cols)[keep]]
        self._scores = [s[keep]]
        self._held = int(keep.sum())

    def at_or_above(self, threshold: float):
        """(run reference indices, run probe indices) of every cross-subject cell scoring at or above
        ``threshold``, in the scan's order (the same float32 scores compared as a scan of the products
        compares them); None when ``threshold`` is below :attr:`floor` (cells below it were not kept)."""
        if threshold < self.floor:
            return None
        s = np.concatenate(self._scores) if self._scores else np.zeros(0, np.float32)
        hit = s >= threshold
        rows = np.concatenate(self._rows)[hit] if self._rows else np.zeros(0, np.int64)
        cols = np.concatenate(self._cols)[hit] if self._cols else np.zeros(0, np.int64)
        return self.ref_index[rows], self.probe_index[cols]


class ScoreSpill:
    """Every impostor score of the scan written to a temporary file as it comes (float32 as the products
    made it, in the blocks' reference-major order of their cross-subject cells), for the score export to
    read back (:class:`fr_eval.scores.SpilledComparisons`) instead of making the products again. The file
    goes when the last record reading it does (``dir``: where it is written; default the system's temporary
    folder, ``TMPDIR``)."""

    def __init__(self, ref_index, ref_subject, probe_index, probe_subject, dir: str | None = None):
        fd, path = tempfile.mkstemp(prefix="fr-eval-impostors-", suffix=".f32", dir=dir)
        self._file = os.fdopen(fd, "wb")
        self.held, self.n = _File(path), 0  # removed with the last of this and its records
        self.sides = (np.asarray(ref_index), np.asarray(ref_subject), np.asarray(probe_index),
                      np.asarray(probe_subject))

    def take(self, row0: int, block, summary) -> None:
        s = block.scores[block.keep_mask()]
        s.tofile(self._file)
        self.n += s.size

    def record(self, row: str) -> SpilledComparisons:
        """The export's record of the scores written (the file is closed: the scan is over)."""
        self._file.close()
        return SpilledComparisons(row, self.held, *self.sides, self.n)


class _File:
    """A temporary file, removed when no record holds it any more."""

    def __init__(self, path: str):
        self.path = path
        weakref.finalize(self, _remove, path)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:  # already gone: nothing to clean
        pass


class ScoreSample:
    """A seeded uniform sample of ``n`` of the scan's impostor comparisons (positions in reference-major
    order, drawn before the scan by :func:`fr_eval.protocol.sample_cross_subject`), their scores picked out
    of the blocks as they pass."""

    def __init__(self, ref_index, ref_subject, probe_index, probe_subject, n: int, seed: int):
        self.ref_index, self.probe_index = np.asarray(ref_index), np.asarray(probe_index)
        self.local = sample_cross_subject(np.asarray(ref_subject), np.asarray(probe_subject), n, seed)
        self.score = np.full(len(self.local), np.nan)

    def take(self, row0: int, block, summary) -> None:
        lo, hi = np.searchsorted(self.local[:, 0], [row0, row0 + block.scores.shape[0]])
        self.score[lo:hi] = block.scores[self.local[lo:hi, 0] - row0, self.local[lo:hi, 1]]

    def record(self, row: str) -> Comparisons:
        pairs = np.stack([self.ref_index[self.local[:, 0]], self.probe_index[self.local[:, 1]]], axis=1)
        return Comparisons(row, False, pairs, self.score)


__all__ = ["HighCells", "ScoreSample", "ScoreSpill"]
