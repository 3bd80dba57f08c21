"""Stage 3, evaluate: a plan's acquisitions -> thresholds fixed on the baseline's impostors, and each
Table 3 row's figures (through :func:`fr_eval.evaluation.row_figures`, the one path to a figure)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import metrics as M
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
from ..scores import BlockComparisons, Comparisons
from ..streaming import ImpostorSummary
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
    comparisons: list  # scores.Comparisons / scores.BlockComparisons records, for the export
    used_impostors: dict  # row label -> the label of the impostor record it used
    row_comparisons: list = field(default_factory=list)  # paired.RowComparison of each report.compare pair


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


def evaluate(plan: Plan, acquired: Acquired, *, export_impostors=None) -> Evaluated:
    """Every row's figures. ``export_impostors(record)``: the impostor record the export writes
    (a sample of it, or None; default: all of it)."""
    side = _Sides(plan, acquired)
    comps = plan.comparisons
    subj = plan.subject_index("reference"), plan.subject_index("probe")
    if plan.stream.executor == "ray":
        ray_executor.init(plan.ray)

    def summary(ref, probe):
        return impostor_summary(ref, probe, comps, *subj, plan.stream)

    base = summary(side("reference", "original"), side("probe", "original"))
    if base.n == 0:
        raise ConfigError("no baseline impostor comparison could be made (too few subjects acquired)")
    threshold_records = {f: fixed_threshold(base, f) for f in plan.fmrs}
    thresholds = {f: r["threshold"] for f, r in threshold_records.items()}
    keep = export_impostors or (lambda rec: rec)
    rows, scores, compared, records, used, samples = [], {}, {}, [], {}, {}
    n_subj, in_fta = len(plan.subjects), plan.fta_references
    for r in plan.rows:
        ref, probe = side("reference", r.reference_variant), side("probe", r.probe_variant)
        samples[r.label] = (np.bincount(subj[0][in_fta], (~ref.ok[in_fta]).astype(float), n_subj)
                            + np.bincount(subj[1], (~probe.ok).astype(float), n_subj),
                            np.bincount(subj[0][in_fta], minlength=n_subj) + np.bincount(subj[1], minlength=n_subj))
        imp = summary(ref, probe) if plan.per_scenario_impostors else base
        figures, gen = _row(plan, r, ref, probe, imp, thresholds)
        rows.append(figures)
        compared[r.label] = (r.reference_variant, r.probe_variant, comps.genuine[compared_mask(ref, probe, comps.genuine)])
        scores[r.label] = {"genuine": gen, "impostor": imp, "subject": subj[1][compared[r.label][2][:, 1]]}
        records.append(Comparisons(r.label, True, comps.genuine, scores_or_nan(ref, probe, comps.genuine)))
        imp_label = r.label if plan.per_scenario_impostors else plan.baseline.id  # the baseline's serve every row
        if not any(x.row == imp_label and not x.genuine for x in records):
            sides = (ref, probe) if plan.per_scenario_impostors else (side("reference", "original"),
                                                                      side("probe", "original"))
            rec = keep(impostor_record(imp_label, *sides, comps, subj, plan.stream.budget_bytes))
            if rec is not None:
                records.append(rec)
        used[r.label] = imp_label
    genuine = {x.row: x.score for x in records if x.genuine}
    return Evaluated(rows=rows, thresholds=thresholds, threshold_records=threshold_records, baseline_impostor=base,
                     n_baseline_impostor_failed=int(comps.n_impostor - base.n), scores=scores,
                     compared=compared, comparisons=records, used_impostors=used,
                     row_comparisons=paired_rows(plan, genuine, scores, thresholds, samples, base.n))


def compared_fmr(fmr: float, fmrs, n_impostor: int, min_false_matches: int) -> tuple[float, bool]:
    """The FMR target the rows are compared at: the run's ``fmr`` where the baseline's ``n_impostor`` scores
    support it (at least ``min_false_matches`` false matches allowed), else the strictest supported target of
    ``fmrs`` looser than it (FMR 1 % where 0.1 % rests on too few impostors), else ``fmr``, unsupported."""
    def ok(f):
        return M.fmr_supported(f, n_impostor, min_false_matches)
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


def impostor_record(label: str, ref: SideData, probe: SideData, comps, subj, budget_bytes: int):
    """The export's record of one row's impostor comparisons (those compared): listed pairs with
    their scores, or every cross-subject pair as blocks, scored again when written."""
    if comps.impostor is None:
        return BlockComparisons(label, ref.emb, subj[0], ref.ok, probe.emb, subj[1], probe.ok, budget_bytes)
    s, both = pair_scores(ref, probe, comps.impostor)
    return Comparisons(label, False, comps.impostor[both], s)


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
