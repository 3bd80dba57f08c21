"""Stage 3b, identify (``protocol=identification``): each scenario row as a 1:N search. The gallery takes
the row's reference variant (one candidate per enrolled subject), the searches its probe variant: the
probes of enrolled subjects are mated searches, those of the held-out subjects non-mated ones. The
FPIR thresholds are fixed on the baseline row's non-mated searches and reused unchanged in every row,
as the FMR thresholds are. The figures are :mod:`fr_eval.identification`'s."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .. import identification
from .. import metrics
from ..errors import ConfigError

#: the mark of a figure at an operating point the data do not support (as the report prints it)
DAGGER = "\u2020"
from ..evaluation import SideData, gallery_templates
from ..paired import ci_words, clear_difference, p_text, paired_rate_difference
from ..systems.base import metric_of
from .acquire import Acquired
from .plan import Split


@dataclass(frozen=True)
class Identified:
    split: dict  # Split.describe()
    thresholds: dict  # FPIR target -> {threshold, n_nonmated, fpir_achieved, allowed_false_alarms}
    rows: list  # one figures dict per scenario row (fractions)
    curves: dict  # row label -> {"cmc": (R,) array, "tradeoff": (thresholds, fpir, fnir) at rank 1}
    paired: list = ()  # report.compare's pairs of rows on the same mated searches (dicts, Holm-adjusted)
    by_size: list = ()  # identification.gallery_sizes: per (gallery size, row) rank-1, FPIR and FNIR
    #: the candidate lists: row label -> (top_entry (n, k), top_score (n, k), the gallery's subjects, acquired (n,))
    candidates: dict = None
    searches: tuple = ()  # (each search's sample id, its subject, mated) in the order of the candidate lists


def gallery(plan, acquired: Acquired, variant: str, split: Split, metric: str) -> tuple[np.ndarray, list]:
    """The gallery in one variant (:func:`fr_eval.evaluation.gallery_templates` of the acquired references of
    the enrolled subjects): (entries' score vectors, their subjects)."""
    refs = plan.samples("reference")
    subj_idx = plan.subject_index("reference")
    acqs = [acquired.acquisitions[(s.rel, variant)] for s in refs]
    keep = [i for i, a in enumerate(acqs) if a.ok and split.enrolled[subj_idx[i]]]
    raw = np.stack([acqs[i].embedding.ravel() for i in keep]) if keep else np.zeros((0, 0), np.float32)
    return gallery_templates(raw, [refs[i].subject for i in keep], split.settings.gallery_template, metric)


def identify(plan, acquired: Acquired, split: Split, min_false_alarms: int = 1) -> Identified:
    """Every row searched; the FPIR thresholds fixed on the baseline row (original x original). A target
    whose non-mated searches allow fewer than ``min_false_alarms`` false alarms (report.min_false_matches)
    is marked unsupported."""
    metric = metric_of(acquired.system)
    asked, n_enrolled = split.settings.max_rank, int(split.enrolled.sum())
    if asked > n_enrolled:  # a rank beyond the gallery is every enrolled subject: a rate of 100 % that says nothing
        split = replace(split, settings=replace(split.settings, max_rank=n_enrolled))
    settings = split.settings
    probes = plan.samples("probe")
    probe_subj = plan.subject_index("probe")
    mated = split.enrolled[probe_subj]
    names = [s.subject for s in probes]
    sides = probe_sides(plan, acquired, metric)

    def search(ref_variant, probe_variant):
        side = sides(probe_variant)
        emb, subjects = gallery(plan, acquired, ref_variant, split, metric)
        if len(subjects) == 0:
            emb = np.zeros((0, side.emb.shape[1]), np.float32)
        return identification.search_gallery(side.emb, names, emb, subjects, k=settings.max_rank, search_ok=side.ok,
                                budget_bytes=plan.stream.budget_bytes, executor=plan.stream.executor)

    if not mated.any():
        raise ConfigError("identification: no probe of an enrolled subject, so no mated search (the enrolled "
                          "subjects have reference images only); give a dataset with probes of them")
    base = search("original", "original")
    top1 = base.top1[~mated].astype(np.float64)
    if not np.isfinite(top1).any():
        raise ConfigError("identification: no non-mated search of the baseline returned a candidate (every "
                          "held-out probe failed to acquire); the FPIR thresholds cannot be fixed")
    thresholds = fpir_thresholds(top1, settings.fpir, min_false_alarms)
    compared = compared_target(thresholds, settings.fpir)  # where the rows' searches are compared
    rows, curves, misses, candidates = [], {}, {}, {}
    for r in plan.rows:
        res = base if (r.reference_variant, r.probe_variant) == ("original", "original") else \
            search(r.reference_variant, r.probe_variant)
        figures, curve = row_figures(res, mated, probe_subj, len(plan.subjects), int(split.enrolled.sum()),
                                     thresholds, settings, plan.bootstrap)
        rows.append({"label": r.label, "reference_variant": r.reference_variant, "probe_variant": r.probe_variant,
                     **figures})
        curves[r.label] = curve
        candidates[r.label] = (res.top_entry, res.top_score, res.subjects, res.acquired)
        misses[r.label] = search_misses(curve, thresholds, compared)
    paired = paired_searches(plan.row_pairs, misses, probe_subj[mated], len(plan.subjects), plan.bootstrap,
                             plan.min_subjects, thresholds)
    described = split.describe(plan.subjects, plan.dataset.reference_only)
    described["compared_fpir"] = compared
    if asked > n_enrolled:
        described["max_rank_asked"] = asked
    return Identified(split=described, thresholds=thresholds,
                      rows=rows, curves=curves, paired=paired, candidates=candidates, searches=([s.rel for s in probes], names, mated),
                      by_size=by_gallery_size(plan, acquired, split, metric, sides))


def fpir_thresholds(top1: np.ndarray, targets, min_false_alarms: int) -> dict:
    """The threshold of each FPIR target on the baseline's non-mated searches' top scores (float64), by the
    conservative rule, with what the report states beside it."""
    out = {}
    for t in targets:
        thr = identification.threshold_at_fpir(top1, t)
        out[t] = {"threshold": thr, "n_nonmated": int(top1.size), "fpir_achieved": identification.fpir(top1, thr),
                  "allowed_false_alarms": metrics.allowed_false_matches(t, top1.size),
                  "supported": metrics.fmr_supported(t, top1.size, min_false_alarms)}
    return out


def compared_target(thresholds: dict, targets) -> float:
    """The FPIR target the paired comparisons compare at: the first of ``targets`` whose threshold the non-mated
    searches support (report.min_false_matches false alarms allowed), else the first (its comparisons are then
    flagged unsupported and draw no conclusion)."""
    return next((t for t in targets if thresholds[t]["supported"]), targets[0])


def search_misses(curve: dict, thresholds: dict, first: float) -> dict:
    """A row's mated searches missed at rank 1, and at rank 1 at the FPIR threshold ``first``
    (:func:`compared_target`: what the paired comparisons compare); the mates' ranks and scores leave ``curve``
    (they are not plotted)."""
    rank, score = curve.pop("rank"), curve.pop("score")
    return {"rank 1": rank != 1,
            f"rank 1 at T(FPIR<={100 * first:g}%)": ~((rank == 1) & (score >= thresholds[first]["threshold"]))}


def probe_sides(plan, acquired: Acquired, metric: str):
    """The searches' score vectors per probe variant, built once for every row and gallery size."""
    probes, cache = plan.samples("probe"), {}

    def side(variant: str) -> SideData:
        if variant not in cache:
            cache[variant] = SideData.from_acquisitions([acquired.acquisitions[(s.rel, variant)] for s in probes],
                                                        metric, "probe")
        return cache[variant]
    return side


def by_gallery_size(plan, acquired: Acquired, split: Split, metric: str, sides) -> list[dict]:
    """The figures with the gallery cut to its first N enrolled subjects (the draw's order), for each N of
    ``identification.gallery_sizes``: mated searches are those of the N, non-mated ones every held-out probe;
    each size fixes its own FPIR thresholds on the baseline's non-mated searches (a larger gallery offers
    more candidates to a non-mated search, so the same threshold alarms more)."""
    probes, probe_subj = plan.samples("probe"), plan.subject_index("probe")
    names = np.array([s.subject for s in probes], dtype=object)
    out = []
    for n in split.settings.gallery_sizes:
        sub = np.zeros_like(split.enrolled)
        sub[split.order[:n]] = True
        part = replace(split, enrolled=sub)
        keep = sub[probe_subj] | ~split.enrolled[probe_subj]
        mated = sub[probe_subj][keep]

        def search(ref_variant, probe_variant):
            side = sides(probe_variant)
            emb, subjects = gallery(plan, acquired, ref_variant, part, metric)
            res = identification.search_gallery(side.emb[keep], names[keep], emb, subjects, k=1, search_ok=side.ok[keep],
                                   budget_bytes=plan.stream.budget_bytes, executor=plan.stream.executor)
            rank = np.where(res.mated, res.mate_rank, identification.NO_RANK)[mated]
            return rank, np.where(res.mated, res.mate_score, np.nan).astype(np.float64)[mated], \
                res.top1[~mated].astype(np.float64)

        _, _, base_top1 = search("original", "original")
        thr = {t: identification.threshold_at_fpir(base_top1, t) for t in split.settings.fpir}
        for r in plan.rows:
            rank, score, top1 = search(r.reference_variant, r.probe_variant)
            out.append({"gallery_size": n, "row": r.label, "mated_searches": int(mated.sum()),
                        "nonmated_searches": int((~mated).sum()), "rank1": float(identification.cmc(rank, 1)[0]),
                        "at_fpir": {t: {"threshold": T, "fpir": identification.fpir(top1, T), "fnir_rank1": identification.fnir(rank, score, 1, T)}
                                    for t, T in thr.items()}})
    return out


def paired_searches(pairs, misses: dict, subject, n_subjects: int, bootstrap, min_subjects: int,
                    thresholds: dict | None = None) -> list[dict]:
    """Two rows on the same mated searches (``report.compare``'s pairs): the miss rate at rank 1, and at rank 1
    at the first FPIR threshold, b minus a, with a paired subject-bootstrap interval and a paired permutation
    test whose unit is the subject (a subject's searches in both rows swapped together: McNemar's question,
    asked of subjects, since a subject's searches are not independent); the tests Holm-adjusted as one family."""
    kw = metrics.interval_kwargs(bootstrap)
    n_with = int(len(np.unique(subject)))
    out = []
    for a, b in pairs:
        for what in misses[a]:
            ea, eb = misses[a][what], misses[b][what]
            diff, iv = paired_rate_difference(ea, eb, subject, n_subjects, **kw)
            counts = [{"e": np.bincount(subject, e.astype(float), n_subjects),
                       "t": np.bincount(subject, minlength=n_subjects).astype(float)} for e in (ea, eb)]
            test = metrics.paired_permutation_test(*counts, lambda e, t: e / np.maximum(t, 1), seed=kw["seed"])
            target = next((t for t in thresholds or {} if what.endswith(f"T(FPIR<={100 * t:g}%)")), None)
            out.append({"a": a, "b": b, "figure": f"FNIR {what} (miss rate of mated searches)",
                        "a_value": float(ea.mean()), "b_value": float(eb.mean()), "difference": diff,
                        "interval": {"low": iv.low, "high": iv.high, "method": iv.method}, "test": test,
                        "subjects": n_with, "small_sample": n_with < min_subjects,
                        "supported": target is None or bool(thresholds[target]["supported"])})
    for c, p in zip(out, metrics.holm([c["test"]["p_value"] for c in out]) if out else []):
        c["test"]["p_holm"], c["test"]["family"] = float(p), len(out)
        c["sentence"] = search_sentence(c)
    return out


def search_sentence(c: dict) -> str:
    """Does row b find people more often than row a? One plain sentence, a direction only where the interval
    excludes 0 and the Holm-adjusted test agrees (:func:`fr_eval.paired.clear_difference`)."""
    figures = (f"{c['figure']}: {100 * c['a_value']:.2f}% in {c['a']} vs {100 * c['b_value']:.2f}% in {c['b']}, "
               f"b - a = {100 * c['difference']:+.2f} points, "
               f"{ci_words(c['interval']['low'], c['interval']['high'], 0.95)}; paired permutation test over "
               f"{c['subjects']} subjects, "
               f"{p_text(c['test'])}, Holm-adjusted over the {c['test']['family']} tests p = {c['test']['p_holm']:.2g}")
    if not c.get("supported", True):
        return (f"search in {c['b']} against {c['a']} at an unsupported operating point{DAGGER} (too few non-mated "
                f"searches for this FPIR target), no conclusion ({figures})")
    if c["small_sample"]:
        return f"search in {c['b']} against {c['a']}: n too small ({c['subjects']} subjects), no conclusion ({figures})"
    if not clear_difference(c["interval"], c["test"]):
        return f"no clear difference between search in {c['b']} and in {c['a']} ({figures})"
    return (f"search in {c['b']} misses {abs(100 * c['difference']):.2f} points {'more' if c['difference'] > 0 else 'fewer'}"
            f" mated searches than in {c['a']} ({figures})")


def _interval(errors, subject, n_subjects, bootstrap) -> dict:
    """A rate's 95 % interval, resampling subjects (rule of 3 at zero errors)."""
    e = np.bincount(subject, np.asarray(errors, float), n_subjects)
    t = np.bincount(subject, minlength=n_subjects).astype(float)
    iv = metrics.rate_interval(e, t, **metrics.interval_kwargs(bootstrap))
    return {"low": iv.low, "high": iv.high, "method": iv.method}


def _complement(interval: dict) -> dict:
    """The interval of 1 - a rate from the rate's interval."""
    return {**interval, "low": 1.0 - interval["high"], "high": 1.0 - interval["low"]}


def row_figures(res: identification.SearchResults, mated, probe_subj, n_subjects, n_enrolled, thresholds, settings, bootstrap):
    """One row's identification figures (fractions) and curves: ``mated`` marks the searches whose subject
    was drawn into the gallery (a subject whose references all failed to acquire is still one: its searches
    are misses, and it counts as a failure to enrol)."""
    # float64 from here on: a threshold just above a float32 score must not round back onto it
    rank = np.where(res.mated, res.mate_rank, identification.NO_RANK)[mated]  # an enrolled subject that failed to enrol: miss
    score = np.where(res.mated, res.mate_score, np.nan).astype(np.float64)[mated]
    top1 = res.top1[~mated].astype(np.float64)
    R = settings.max_rank
    cmc = identification.cmc(rank, R)
    subj_m, subj_n = probe_subj[mated], probe_subj[~mated]
    hit1 = (rank == 1)
    out = {"gallery_size": res.gallery_size, "mated_searches": int(mated.sum()),
           "nonmated_searches": int((~mated).sum()),
           "mated_fta": float(1 - res.acquired[mated].mean()), "nonmated_fta": float(1 - res.acquired[~mated].mean()),
           "enrolled_subjects": n_enrolled, "failed_to_enrol": int(n_enrolled - res.gallery_size),
           "rank1": float(cmc[0]), "rank1_interval": _complement(_interval(~hit1, subj_m, n_subjects, bootstrap)),
           f"rank{R}": float(cmc[-1]),
           "cmc": cmc.tolist(),
           "fnir_rank1_investigation": identification.fnir(rank, score, 1, -np.inf),
           f"fnir_rank{R}_investigation": identification.fnir(rank, score, R, -np.inf),
           "at_fpir": {}}
    for t, rec in thresholds.items():
        T = rec["threshold"]
        miss = ~((rank == 1) & (score >= T))
        alarm = top1 >= T
        out["at_fpir"][t] = {"threshold": T, "fpir": identification.fpir(top1, T),
                             "fpir_interval": _interval(alarm, subj_n, n_subjects, bootstrap),
                             "fnir_rank1": identification.fnir(rank, score, 1, T),
                             "fnir_rank1_interval": _interval(miss, subj_m, n_subjects, bootstrap),
                             f"fnir_rank{R}": identification.fnir(rank, score, R, T)}
    return out, {"cmc": cmc, "tradeoff": identification.tradeoff(rank, score, top1, rank=1), "rank": rank, "score": score}
