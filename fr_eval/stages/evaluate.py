"""Stage 3, evaluate: a plan's acquisitions -> thresholds fixed on the baseline's impostors, and each
Table 3 row's figures (through :func:`fr_eval.evaluation.row_figures`, the one path to a figure)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from .. import metrics
from .. import ray_executor
from ..errors import ConfigError
from ..evaluation import (
    RowScores,
    SideData,
    breakdown,
    compared_mask,
    fixed_threshold,
    impostor_summary,
    pair_scores,
    pairs_accuracy,
    row_figures,
    scores_or_nan,
)
from ..paired import adjust_family, compare_rows
from ..scan_taps import HighCells, ScoreSample, ScoreSpill
from ..scores import Comparisons
from ..streaming import ImpostorSummary, count_cross_subject
from ..systems.base import metric_of
from .acquire import Acquired
from .plan import Plan, Row


@dataclass(frozen=True)
class Evaluated:
    rows: list  # one figures dict per Table 3 row (as metrics.json holds them)
    thresholds: dict  # FMR target -> threshold, fixed on the baseline's impostor scores
    threshold_records: dict  # FMR target -> fixed_threshold(): the threshold, n, achieved FMR, allowed matches
    baseline_impostor: ImpostorSummary  # the baseline's compared impostor scores, summarised
    n_baseline_impostor_failed: int  # impostor pairs not compared (a sample failed)
    scores: dict  # row label -> {"genuine": compared scores, "impostor": ImpostorSummary}
    compared: dict  # row label -> (reference variant, probe variant, (n, 2) pairs of the genuine scores)
    comparisons: list  # scores.Comparisons / scores.SpilledComparisons records, for the export
    used_impostors: dict  # row label -> the label of the impostor record it used
    row_comparisons: list = field(default_factory=list)  # paired.RowComparison of each report.compare pair
    #: (reference variant, probe variant) -> the scan's high cells (:class:`fr_eval.scan_taps.HighCells`): the
    #: false matches the differentials count, found in the same pass (when asked; None for listed pairs)
    high_cells: dict = field(default_factory=dict)
    impostor_products_needed: int = 0  # the cells of every distinct pair of variants scanned (each made once)


@dataclass(frozen=True)
class ExportPlan:
    """What the score export keeps of a pair of variants' impostor comparisons, decided before the scan
    writes it: ``how(n)`` for n comparisons gives ``all``, ``sample`` (a seeded sample of ``sample``) or
    ``none``."""

    how: Callable[[int], str] = lambda n: "all"
    sample: int = 0
    seed: int = 0


@dataclass
class Scanned:
    """One pair of variants' impostor scan: the summary and what rode along (the export's record, unlabelled;
    the high cells)."""

    summary: ImpostorSummary
    export: object = None
    high: HighCells | None = None

    def record(self, label: str):
        """The export's record under a row's label (None: the export keeps none of them)."""
        return None if self.export is None else replace(self.export, row=label)


class _Sides:
    """SideData per (role, variant), built once."""

    def __init__(self, plan: Plan, acquired: Acquired):
        self.plan, self.acqs, self._cache = plan, acquired.acquisitions, {}
        self.metric = metric_of(acquired.system)

    def __call__(self, role: str, variant: str) -> SideData:
        if (role, variant) not in self._cache:
            self._cache[role, variant] = SideData.from_acquisitions(
                [self.acqs[(s.rel, variant)] for s in self.plan.samples(role)], self.metric, role)
        return self._cache[role, variant]


def evaluate(plan: Plan, acquired: Acquired, *, export: ExportPlan | None = None,
             false_matches: bool = False) -> Evaluated:
    """Every row's figures. ``export``: what the score export keeps of the impostor comparisons (default: all
    of them); ``false_matches``: keep the scans' high cells for the differentials. Each distinct pair of
    variants' impostors is scanned once, and the export and the high cells ride along that pass."""
    side = _Sides(plan, acquired)
    comps = plan.comparisons
    subj = plan.subject_index("reference"), plan.subject_index("probe")
    if plan.stream.executor == "ray":
        ray_executor.init(plan.ray)
    scans: dict = {}

    def scan(rv: str, pv: str) -> Scanned:
        if (rv, pv) not in scans:
            scans[rv, pv] = scan_impostors(plan, side("reference", rv), side("probe", pv), subj,
                                           export or ExportPlan(), false_matches)
        return scans[rv, pv]

    base = scan("original", "original").summary
    if base.n == 0:
        raise ConfigError("no baseline impostor comparison could be made (too few subjects acquired)")
    threshold_records = {f: fixed_threshold(base, f) for f in plan.fmrs}
    thresholds = {f: r["threshold"] for f, r in threshold_records.items()}
    rows, scores, compared, records, used, samples = [], {}, {}, [], {}, {}
    n_subj, in_fta = len(plan.subjects), plan.fta_references
    for r in plan.rows:
        ref, probe = side("reference", r.reference_variant), side("probe", r.probe_variant)
        samples[r.label] = (np.bincount(subj[0][in_fta], (~ref.ok[in_fta]).astype(float), n_subj)
                            + np.bincount(subj[1], (~probe.ok).astype(float), n_subj),
                            np.bincount(subj[0][in_fta], minlength=n_subj) + np.bincount(subj[1], minlength=n_subj))
        own = scan(r.reference_variant, r.probe_variant) if plan.per_scenario_impostors else scan("original", "original")
        imp = own.summary
        figures, gen = _row(plan, r, ref, probe, imp, thresholds)
        rows.append(figures)
        compared[r.label] = (r.reference_variant, r.probe_variant, comps.genuine[compared_mask(ref, probe, comps.genuine)])
        scores[r.label] = {"genuine": gen, "impostor": imp, "subject": subj[1][compared[r.label][2][:, 1]]}
        records.append(Comparisons(r.label, True, comps.genuine, scores_or_nan(ref, probe, comps.genuine)))
        imp_label = r.label if plan.per_scenario_impostors else plan.baseline.id  # the baseline's serve every row
        if not any(x.row == imp_label and not x.genuine for x in records):
            rec = own.record(imp_label)
            if rec is not None:
                records.append(rec)
        used[r.label] = imp_label
    genuine = {x.row: x.score for x in records if x.genuine}
    needed = sum(int(side("reference", rv).ok.sum()) * int(side("probe", pv).ok.sum())
                 for rv, pv in scans) if comps.impostor is None else 0
    return Evaluated(rows=rows, thresholds=thresholds, threshold_records=threshold_records, baseline_impostor=base,
                     n_baseline_impostor_failed=int(comps.n_impostor - base.n), scores=scores,
                     compared=compared, comparisons=records, used_impostors=used,
                     row_comparisons=paired_rows(plan, genuine, scores, thresholds, samples, base.n),
                     high_cells={k: v.high for k, v in scans.items()}, impostor_products_needed=needed)


def scan_impostors(plan: Plan, ref: SideData, probe: SideData, subj: tuple, export: ExportPlan,
                   false_matches: bool) -> Scanned:
    """One pair of variants' impostors, summarised in one pass over their products that also writes the
    export's share of them (all, or a seeded sample) and, when ``false_matches``, keeps the high cells.
    Listed impostor pairs (a pairs protocol, a sample) are gathered, not made by products."""
    comps = plan.comparisons
    if comps.impostor is not None:
        s, both = pair_scores(ref, probe, comps.impostor)
        summary = impostor_summary(ref, probe, comps, *subj, plan.stream)
        rec = Comparisons("", False, comps.impostor[both], s)
        how = export.how(len(rec))
        rec = None if how == "none" else rec.sample(export.sample, export.seed) if how == "sample" else rec
        return Scanned(summary, rec)
    r_idx, p_idx = np.flatnonzero(ref.ok), np.flatnonzero(probe.ok)
    sides = (r_idx, subj[0][r_idx], p_idx, subj[1][p_idx])
    how = export.how(count_cross_subject(sides[1], sides[3]))
    out = ScoreSpill(*sides) if how == "all" else ScoreSample(*sides, export.sample, export.seed) \
        if how == "sample" else None
    high = HighCells(r_idx, p_idx, max(plan.fmrs)) if false_matches else None
    summary = impostor_summary(ref, probe, comps, *subj, plan.stream, taps=[t for t in (out, high) if t is not None])
    return Scanned(summary, None if out is None else out.record(""), high)


def compared_fmr(fmr: float, fmrs, n_impostor: int, min_false_matches: int) -> tuple[float, bool]:
    """The FMR target the rows are compared at: the run's ``fmr`` where the baseline's ``n_impostor`` scores
    support it (at least ``min_false_matches`` false matches allowed), else the strictest supported target of
    ``fmrs`` looser than it (FMR 1 % where 0.1 % rests on too few impostors), else ``fmr``, unsupported."""
    def ok(f):
        return metrics.fmr_supported(f, n_impostor, min_false_matches)
    if ok(fmr):
        return fmr, True
    looser = sorted(f for f in fmrs if f > fmr and ok(f))
    return (looser[0], True) if looser else (fmr, False)


def paired_rows(plan: Plan, genuine: dict, scores: dict, thresholds: dict, samples: dict, n_impostor: int) -> list:
    """Each ``report.compare`` pair of rows, attempt by attempt, at the threshold of the first supported operating
    point (:func:`compared_fmr`): the paper's FRR (``samples``: each row's failed samples and samples per subject),
    the tests Holm-adjusted over the run's pairs (one family)."""
    fmr, ok = compared_fmr(plan.fmr, plan.fmrs, n_impostor, plan.min_false_matches)
    attempt_subject = plan.subject_index("probe")[plan.comparisons.genuine[:, 1]]
    moments = {k: (v["impostor"].mean, v["impostor"].var) for k, v in scores.items()}
    return adjust_family([compare_rows(a, b, genuine[a], genuine[b], attempt_subject, len(plan.subjects),
                                       thresholds[fmr], moments[a], moments[b], bootstrap=plan.bootstrap,
                                       samples_a=samples[a], samples_b=samples[b], min_subjects=plan.min_subjects,
                                       operating_point=f"FMR<={100 * fmr:g}%", supported=ok, fmr=fmr)
                          for a, b in plan.row_pairs])


def _row(plan: Plan, r: Row, ref: SideData, probe: SideData, imp: ImpostorSummary, thresholds: dict):
    comps, n = plan.comparisons, len(plan.subjects)
    ref_subj, probe_subj = plan.subject_index("reference"), plan.subject_index("probe")
    rs = RowScores.from_sides(ref, probe, comps.genuine, imp, ref_subj, probe_subj, n, plan.fta_references)
    figures, gen = row_figures(rs, thresholds=thresholds, fmr_target=plan.fmr, bootstrap=plan.bootstrap)
    if comps.genuine_folds is not None:
        figures["pairs_accuracy"] = pairs_accuracy(ref, probe, comps)
    if plan.breakdown_values:
        figures["breakdown"] = {k: breakdown(values=v, ref=ref, probe=probe, genuine_pairs=comps.genuine,
                                             threshold=thresholds[plan.fmr], probe_subject_idx=probe_subj,
                                             n_subjects=n, bootstrap=plan.bootstrap)
                                for k, v in plan.breakdown_values.items()}
    head = {"scenario": r.scenario.id, "colouriser": r.colouriser, "label": r.label,
            "reference_variant": r.reference_variant, "probe_variant": r.probe_variant,
            "impostor_scores_from": "this scenario" if plan.per_scenario_impostors
            else f"scenario {plan.baseline.id} (baseline)"}
    return {**head, **figures}, gen
