"""A scenario run's result: the evaluate stage's figures with everything the report shows beside them
(Table 1, samples and failures, the run's context, quality figures, the score export's rule)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import metrics
from .. import streaming
from ..evaluation import separation_warnings
from ..settings import Config, Report
from ..systems import substitute_warnings
from .acquire import Acquired
from .differentials import differentials
from .evaluate import ExportPlan, compared_fmr, evaluate
from .identify import identify
from .plan import Plan
from .quality import quality_figures


@dataclass
class RunResult:
    rows: list[dict]
    table1: dict
    failures: list[dict]
    samples: list[dict]  # one per (sample, variant): acquired or not, why, detection
    scores: dict  # row label -> {"genuine": array, "impostor": array}
    context: dict = field(default_factory=dict)
    examples: list = field(default_factory=list)  # rows of (label, image) tiles for Fig. 2
    changes: list = field(default_factory=list)  # rows of (label, tiles) for Fig. 5 (acquired in one variant only)
    quality: dict = field(default_factory=dict)  # Table 2, per-variant values, EDC (when quality=[...])
    #: every comparison by index pair, for the score export (scores.Comparisons), which impostor
    #: record each row used, and (reference ids, probe ids, reference subjects, probe subjects)
    comparisons: list = field(default_factory=list)
    used_impostors: dict = field(default_factory=dict)
    ids: tuple = ()
    embeddings: tuple = ()  # (acquisitions, dataset) when report.export_embeddings
    row_comparisons: list = field(default_factory=list)  # paired comparisons of rows (dicts, report.compare)
    identification: object = None  # protocol=identification: stages.identify.Identified
    differentials: object = None  # report.differentials: stages.differentials.Differentials


def assemble(plan: Plan, acquired: Acquired, cfg: Config, t0: float) -> RunResult:
    """The evaluate stage's figures with everything the report shows beside them; the products its stages
    make are counted for this run alone (:func:`fr_eval.streaming.products_counted`)."""
    with streaming.products_counted() as made:
        return _assemble(plan, acquired, cfg, t0, made)


def _assemble(plan: Plan, acquired: Acquired, cfg: Config, t0: float, made) -> RunResult:
    t_eval = time.perf_counter()
    ev = evaluate(plan, acquired, export=export_plan(cfg), false_matches=cfg.report.differentials)
    timings = {"plan_and_acquire_s": t_eval - t0, "evaluate_s": time.perf_counter() - t_eval}
    samples = sample_rows(plan, acquired)
    failures = [{**{k: x[k] for k in ("variant", "role", "subject", "path", "reason")}, "kind": x["failure_kind"]}
                for x in samples if not x["acquired"]]
    ds, comps = plan.dataset, plan.comparisons
    table1 = {"dataset": ds.name, "subjects": len(ds.subjects), "references": len(ds.references),
              "probes": len(ds.probes), "genuine": int(len(comps.genuine)), "impostor": comps.n_impostor,
              **({"reference_only_subjects": len(ds.reference_only)} if ds.reference_only else {})}
    context = run_context(plan, acquired, ev, cfg)
    context["wall_time_s"] = time.perf_counter() - t0
    if acquired.changes:
        context["acquisition_changes"] = acquired.changes["counts"]
    quality = {}
    if plan.estimators:
        quality = quality_figures(ds, plan.estimators, acquired.quality, list(plan.needed), ev.scores, ev.compared,
                                  ev.thresholds[plan.fmr], cfg.edc.max_discard, plan.bootstrap)
        context["quality"] = {e.name: {"unit": e.unit, "higher_is_better": e.higher_is_better,
                                       "settings": e.settings()} for e in plan.estimators}
    diff = None
    if cfg.report.differentials:  # at the first supported operating point, as the paired comparisons
        fmr, ok = compared_fmr(plan.fmr, plan.fmrs, ev.baseline_impostor.n, plan.min_false_matches)
        t = time.perf_counter()
        diff = differentials(plan, acquired, ev.scores, ev.thresholds[fmr], cfg, high=ev.high_cells)
        diff.settings.update(operating_point=f"FMR<={100 * fmr:g}%", fmr=fmr, supported=ok)
        timings["differentials_s"] = time.perf_counter() - t
    if diff is not None:
        context["warnings"] = [*context.get("warnings", []), *diff.notes]
    t = time.perf_counter()
    ident = identify(plan, acquired, plan.identification, cfg.report.min_false_matches) if plan.identification else None
    if ident is not None:
        timings["identification_s"] = time.perf_counter() - t
    context["timings"] = {**timings, "products": {k: int(v) for k, v in made.items() if v},
                          "impostor_products_needed": ev.impostor_products_needed,
                          "note": "products: scores made by matrix products from the evaluate stage on, by purpose "
                                  "(cross_subject: the impostor scans, each distinct pair of variants once when it "
                                  "equals impostor_products_needed, the acquired references x probes of each)"}
    ids = tuple(np.array(x, dtype=object) for x in ([s.rel for s in ds.references], [s.rel for s in ds.probes],
                                                     [s.subject for s in ds.references], [s.subject for s in ds.probes]))
    return RunResult(rows=ev.rows, table1=table1, failures=failures, samples=samples, scores=ev.scores,
                     context=context, comparisons=ev.comparisons, used_impostors=ev.used_impostors, ids=ids,
                     examples=acquired.examples, changes=acquired.changes.get("rows", []), quality=quality,
                     row_comparisons=[c.as_dict() for c in ev.row_comparisons],
                     identification=ident,
                     differentials=diff)


#: the detected face's box in samples.csv, one number per column (image pixels)
BBOX = ("x1", "y1", "x2", "y2")


def sample_rows(plan: Plan, acquired: Acquired) -> list[dict]:
    """One row per (sample, variant) for samples.csv: acquired or not, why, the detection."""
    role_of = {}
    for smp in plan.dataset.references + plan.dataset.probes:  # in pairs protocols an image can be on both sides
        role, subject = role_of.get(smp.rel, ("", smp.subject))
        role_of[smp.rel] = (smp.role if not role or role == smp.role else "reference+probe", subject)
    out = []
    for (rel, vname), a in sorted(acquired.acquisitions.items()):
        role, subject = role_of.get(rel, ("", ""))
        d = a.detection
        out.append({"variant": vname, "role": role, "subject": subject, "path": rel, "acquired": a.ok,
                    "failure_kind": "" if a.ok else a.kind, "reason": a.reason or "",
                    "det_score": "" if d is None else round(float(d.score), 4),
                    "n_faces": "" if d is None else d.n_faces,
                    **{f"bbox_{k}": "" if d is None else round(float(v), 1)
                       for k, v in zip(BBOX, d.bbox if d is not None else [None] * 4)}})
    return out


def run_context(plan: Plan, acquired: Acquired, ev, cfg: Config) -> dict:
    """What metrics.json says of the run besides its rows: dataset, protocol, system, thresholds."""
    ds, sset, imp = plan.dataset, plan.scenario_set, ev.baseline_impostor
    return {
        "dataset": {**ds.summary(), "settings": ds.settings, "excluded": ds.excluded, "ignored": ds.ignored,
                    "problems": ds.problems},
        "comparisons": plan.comparisons.summary(),
        "system": acquired.system,
        "system_choice": acquired.system_note,
        "colourisers": {c.name: c.settings() for c in plan.colourisers},
        "colouriser_descriptions": {c.name: getattr(c, "description", "") for c in plan.colourisers
                                    if getattr(c, "description", "")},
        "colouriser_stand_ins": {c.name: c.stand_in for c in plan.colourisers if getattr(c, "stand_in", "")},
        "scenario_set": {"name": sset.name, "source": sset.source, "baseline": sset.baseline,
                         "definitions": {k: v.__dict__ for k, v in sset.scenarios.items()}},
        "thresholds": {f: {**r, "supported": metrics.fmr_supported(f, imp.n, cfg.report.min_false_matches)}
                       for f, r in ev.threshold_records.items()},
        "impostor_scores": imp.describe(),
        "score_export_impostors": (export_rule(imp.n, cfg.report, cfg.impostor_keep_all) if cfg.report.export
                                   else "none (report.export=false)"),
        "baseline_impostor_failed_pairs": ev.n_baseline_impostor_failed,
        "engine": acquired.stats.as_dict(),
        "warnings": substitute_warnings(acquired.system_note) + data_warnings(ds, ev.rows),
    }


def data_warnings(ds, rows: list) -> list[str]:
    """What a reader must see beside the figures about the data: images under two subjects that were
    kept (dataset.duplicates=keep), and scores that barely separate."""
    out = []
    dup, near = ds.settings.get("duplicates") or {}, ds.settings.get("near_duplicates") or {}
    if dup.get("cross_subject_groups") and dup.get("policy") == "keep":
        out.append(f"{dup['cross_subject_groups']} image(s) appear under two or more subjects and were kept "
                   f"(dataset.duplicates=keep): each is an impostor comparison of a face with itself; see the "
                   f"dataset's problems")
    if near.get("pairs") and near.get("policy") == "keep":
        out.append(f"{near['pairs']} cross-subject pair(s) score at or above dataset.near_duplicates="
                   f"{near['threshold']:g} and were kept (dataset.duplicates=keep)")
    return out + separation_warnings(rows, "check the recogniser (its model file and input normalisation) and "
                                           "that each folder holds one person")


def export_rule(n: int, report: Report, keep_all: int) -> str:
    """What the score export writes of ``n`` impostor comparisons: ``report.export_impostors``,
    with ``auto`` resolved (all of them when at most ``keep_all`` = ``impostor_keep_all``, else a sample)."""
    how = report.export_impostors
    if how == "auto":
        how = "all" if n <= keep_all else "sample"
    if how == "sample" and n <= report.export_sample:
        how = "all"
    return how


def export_plan(cfg: Config) -> ExportPlan:
    """What the score export keeps of each scan's impostor comparisons (see :func:`export_rule`; nothing
    when ``report.export`` is off): decided before the scan, which writes it."""
    def how(n: int) -> str:
        return export_rule(n, cfg.report, cfg.impostor_keep_all) if cfg.report.export else "none"
    return ExportPlan(how=how, sample=cfg.report.export_sample, seed=cfg.seed)
