"""Wire dataset, face system, colourisers, store and metrics into one run (the thin shell)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from . import metrics as M
from .images import set_max_pixels
from .settings import interval_kwargs
from .stages.acquire import Acquired, acquire
from .stages.evaluate import evaluate
from .systems import substitute_warnings
from .stages.integrity import check_near_duplicates
from .stages.acquire import colourisation_examples  # noqa: F401  (re-exported: it lived here)
from .stages.plan import Plan, bin_label, make_plan, metadata_values  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)


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


def run(cfg: dict, *, progress: bool = True) -> RunResult:
    """Run the configured scenarios (``cfg``: the resolved config as plain containers): plan,
    acquire, evaluate, then gather what the report shows."""
    t0 = time.perf_counter()
    set_max_pixels(int(cfg["max_image_pixels"]))
    if cfg.get("embeddings"):  # a model fr-eval does not wrap: the vectors come from a file
        from .embeddings import acquired_from_embeddings, embeddings_dataset, read_embeddings
        cols = read_embeddings(cfg["embeddings"])
        plan = make_plan(cfg, embeddings_dataset(cols, cfg["embeddings"]), build_colourisers=False)
        acquired = acquired_from_embeddings(plan, cols, cfg["embeddings"])
    else:
        plan = make_plan(cfg)
        acquired = acquire(plan, cfg, progress=progress)
        plan = check_near_duplicates(plan, acquired, cfg)
    result = assemble(plan, acquired, cfg, t0)
    if cfg["report"].get("export_embeddings"):
        result.embeddings = (acquired.acquisitions, plan.dataset)
    return result


@dataclass
class SystemsResult:
    """``system=[a,b,...]``: one :class:`RunResult` per system (the same plan: dataset, comparisons,
    variants; colourised images made once and shared through the store), and their agreement."""
    results: dict  # system name -> RunResult
    configs: dict  # system name -> the run's config with that system
    agreement: list  # paired.agreement over the systems' row comparisons
    context: dict = field(default_factory=dict)


def per_system(cfg: dict, run_one, progress: bool) -> tuple[dict, dict, dict]:
    """``run_one(config)`` once per system of ``cfg["systems"]``, in order: (results, configs, the
    engine's counts summed over the systems)."""
    names = [str(node["name"]) for node in cfg["systems"]]
    configs = {n: {**cfg, "system": node, "systems": None} for n, node in zip(names, cfg["systems"])}
    results = {}
    # a warning about the data (not the system) is said once, not once per system: a filter per handler
    filters = [(h, _OnceFilter()) for h in logging.getLogger().handlers]
    for h, f in filters:
        h.addFilter(f)
    try:
        for n in names:
            log.info("system %s (%d of %d)", n, len(results) + 1, len(names))
            results[n] = run_one(configs[n], progress=progress)
    finally:
        for h, f in filters:
            h.removeFilter(f)
    engine = {k: sum(r.context["engine"].get(k, 0) for r in results.values())
              for k in ("computed", "reused", "transient_errors", "damaged_rows")}
    return results, configs, engine


class _OnceFilter(logging.Filter):
    """Lets each warning text through once (info lines always)."""

    def __init__(self):
        super().__init__()
        self.seen = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        text = record.getMessage()
        if text in self.seen:
            return False
        self.seen.add(text)
        return True


def run_systems(cfg: dict, *, progress: bool = True) -> SystemsResult:
    """Every configured scenario once per system of ``cfg["systems"]``."""
    from .paired import agreement

    results, configs, engine = per_system(cfg, run, progress)
    return SystemsResult(results=results, configs=configs, context={"engine": engine},
                         agreement=agreement({n: r.row_comparisons for n, r in results.items()}))


def assemble(plan: Plan, acquired: Acquired, cfg: dict, t0: float) -> RunResult:
    """The evaluate stage's figures with everything the report shows beside them."""
    ev = evaluate(plan, acquired, export_impostors=lambda rec: export_impostors(rec, cfg))
    samples = sample_rows(plan, acquired)
    failures = [{**{k: x[k] for k in ("variant", "role", "subject", "path", "reason")}, "kind": x["failure_kind"]}
                for x in samples if not x["acquired"]]
    ds, comps = plan.dataset, plan.comparisons
    table1 = {"dataset": ds.name, "subjects": len(ds.subjects), "references": len(ds.references),
              "probes": len(ds.probes), "genuine": int(len(comps.genuine)), "impostor": comps.n_impostor}
    context = run_context(plan, acquired, ev, cfg)
    context["wall_time_s"] = time.perf_counter() - t0
    if acquired.changes:
        context["acquisition_changes"] = acquired.changes["counts"]
    quality = {}
    if plan.estimators:
        quality = quality_figures(ds, plan.estimators, acquired.quality, list(plan.needed), ev.scores, ev.compared,
                                  ev.thresholds[plan.fmr], float(cfg["edc"]["max_discard"]), plan.bootstrap)
        context["quality"] = {e.name: {"unit": e.unit, "higher_is_better": e.higher_is_better,
                                       "settings": e.settings()} for e in plan.estimators}
    ids = tuple(np.array(x, dtype=object) for x in ([s.rel for s in ds.references], [s.rel for s in ds.probes],
                                                     [s.subject for s in ds.references], [s.subject for s in ds.probes]))
    return RunResult(rows=ev.rows, table1=table1, failures=failures, samples=samples, scores=ev.scores,
                     context=context, comparisons=ev.comparisons, used_impostors=ev.used_impostors, ids=ids,
                     examples=acquired.examples, changes=acquired.changes.get("rows", []), quality=quality,
                     row_comparisons=[c.as_dict() for c in ev.row_comparisons])


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
                    "bbox": "" if d is None else " ".join(f"{v:.1f}" for v in d.bbox)})
    return out


def run_context(plan: Plan, acquired: Acquired, ev, cfg: dict) -> dict:
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
        "thresholds": {str(f): {"threshold": t, "fmr_achieved": imp.fmr_at(t),
                                "impostors_allowed": M.allowed_false_matches(f, imp.n),
                                "n_impostor": int(imp.n),
                                "supported": M.fmr_supported(f, imp.n, int(cfg["report"]["min_false_matches"]))}
                       for f, t in ev.thresholds.items()},
        "impostor_scores": imp.describe(),
        "score_export_impostors": export_rule(imp.n, cfg) if cfg["report"]["export"] else "none (report.export=false)",
        "baseline_impostor_failed_pairs": ev.n_baseline_impostor_failed,
        "engine": acquired.stats.as_dict(),
        "warnings": substitute_warnings(acquired.system_note) + data_warnings(ds, ev.rows),
    }



def data_warnings(ds, rows: list) -> list[str]:
    """What a reader must see beside the figures about the data: images under two subjects that were
    kept (dataset.duplicates=keep), and scores that barely separate."""
    from .evaluation import separation_warnings

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


def export_rule(n: int, cfg: dict) -> str:
    """What the score export writes of ``n`` impostor comparisons: ``report.export_impostors``,
    with ``auto`` resolved (all of them when at most ``impostor_keep_all``, else a sample)."""
    rep = cfg.get("report") or {}
    how = str(rep["export_impostors"])
    if how == "auto":
        how = "all" if n <= int(cfg["impostor_keep_all"]) else "sample"
    if how == "sample" and n <= int(rep["export_sample"]):
        how = "all"
    return how


def export_impostors(record, cfg: dict):
    """The impostor comparisons the score export writes (see :func:`export_rule`): the record, a
    seeded uniform sample of ``report.export_sample`` of it, or None."""
    how = export_rule(len(record), cfg)
    if how == "none":
        return None
    if how == "sample":
        return record.sample(int(cfg["report"]["export_sample"]), int(cfg["seed"]))
    return record


def kept_fnmr_interval(genuine, subject, kept, threshold: float, bootstrap: dict | None) -> dict:
    """95% interval of the FNMR of the ``kept`` genuine scores (all when None) at the fixed threshold, from
    per-subject counts (:func:`fr_eval.metrics.rate_interval`); the discard level is held fixed, as the
    threshold is. No interval (method "none") when the scores' subjects are unknown."""
    if subject is None:
        return M.Interval(float("nan"), float("nan"), "none").as_dict()
    keep = np.ones(len(genuine), bool) if kept is None else kept
    _, subj = np.unique(np.asarray(subject), return_inverse=True)
    n = int(subj.max()) + 1 if subj.size else 0
    err = (np.asarray(genuine) < threshold) & keep
    return M.rate_interval(np.bincount(subj, weights=err, minlength=n), np.bincount(subj, weights=keep, minlength=n),
                           **interval_kwargs(bootstrap)).as_dict()


def quality_figures(ds, estimators, qvals, needed, scores, compared, threshold: float, max_discard: float,
                    bootstrap: dict | None = None) -> dict:
    """Table 2 (per variant and estimator, over the samples acquired in that variant), the values
    themselves (for the CDF), and per scenario row and estimator the error-versus-discard curve
    of its genuine comparisons (pair quality = the lower of the two samples' utilities).
    ``scores[row]["genuine"]`` are the row's genuine scores (``["subject"]``: each one's subject
    index, for the FNMRs' subject-bootstrap intervals), ``compared[row]`` its (reference variant,
    probe variant, the (reference, probe) index pairs of those scores)."""
    names = [e.name for e in estimators]
    variants = sorted({v for _, v in needed}, key=lambda v: (v != "original", v != "greyscale", v))
    values, table2 = {}, []
    for v in variants:
        used = (ds.references if ("reference", v) in needed else []) + (ds.probes if ("probe", v) in needed else [])
        smp = {s.rel: s for s in used}.values()  # the samples this variant was made of; an image counts once
        for e in estimators:
            got = [qvals.get((s.rel, v), {}).get(e.name, (None, "not acquired")) for s in smp]
            x = np.array([g[0] for g in got if g[0] is not None], dtype=float)
            values[(v, e.name)] = x
            table2.append({"variant": v, "estimator": e.name, "unit": e.unit, "n_samples": len(got),
                           "n": int(x.size), "n_undefined": len(got) - int(x.size),
                           **({"mean": float(x.mean()), "median": float(np.median(x)), "std": float(x.std()),
                               "min": float(x.min()), "max": float(x.max())} if x.size else
                              {k: float("nan") for k in ("mean", "median", "std", "min", "max")})})

    edc = edc_rows(ds, estimators, qvals, scores, compared, threshold, max_discard, bootstrap)
    return {"table2": table2, "values": values, "edc": edc, "max_discard": max_discard, "names": names,
            "variants": variants}


def edc_rows(ds, estimators, qvals, scores, compared, threshold: float, max_discard: float,
             bootstrap: dict | None) -> list[dict]:
    """Per scenario row and estimator, the error-versus-discard curve of the row's genuine comparisons
    (pair quality = the lower of the two samples' utilities), its FNMRs at 0 and at ``max_discard``
    and its areas, each with its interval where the scores' subjects are known."""
    def utilities(samples, variant, e):  # one per sample; -inf where undefined (discarded first)
        raw = np.array([qvals.get((s.rel, variant), {}).get(e.name, (None, None))[0] for s in samples], dtype=float)
        return np.where(np.isnan(raw), -np.inf, e.utility(raw))

    edc, at_key = [], f"fnmr_at_{max_discard:g}"
    for label, (rv, pv, pairs) in compared.items():
        gen, subject = scores[label]["genuine"], scores[label].get("subject")
        if gen.size == 0:
            continue
        at_0 = kept_fnmr_interval(gen, subject, None, threshold, bootstrap)  # the same for every estimator
        for e in estimators:
            pair_q = np.fmin(utilities(ds.references, rv, e)[pairs[:, 0]], utilities(ds.probes, pv, e)[pairs[:, 1]])
            d, f = M.error_versus_discard(gen, pair_q, threshold)
            area, random_area = M.edc_area(d, f, max_discard), f[0] * max_discard
            kept = M.kept_after_discard(pair_q, max_discard)
            areas = ({k: v.as_dict() for k, v in M.edc_area_interval(
                gen, pair_q, threshold, subject, max_discard, **interval_kwargs(bootstrap)).items()}
                     if subject is not None else {})
            edc.append({"row": label, "estimator": e.name, "n_comparisons": int(gen.size),
                        "fnmr_at_0": float(f[0]), at_key: float(f[np.searchsorted(d, max_discard, side="right") - 1]),
                        "n_kept": int(kept.sum()), "intervals": {
                            "fnmr_at_0": at_0, at_key: kept_fnmr_interval(gen, subject, kept, threshold, bootstrap),
                            **areas},
                        "area": area, "area_minus_random": area - random_area, "area_random_discard": random_area,
                        "area_relative_to_random": area / random_area if random_area > 0 else float("nan"),
                        "discard": d, "fnmr": f})
    return edc
