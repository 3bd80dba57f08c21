"""Candidate-list import (``fr-eval candidates=<file>``): the identification figures of a 1:N system fr-eval
does not run, from its candidate lists. No image, no face system: the lists enter where the streamed search's
results do (:class:`fr_eval.identification.SearchResults`), and every figure, interval, paired comparison and
plot is :mod:`fr_eval.stages.identify`'s.

A file (CSV or Parquet) holds one entry per (search, candidate): ``search`` (an id), ``search_subject`` (its
subject; empty: a non-mated search whose subject is not named), ``candidate_subject``, ``rank`` (1 = first)
and ``score`` (a similarity: higher is more alike); optionally ``row`` (a scenario row's label; default "1"),
``mated`` (whether the search's subject is enrolled; default: it names a subject), ``acquired`` (default: it
has candidates) and ``gallery_size`` (the enrolled subjects; default: the candidates seen, a lower bound). A
search that failed to acquire is one entry with no candidate (rank 0). fr-eval's own
``identification_candidates.parquet`` is such a file, and reads back to the run's figures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq

from .. import identification as fr_identification
from ..datasets.base import read_csv_rows, stripped_columns
from ..errors import FrEvalError
from ..settings import Config
from ..store import sha256_file
from .identify import Identified, compared_target, fpir_thresholds, paired_searches, row_figures, search_misses
from .plan import row_pairs

REQUIRED = ("search", "search_subject", "candidate_subject", "rank", "score")
OPTIONAL = ("row", "mated", "acquired", "gallery_size")
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclass
class CandidateImportResult:
    identification: Identified
    inputs: list[dict]
    context: dict = field(default_factory=dict)


def read_candidates(path) -> dict:
    """The file's columns as lists (strings, the score as float; None where empty), checked for the
    required columns; a file that cannot be read is a one-line error."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FrEvalError(f"candidates={p}: no such file (a CSV or Parquet of candidate lists: "
                          f"{', '.join(REQUIRED)})")
    if p.suffix.lower() == ".parquet":
        try:
            cols = stripped_columns(pq.read_table(p).to_pydict(), "candidates", p)
        except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
            raise FrEvalError(f"candidates={p} is not a readable Parquet file ({exc})") from None
        where = [f"{p.name} entry {i + 1}" for i in range(len(next(iter(cols.values()), [])))]
    else:
        header, rows = read_csv_rows(p, "candidates")
        cols = {h: [(raw.get(h) or "").strip() or None for _, raw in rows] for h in header}
        where = [f"{p.name}:{line}" for line, _ in rows]
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise FrEvalError(f"candidates={p}: missing column(s) {', '.join(missing)} (columns: {', '.join(REQUIRED)}; "
                          f"optional: {', '.join(OPTIONAL)})")
    if not where:
        raise FrEvalError(f"candidates={p}: no entry in the file")
    out = {k: [None if v is None or v == "" else str(v) for v in cols[k]] for k in REQUIRED + OPTIONAL if k in cols}
    out["score"] = [_number(v, w, "score") for v, w in zip(cols["score"], where)]
    out["rank"] = [int(_number(v, w, "rank", whole=True)) for v, w in zip(cols["rank"], where)]
    out["where"] = where
    return out


def _number(v, where: str, what: str, whole: bool = False) -> float:
    if v is None or (isinstance(v, str) and not v.strip()):
        return 0.0 if whole else math.nan
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise FrEvalError(f"{where}: {what}={v!r} is not a number") from None
    if math.isinf(x) or (whole and (math.isnan(x) or x != int(x) or x < 0)):
        raise FrEvalError(f"{where}: {what}={v!r} is not {'a whole number >= 0' if whole else 'a finite number'}")
    return x


def _flag(v, where: str, what: str, default: bool) -> bool:
    if v is None:
        return default
    if v.lower() in TRUE:
        return True
    if v.lower() in FALSE:
        return False
    raise FrEvalError(f"{where}: {what}={v!r} is not true or false")


@dataclass
class _Search:
    subject: str | None
    mated: bool
    acquired: bool | None = None
    entries: list = field(default_factory=list)  # (rank, candidate, score, where)


def parse_lists(cols: dict) -> tuple[list, dict, dict]:
    """(row labels in file order, {row: {search: _Search}}, {row: gallery size or None}), every list checked:
    ranks 1..m without gaps, scores not rising with rank, each candidate once, one row per failed search,
    a search the same in every row."""
    n = len(cols["where"])
    get = {k: cols.get(k, [None] * n) for k in OPTIONAL}
    rows: dict = {}
    sizes: dict = {}
    for i in range(n):
        w, label = cols["where"][i], get["row"][i] or "1"
        sid, subj, cand = cols["search"][i], cols["search_subject"][i], cols["candidate_subject"][i]
        if sid is None:
            raise FrEvalError(f"{w}: empty search id")
        mated = _flag(get["mated"][i], w, "mated", subj is not None)
        if mated and subj is None:
            raise FrEvalError(f"{w}: search {sid} is mated but names no search_subject")
        s = rows.setdefault(label, {}).setdefault(sid, _Search(subj, mated))
        if (s.subject, s.mated) != (subj, mated):
            raise FrEvalError(f"{w}: search {sid} has another search_subject or mated than on its first entry")
        acq = _flag(get["acquired"][i], w, "acquired", cand is not None)
        if s.acquired is not None and s.acquired != acq:
            raise FrEvalError(f"{w}: search {sid} is both acquired and not")
        s.acquired = acq
        if (cand is None) != (cols["rank"][i] == 0) or (cand is not None and not np.isfinite(cols["score"][i])):
            raise FrEvalError(f"{w}: a candidate needs a rank >= 1 and a finite score; a search without one (failed "
                              f"to acquire) has rank 0 and no candidate_subject")
        if cand is not None:
            s.entries.append((cols["rank"][i], cand, cols["score"][i], w))
        if get["gallery_size"][i] is not None:
            g = int(_number(get["gallery_size"][i], w, "gallery_size", whole=True))
            if sizes.setdefault(label, g) != g:
                raise FrEvalError(f"{w}: row {label} has gallery_size {g} here and {sizes[label]} before")
    for label, searches in rows.items():
        sizes.setdefault(label, None)
        for sid, s in searches.items():
            _check_list(sid, s)
        named = {e[1] for s in searches.values() for e in s.entries}
        if sizes[label] is not None and sizes[label] < len(named):
            raise FrEvalError(f"candidates: row {label} gives gallery_size {sizes[label]}, but its lists name "
                              f"{len(named)} different candidate subjects; a gallery holds every subject a list can "
                              f"name (give the number of enrolled subjects)")
    _check_same_searches(rows)
    return list(rows), rows, sizes


def _check_list(sid: str, s: _Search) -> None:
    s.entries.sort()
    ranks = [e[0] for e in s.entries]
    if ranks != list(range(1, len(ranks) + 1)):
        raise FrEvalError(f"{s.entries[0][3]}: search {sid}'s ranks are {ranks[:6]}: give ranks 1, 2, ... once each")
    scores = [e[2] for e in s.entries]
    if any(b > a for a, b in zip(scores, scores[1:])):
        raise FrEvalError(f"{s.entries[0][3]}: search {sid}'s scores rise with rank (rank 1 must score highest; "
                          f"distances? give similarities, e.g. the negated distance)")
    names = [e[1] for e in s.entries]
    if len(set(names)) != len(names):
        raise FrEvalError(f"{s.entries[0][3]}: search {sid} lists a candidate subject twice (a 1:N candidate list "
                          f"names each enrolled subject once)")
    if s.entries and not s.acquired:
        raise FrEvalError(f"{s.entries[0][3]}: search {sid} has candidates but acquired=false")
    own = next((e for e in s.entries if s.subject is not None and e[1] == s.subject), None)
    if own is not None and not s.mated:
        raise FrEvalError(f"{own[3]}: search {sid} is non-mated (mated=false), yet its list holds its own subject "
                          f"{s.subject} at rank {own[0]}: a non-mated search's subject is not enrolled, so it cannot "
                          f"be a candidate (is mated wrong, or the subject's name?)")


def _check_same_searches(rows: dict) -> None:
    labels = list(rows)
    for label in labels[1:]:
        a, b = set(rows[labels[0]]), set(rows[label])
        if a != b:
            odd = sorted(a ^ b)[0]
            raise FrEvalError(f"candidates: row {label} and row {labels[0]} do not list the same searches (first "
                              f"difference: {odd}); every row must search with the same probes to be compared")
        for sid, s in rows[label].items():
            t = rows[labels[0]][sid]
            if (s.subject, s.mated) != (t.subject, t.mated):
                raise FrEvalError(f"candidates: search {sid} has another subject or mated in row {label} than in "
                                  f"row {labels[0]}")


def tied_at_cut(searches: dict, order: list, size: int) -> np.ndarray:
    """The mated searches whose mate is listed with the score of its list's last entry in a list cut below
    the gallery (fewer than ``size`` candidates): a candidate cut off with the same score would rank ahead of
    the mate (ties count against it, as bob.measure counts them over all candidates), so the listed rank is a
    best case."""
    out = np.zeros(len(order), bool)
    for i, sid in enumerate(order):
        s = searches[sid]
        if not (s.mated and s.acquired and s.entries) or len(s.entries) >= size:
            continue
        mate = next((e[2] for e in s.entries if e[1] == s.subject), None)
        out[i] = mate is not None and mate <= s.entries[-1][2]
    return out


def ties_at_cut(figures: dict, searches: dict, order: list, res, mated, k: int, R: int, label: str) -> list[str]:
    """A row's mates tied with the cut of their list (:func:`tied_at_cut`): counted in ``figures`` with the
    rank-R rate when every such tie goes against the mate (each ranks behind the lists), and said."""
    tied = tied_at_cut(searches, order, res.gallery_size)
    if not tied.any():
        return []
    worst = np.where(tied, k + 1, np.where(res.mated, res.mate_rank, fr_identification.NO_RANK))[mated]
    figures["mates_tied_at_cut"] = int(tied.sum())
    figures[f"rank{R}_if_ties_lose"] = float(fr_identification.cmc(worst, R)[-1])
    return [f"row {label}: {int(tied.sum())} mated search(es) list the mate with the score of the list's last "
            f"candidate in a list cut below the gallery of {res.gallery_size}: a candidate cut off with the same "
            f"score would rank ahead of it, so their ranks are best cases (rank-{R} {100 * figures[f'rank{R}']:.2f}%, "
            f"or {100 * figures[f'rank{R}_if_ties_lose']:.2f}% if every such tie goes against the mate)"]


def search_results(searches: dict, order: list, k: int, size: int | None) -> fr_identification.SearchResults:
    """One row's lists as the streamed search's results: the mate's rank by the same rule (1 + the
    non-mates listed at or above it; a mate not listed ranks beyond the lists, ``k + 1``)."""
    n = len(order)
    names = sorted({e[1] for sid in order for e in searches[sid].entries})
    col = {s: j for j, s in enumerate(names)}
    top_entry, top_score = np.full((n, k), -1, np.int64), np.full((n, k), fr_identification.NO_SCORE, np.float64)
    mate_rank, mate_score = np.zeros(n, np.int64), np.full(n, np.nan)
    mated, acquired = np.zeros(n, bool), np.zeros(n, bool)
    for i, sid in enumerate(order):
        s = searches[sid]
        mated[i], acquired[i] = s.mated, bool(s.acquired)
        for j, (_, cand, score, _) in enumerate(s.entries):
            top_entry[i, j], top_score[i, j] = col[cand], score
        if s.mated and s.acquired:
            mate = next((e[2] for e in s.entries if e[1] == s.subject), None)
            if mate is None:
                mate_rank[i] = k + 1
            else:
                mate_score[i] = mate
                mate_rank[i] = 1 + sum(1 for e in s.entries if e[1] != s.subject and e[2] >= mate)
    return fr_identification.SearchResults(mated=mated, acquired=acquired, mate_score=mate_score, mate_rank=mate_rank,
                           top_score=top_score, top_entry=top_entry,
                           gallery_size=len(names) if size is None else size, subjects=np.array(names, dtype=object))


def import_candidates(cfg: Config, *, progress: bool = True) -> CandidateImportResult:
    """Read ``cfg.candidates`` and compute the identification figures of its rows (``progress``: accepted
    like the other runs' entry points)."""
    path = Path(cfg.candidates).expanduser()
    labels, rows, sizes = parse_lists(read_candidates(path))
    order = list(rows[labels[0]])
    first = rows[labels[0]]
    k = max([len(s.entries) for r in rows.values() for s in r.values()] + [1])
    settings = cfg.identification
    notes, asked = [], settings.max_rank
    if settings.max_rank > k:
        notes.append(f"identification.max_rank={settings.max_rank} is more than the lists' {k} candidates: the CMC "
                     f"and rank-R figures stop at rank {k}")
        settings = replace(settings, max_rank=k)
    units = sorted({first[s].subject if first[s].subject is not None else f"search:{s}" for s in order})
    unit_of = {u: j for j, u in enumerate(units)}
    subj = np.array([unit_of[first[s].subject if first[s].subject is not None else f"search:{s}"] for s in order])
    mated = np.array([first[s].mated for s in order])
    if not mated.any() or mated.all():
        raise FrEvalError(f"candidates={path}: {'no' if not mated.any() else 'every'} search is mated; the figures "
                          f"need mated searches (CMC, FNIR) and non-mated ones (FPIR thresholds)")
    results = {label: search_results(rows[label], order, k, sizes[label]) for label in labels}
    baseline = "1" if "1" in results else labels[0]
    thresholds = fpir_thresholds(results[baseline].top1[~mated].astype(np.float64), settings.fpir,
                                 cfg.report.min_false_matches)
    compared = compared_target(thresholds, settings.fpir)  # where the rows' searches are compared
    out, curves, misses = [], {}, {}
    for label in labels:
        res = results[label]
        figures, curve = row_figures(res, mated, subj, len(units), res.gallery_size, thresholds, settings,
                                     cfg.intervals())
        notes += ties_at_cut(figures, rows[label], order, res, mated, k, settings.max_rank, label)
        out.append({"label": label, "reference_variant": "(from the file)", "probe_variant": "(from the file)",
                    **figures})
        curves[label], misses[label] = curve, search_misses(curve, thresholds, compared)
    pairs = row_pairs(tuple(SimpleNamespace(label=x, scenario=SimpleNamespace(id=x.split(" ")[0])) for x in labels),
                      list(cfg.report.compare or []))
    held = sorted({first[s].subject for s in order if not first[s].mated and first[s].subject is not None})
    split = {"source": path.name, "subjects": len({first[s].subject for s in order if first[s].subject}),
             "enrolled": results[baseline].gallery_size, "gallery_size_given": sizes[baseline] is not None,
             "held_out": len(held), "held_out_subjects": held, "rule": f"the candidate lists of {path.name}",
             "gallery_template": "the file's system's", "max_rank": settings.max_rank, "baseline": baseline,
             "searches_without_subject": int(sum(first[s].subject is None for s in order)),
             "lists_cut": any(len(s.entries) < results[label].gallery_size for label in labels
                              for s in rows[label].values() if s.acquired)}
    split["compared_fpir"] = compared
    if asked > settings.max_rank:
        split["max_rank_asked"] = asked
    ident = Identified(split=split, thresholds=thresholds, rows=out, curves=curves,
                       paired=paired_searches(pairs, misses, subj[mated], len(units), cfg.intervals(),
                                              cfg.report.min_subjects, thresholds),
                       candidates={x: (r.top_entry, r.top_score, r.subjects, r.acquired) for x, r in results.items()},
                       searches=(order, [first[s].subject for s in order], mated))
    inputs = [{"path": str(path.resolve()), "bytes": path.stat().st_size, "sha256": sha256_file(path)}]
    return CandidateImportResult(identification=ident, inputs=inputs, context={"warnings": notes})
