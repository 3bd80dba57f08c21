"""The identity-preservation audit of generated images (``scenario=generated``): the thin shell
that wires the manifest, the enrolment, the face system, the store and :mod:`fr_eval.identity`."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from . import metrics as M
from .datasets import Sample, load_dataset
from .datasets.generated import LINKS, load_generated_manifest
from .datasets.manifest import problems_message
from .engine import acquire_all
from .errors import ConfigError, FrEvalError
from .evaluation import ImpostorStream, SideData, as_summary, impostor_summary, score_vectors
from .identity import audit_figures, enrolment_impostor_scores, identity_scores, pairwise_similarity
from .protocol import build_comparisons
from .stages.acquire import executor
from .stages.plan import as_list as _as_list
from .stages.plan import parse_fmrs
from .images import set_max_pixels
from .provenance import file_sha256
from .store import open_store
from .systems import build_system, substitute_warnings
from .systems.base import metric_of
from .variants import ORIGINAL

log = logging.getLogger(__name__)
ENROLMENT = ("manifest", "dataset")
CONVENTIONS = {
    "similarity": "cosine similarity of the generated face's embedding to its identity's enrolment",
    "template": {"mean": "enrolment = the L2-normalised mean of the identity's reference embeddings",
                 "best": "enrolment = the best-matching single reference (max cosine similarity)"},
    "similarity_failures_as_zero": "images with no usable face scored 0 and kept in the mean (FastComposer's way)",
    "similarity_failures_excluded": "images with no usable face left out (Anti-DreamBooth's way); see fta",
    "fta": "generated images with no usable face / generated images",
    "verified_rate": "acquired generated images whose similarity to their own identity's enrolment is >= the "
                     "threshold / acquired generated images (1 - FNMR)",
    "verified_rate_of_all": "the same accepted images / all generated images (failures count as not verified)",
    "frr": "1 - verified_rate_of_all = FTA + FNMR (1 - FTA) (ISO/IEC 19795-1)",
    "impersonation_rate": "acquired generated images whose similarity to some OTHER enrolled identity is >= the "
                          "threshold / acquired generated images",
    "rank1_accuracy": "acquired generated images whose own identity scores highest among all enrolled identities "
                      "/ acquired generated images (closed set); rank1_accuracy_of_all: / all generated images",
    "csim": "cosine similarity of the generated face to its target frame's face (both acquired)",
    "fmr_equivalent": "per image: the fraction of the threshold's impostor comparisons scoring at least its similarity, "
                      "i.e. the FMR at which the judge would accept it (comparable across judges; with N impostors "
                      "nothing below 1/N is resolved: 0 means above every impostor)",
    "ssim": "SSIM (scikit-image, RGB, data range 255) of the two faces aligned to 112x112 with their own landmarks",
    "intervals": "95%: percentile bootstrap resampling identities; rule of 3 for rates with no errors",
}


@dataclass
class AuditResult:
    groups: dict  # grouping key -> [{"value": ..., **figures}], methods ranked
    overall: dict
    images: list[dict]
    failures: list[dict]
    scores: dict  # method -> {"genuine": own scores of acquired images, "impostor": real impostor scores}
    context: dict
    sheet: dict = field(default_factory=dict)  # "worst"/"best" -> [(generated path, reference path, caption)]


def _enrolment(cfg, gset) -> tuple[list[Sample], str]:
    g = cfg["generated"]
    source = str(g["enrolment"])
    if source not in ENROLMENT:
        raise ConfigError(f"generated.enrolment={source} is not known; choose from {', '.join(ENROLMENT)}")
    if source == "manifest":
        if not gset.references:
            raise FrEvalError(f"{gset.path}: no row with role=reference to enrol the identities; add them, or "
                              f"enrol from a dataset: generated.enrolment=dataset dataset=<name>")
        return gset.references, f"rows with role=reference in {gset.path}"
    ds = load_dataset(cfg["dataset"])
    refs = [Sample(path=s.path, rel=s.rel, subject=s.subject, role="reference", meta=s.meta)
            for s in ds.references + ds.probes]
    return refs, f"every image of dataset {ds.name} ({ds.root}), by subject name"


def _threshold(cfg, fmr, imp_enrol, system, store, workers, parallel, progress) -> tuple[float, np.ndarray, dict]:
    """(threshold, the impostor scores it was fixed on, how)."""
    src = cfg["generated"]["threshold_from"]
    if isinstance(src, (int, float)) and not isinstance(src, bool):
        return float(src), imp_enrol, {"source": "given", "threshold": float(src),
                                       "fmr_achieved_on_enrolment": M.fmr_at(imp_enrol, float(src))
                                       if imp_enrol.size else None}
    if src == "enrolment":
        if imp_enrol.size == 0:
            raise FrEvalError("no impostor comparison among the enrolment photos (fewer than two identities "
                              "enrolled); give generated.threshold_from=dataset or a number")
        t = M.threshold_at_fmr(imp_enrol, fmr)
        return t, imp_enrol, {"source": "impostor comparisons among the enrolment photos (each photo against "
                                        "every other identity's enrolment)", "threshold": t,
                              "n_impostor": int(imp_enrol.size), "fmr_achieved": M.fmr_at(imp_enrol, t),
                              "impostors_allowed": M.allowed_false_matches(fmr, imp_enrol.size)}
    if src == "dataset":
        ds = load_dataset(cfg["dataset"])
        imp_cfg = cfg["impostors"]
        comps = build_comparisons(ds, imp_cfg if imp_cfg == "all" else int(imp_cfg), int(cfg["seed"]))
        acqs, _ = acquire_all([(s, ORIGINAL) for s in ds.references + ds.probes], system, store,
                              batch_size=int(cfg["batch_size"]), workers=workers, parallel=parallel,
                              progress=progress)
        metric = metric_of(system.describe())
        ref = SideData.from_acquisitions([acqs[(s.rel, ORIGINAL.name)] for s in ds.references], metric, "reference")
        probe = SideData.from_acquisitions([acqs[(s.rel, ORIGINAL.name)] for s in ds.probes], metric, "probe")
        _, codes = np.unique([s.subject for s in ds.references + ds.probes], return_inverse=True)
        stream = ImpostorStream(max_fmr=fmr, keep_all=int(cfg["impostor_keep_all"]),
                                budget_bytes=int(cfg["memory_budget"]))
        imp = impostor_summary(ref, probe, comps, codes[:len(ds.references)], codes[len(ds.references):], stream)
        if imp.n == 0:
            raise FrEvalError(f"dataset {ds.name}: no impostor comparison could be made")
        t = imp.threshold(fmr)
        return t, imp, {"source": f"baseline impostor comparisons of dataset {ds.name} (image against image)",
                        "threshold": t, "n_impostor": int(imp.n), "fmr_achieved": imp.fmr_at(t),
                        "impostors_allowed": M.allowed_false_matches(fmr, imp.n),
                        "impostor_scores": imp.describe()}
    raise ConfigError(f"generated.threshold_from={src}: choose enrolment, dataset, or a number (a cosine threshold)")


@dataclass(frozen=True)
class AuditPlan:
    """What the audit compares: the manifest, enrolment and grouping (the plan stage)."""

    gset: object
    refs: list
    enrol_source: str
    identities: list
    gen: list  # generated images of enrolled identities
    targets: list
    unenrolled: list
    problems: list
    by: list
    unknown_by: list
    template: str
    fmr: float
    min_per_method: int  # methods with fewer images are listed apart, unranked
    min_identities: int  # report.min_subjects: methods of fewer identities are listed apart, unranked
    compare: tuple  # generated.compare: "auto" and "a:b" items, names checked
    compare_min_identities: int


@dataclass(frozen=True)
class AuditScores:
    """Per generated image: similarity to its own identity, the best other one, rank-1, targets."""

    acqs: dict
    stats: object
    system: dict
    system_note: str
    ref_ok: np.ndarray
    enrolled: np.ndarray
    threshold: float
    impostor: object  # the impostor scores the threshold was fixed on: an array or an ImpostorSummary
    threshold_info: dict
    gid: np.ndarray
    own: np.ndarray
    other_max: np.ndarray
    other_arg: np.ndarray
    rank1: np.ndarray
    in_audit: np.ndarray
    acquired: np.ndarray
    csim: np.ndarray
    ssim: np.ndarray
    target_status: list
    best_ref: list
    copy: dict = field(default_factory=dict)  # copy_scores(): the generated images against their input photos


def run_audit(cfg: dict, *, progress: bool = True) -> AuditResult:
    """plan -> acquire and score -> figures per group, as the scenario runs are composed."""
    t0 = time.perf_counter()
    set_max_pixels(int(cfg["max_image_pixels"]))
    plan = plan_audit(cfg)
    sc = score_audit(plan, cfg, progress)
    meta = [dict(s.meta) for s in plan.gen]
    bootstrap = {"seed": int(cfg["seed"]), **dict(cfg["bootstrap"])}

    def figures(mask):
        m = mask & sc.in_audit
        return audit_figures(acquired=sc.acquired[m], own=sc.own[m], other_max=sc.other_max[m],
                             rank1_correct=sc.rank1[m], identity=sc.gid[m], threshold=sc.threshold,
                             csim=sc.csim[m] if plan.targets else None, ssim=sc.ssim[m] if plan.targets else None,
                             bootstrap=bootstrap)

    groups = _groups(plan, sc, meta, figures)
    scores = {}
    for r in groups["method"]:
        m = np.array([x.get("method") == r["value"] for x in meta]) & sc.acquired
        scores[r["value"]] = {"genuine": sc.own[m], "impostor": sc.impostor}
    context = _audit_context(plan, sc)
    context["method_comparisons"] = _method_comparisons(plan, sc, meta, groups, bootstrap)
    context["copy"] = copy_figures(sc.copy, np.array([m.get("method", "") for m in meta], dtype=object), sc.in_audit)
    context["wall_time_s"] = time.perf_counter() - t0
    return AuditResult(groups=groups, overall=figures(np.ones(len(plan.gen), bool)),
                       images=_image_rows(plan, sc, meta), failures=_failures(plan, sc), scores=scores,
                       context=context, sheet=_sheet(plan, sc, meta, int(cfg["generated"]["contact_sheet"])))


def plan_audit(cfg: dict) -> AuditPlan:
    g = cfg["generated"]
    if not g["manifest"]:
        raise ConfigError("scenario=generated needs generated.manifest=<csv> (columns path,identity,method)")
    fmr, _ = parse_fmrs(cfg)
    template = str(g["template"])  # checked by fr_eval.settings
    gset = load_generated_manifest(g["manifest"], root=g.get("root"), strict=bool(g["strict"]),
                                   allow_outside=bool(g["allow_outside"]))
    refs, enrol_source = _enrolment(cfg, gset)
    identities = sorted({s.subject for s in refs})
    problems = list(gset.problems)
    unenrolled = [s for s in gset.generated if s.subject not in identities]
    problems += [{"kind": "identity with no reference", "where": s.rel,
                  "detail": f"identity {s.subject} has no enrolment photo"} for s in unenrolled]
    if g["strict"] and unenrolled:
        raise FrEvalError(f"{gset.path}: {problems_message(problems)} (generated.strict=false skips and lists them)")
    gen = [s for s in gset.generated if s.subject in identities]
    if not gen:
        raise FrEvalError(f"no generated image has an enrolled identity ({problems_message(problems)})")
    by = [str(k) for k in _as_list(g["by"])]
    unknown = [k for k in by if k not in set(gset.columns)]
    by = [k for k in by if k in set(gset.columns)]
    if "method" not in by:
        by.insert(0, "method")
    if unknown:  # a grouping key the manifest lacks (e.g. category) is only noted; a typo should be seen
        log.warning("generated.by: %s not among the manifest's columns (%s)", ", ".join(unknown),
                    ", ".join(sorted(gset.columns)))
    targets = [gset.targets[s.rel] for s in gen if s.rel in gset.targets]
    return AuditPlan(gset=gset, refs=refs, enrol_source=enrol_source, identities=identities, gen=gen,
                     targets=targets, unenrolled=unenrolled, problems=problems, by=by, unknown_by=unknown,
                     template=template, fmr=fmr, min_per_method=int(g["min_per_method"]),
                     min_identities=int(cfg["report"]["min_subjects"]),
                     compare=_compare_spec(g["compare"], {dict(s.meta).get("method", "") for s in gen}),
                     compare_min_identities=int(g["compare_min_identities"]))


def _compare_spec(spec, methods: set) -> tuple:
    """generated.compare checked before any image is processed: auto, or a:b with both methods in the manifest."""
    items = tuple(str(x) for x in _as_list(spec))
    for item in items:
        if item == "auto":
            continue
        a, sep, b = item.partition(":")
        if not sep or not a or not b:
            raise ConfigError(f"generated.compare={item} is not valid: give auto or a:b (two method names)")
        for x in (a, b):
            if x not in methods:
                raise ConfigError(f"generated.compare={item}: {x} is not a method of the manifest; methods: "
                                  f"{', '.join(sorted(methods))}")
    return items


def method_pairs(methods: list[dict], spec: tuple, identities: dict, min_shared: int) -> list[tuple[str, str]]:
    """The (a, b) method pairs of generated.compare. auto: every pair that shares at least
    ``min_shared`` identities (``identities``: method -> its set), a the better-ranked (ranked
    methods in rank order, then the unranked ones)."""
    order = [r["value"] for r in methods]  # ranked first, in rank order
    out = []
    for item in spec:
        if item == "auto":
            pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1:]
                     if len(identities.get(a, set()) & identities.get(b, set())) >= min_shared]
        else:
            pairs = [tuple(item.split(":", 1))]
        out += [p for p in pairs if p[0] != p[1] and p not in out]
    return out


def _method_comparisons(plan: "AuditPlan", sc: "AuditScores", meta: list, groups: dict, bootstrap: dict) -> list:
    """Each generated.compare pair of methods, paired by identity (:func:`fr_eval.paired.compare_methods`)."""
    from .paired import compare_methods

    method = np.array([m.get("method", "") for m in meta], dtype=object)
    verified = sc.acquired & (np.where(sc.acquired, sc.own, -np.inf) >= sc.threshold)
    sim0 = np.where(sc.acquired, sc.own, 0.0)
    identities = {m: set(sc.gid[(method == m) & sc.in_audit].tolist()) for m in set(method.tolist())}
    out = []
    for a, b in method_pairs(groups["method"], plan.compare, identities, plan.compare_min_identities):
        ma, mb = (method == a) & sc.in_audit, (method == b) & sc.in_audit
        out.append(compare_methods(a, b, sc.gid[ma], verified[ma], sim0[ma], sc.gid[mb], verified[mb], sim0[mb],
                                   bootstrap=bootstrap, min_identities=plan.min_identities).as_dict())
    for c, p in zip(out, M.holm([c["wilcoxon"]["p_value"] for c in out])):
        c["wilcoxon"]["p_holm"] = float(p)
    return out


def score_audit(plan: AuditPlan, cfg: dict, progress: bool) -> AuditScores:
    """Acquire every image through the store, fix the threshold, score each generated image."""
    system, system_note = build_system(cfg["system"])
    store = open_store(cfg)
    workers, parallel = executor(cfg)
    idx = {name: i for i, name in enumerate(plan.identities)}
    try:
        acqs, stats = acquire_all([(s, ORIGINAL) for s in plan.refs + plan.gen + plan.targets], system, store,
                                  batch_size=int(cfg["batch_size"]), workers=workers, parallel=parallel,
                                  progress=progress)
        metric = metric_of(system.describe())
        dim = next((a.embedding.size for a in acqs.values() if a.ok), None)  # for a side where all failed
        ref_side = SideData.from_acquisitions([acqs[(s.rel, ORIGINAL.name)] for s in plan.refs], metric, "template",
                                              dim)
        ref_id = np.array([idx[s.subject] for s in plan.refs])
        ok = ref_side.ok
        enrolled = np.zeros(len(plan.identities), bool)
        enrolled[ref_id[ok]] = True
        imp_enrol = enrolment_impostor_scores(ref_side.emb[ok], ref_id[ok], len(plan.identities), plan.template,
                                              metric)
        thr, imp, thr_info = _threshold(cfg, plan.fmr, imp_enrol, system, store, workers, parallel, progress)
    finally:
        store.close()
    gen_side = SideData.from_acquisitions([acqs[(s.rel, ORIGINAL.name)] for s in plan.gen], metric, "template", dim)
    gid = np.array([idx[s.subject] for s in plan.gen])
    S = identity_scores(gen_side.emb, ref_side.emb[ok], ref_id[ok], len(plan.identities), plan.template, metric)
    rows = np.arange(len(plan.gen))
    own = S[rows, gid]
    others = np.where(np.isfinite(S), S, -np.inf)
    others[rows, gid] = -np.inf
    rank1 = np.argmax(np.where(np.isfinite(S), S, -np.inf), axis=1) == gid
    csim, ssim, target_status = _target_figures(plan.gen, plan.gset.targets, acqs, metric)
    return AuditScores(acqs=acqs, stats=stats, system=system.describe(), system_note=system_note, ref_ok=ok,
                       enrolled=enrolled, threshold=thr, impostor=imp, threshold_info=thr_info, gid=gid, own=own,
                       other_max=others.max(axis=1),
                       other_arg=np.argmax(others, axis=1), rank1=rank1, in_audit=enrolled[gid],
                       acquired=gen_side.ok & enrolled[gid], csim=csim, ssim=ssim, target_status=target_status,
                       best_ref=_best_references(plan, gen_side, ref_side, ref_id, gid, metric),
                       copy=copy_scores(plan, gen_side, ref_side, metric, float(cfg["generated"]["copy_percentile"])))


def _best_references(plan, gen_side, ref_side, ref_id, gid, metric: str = "cosine") -> list:
    """The best-matching reference of each image's own identity (for the contact sheet)."""
    ok = ref_side.ok
    ref_ok_idx = np.flatnonzero(ok)
    sims = (pairwise_similarity(gen_side.emb, ref_side.emb[ok], metric) if ok.any()
            else np.zeros((len(plan.gen), 0)))
    out = []
    for i in range(len(plan.gen)):
        cand = np.flatnonzero(ref_id[ok] == gid[i])
        out.append(plan.refs[ref_ok_idx[cand[np.argmax(sims[i, cand])]]] if cand.size else None)
    return out


def _groups(plan: AuditPlan, sc: AuditScores, meta: list, figures) -> dict:
    groups = {}
    for key in plan.by:
        values = np.array([m.get(key, "") or "(none)" for m in meta], dtype=object)
        groups[key] = [{"value": v, **figures(values == v)} for v in sorted(set(values.tolist()))
                       if (values[sc.in_audit] == v).any()]
    def enough(r):  # images (generated.min_per_method) and identities (report.min_subjects) to be ranked
        return r["n"] >= plan.min_per_method and r["n_identities"] >= plan.min_identities

    ranked = sorted((r for r in groups["method"] if enough(r)),
                    key=lambda r: (-_num(r["verified_rate_of_all"]), -_num(r["similarity_failures_as_zero"]["mean"]),
                                   r["value"]))
    apart = sorted((r for r in groups["method"] if not enough(r)), key=lambda r: r["value"])
    for rank, r in enumerate(ranked, start=1):
        r["rank"] = rank
    for r in apart:  # too few images or identities to rank: listed after the ranked ones, flagged
        r["rank"] = None
        r["too_small"] = (f"{r['n']} images < generated.min_per_method={plan.min_per_method}"
                          if r["n"] < plan.min_per_method else
                          f"{r['n_identities']} identities < report.min_subjects={plan.min_identities}")
    groups["method"] = ranked + apart
    return groups


def _image_rows(plan: AuditPlan, sc: AuditScores, meta: list) -> list[dict]:
    images, thr, targets = [], sc.threshold, plan.gset.targets
    imp = as_summary(sc.impostor)
    for i, s in enumerate(plan.gen):
        a, got = sc.acqs[(s.rel, ORIGINAL.name)], bool(sc.acquired[i])
        other = got and np.isfinite(sc.other_max[i])
        status = "not enrolled (every reference failed)" if not sc.in_audit[i] else ("acquired" if a.ok else "failed")
        images.append({"path": s.rel, "identity": s.subject, **{k: meta[i].get(k, "") for k in plan.gset.columns},
                       "status": status, "reason": a.reason or "",
                       "similarity": float(sc.own[i]) if got else "",
                       # the judge's own scale: the FMR at which this score would be accepted (>= 1/N resolved)
                       "fmr_equivalent": float(imp.fmr_at(float(sc.own[i]))) if got else "",
                       "verified": bool(got and sc.own[i] >= thr),
                       "best_other_identity": plan.identities[sc.other_arg[i]] if other else "",
                       "best_other_similarity": float(sc.other_max[i]) if other else "",
                       "impersonates": bool(got and sc.other_max[i] >= thr),
                       "rank1_correct": bool(got and sc.rank1[i]),
                       "target": targets[s.rel].rel if s.rel in targets else "",
                       "target_status": sc.target_status[i],
                       "csim": "" if not np.isfinite(sc.csim[i]) else float(sc.csim[i]),
                       "ssim": "" if not np.isfinite(sc.ssim[i]) else float(sc.ssim[i]),
                       "best_reference": sc.best_ref[i].rel if sc.best_ref[i] is not None else "",
                       **_copy_columns(sc.copy, i)})
    return images


def _failures(plan: AuditPlan, sc: AuditScores) -> list[dict]:
    return [{"role": s.role, "identity": s.subject, "path": s.rel, "method": dict(s.meta).get("method", ""),
             "kind": a.kind, "reason": a.reason}
            for s, a in [(s, sc.acqs[(s.rel, ORIGINAL.name)]) for s in plan.refs + plan.gen + plan.targets]
            if not a.ok]


def _sheet(plan: AuditPlan, sc: AuditScores, meta: list, n: int) -> dict:
    """The ``n`` worst- and best-preserved acquired images beside their best-matching reference."""
    order = np.flatnonzero(sc.acquired)[np.argsort(sc.own[sc.acquired], kind="stable")]

    def entry(i):
        ref = sc.best_ref[i]
        return (plan.gen[i].path, ref.path if ref is not None else None,
                f"{plan.gen[i].subject}\n{meta[i].get('method', '')}, similarity {sc.own[i]:.3f}")

    return {"worst": [entry(i) for i in order[:n]], "best": [entry(i) for i in order[::-1][:n]]}


def _audit_context(plan: AuditPlan, sc: AuditScores) -> dict:
    return {
        "kind": "identity-preservation audit of generated images",
        "manifest": str(plan.gset.path), "manifest_columns": plan.gset.columns, "grouped_by": plan.by,
        "grouping_keys_not_in_manifest": plan.unknown_by,
        "enrolment": {"source": plan.enrol_source, "identities": len(plan.identities),
                      "identities_enrolled": int(sc.enrolled.sum()), "reference_images": len(plan.refs),
                      "reference_images_acquired": int(sc.ref_ok.sum()), "template": plan.template},
        "generated": {"rows": len(plan.gset.generated), "audited": int(sc.in_audit.sum()),
                      "not_enrolled_identity": len(plan.unenrolled),
                      "not_enrolled_all_references_failed": int((~sc.in_audit).sum()),
                      "with_target": len(plan.targets)},
        "threshold": {**sc.threshold_info, "fmr_target": plan.fmr},
        "conventions": {**CONVENTIONS, "template": CONVENTIONS["template"][plan.template],
                        "headline": f"similarity_failures_excluded (with fta beside it), template={plan.template}; "
                                    "methods with at least generated.min_per_method images and report.min_subjects "
                                    "identities ranked by "
                                    "verified_rate_of_all, then similarity_failures_as_zero; the others listed "
                                    "apart (rank null)"},
        "problems": plan.problems,
        "system": sc.system, "system_choice": sc.system_note,
        "engine": sc.stats.as_dict(),
        "warnings": substitute_warnings(sc.system_note),
    }


def _num(x) -> float:
    return float(x) if x is not None and np.isfinite(x) else -np.inf


def _target_figures(gen, targets, acqs, metric: str = "cosine"):
    """CSIM (the system's similarity, cosine for all but dlib) and SSIM for generated images that
    have a target frame (``nan`` elsewhere)."""
    from skimage.metrics import structural_similarity

    from .images import ImageLoadError, load_image
    from .systems.align import norm_crop

    csim, ssim = np.full(len(gen), np.nan), np.full(len(gen), np.nan)
    status = [""] * len(gen)
    for i, s in enumerate(gen):
        t = targets.get(s.rel)
        if t is None:
            continue
        a, b = acqs[(s.rel, ORIGINAL.name)], acqs[(t.rel, ORIGINAL.name)]
        if not b.ok:
            status[i] = f"target failed: {b.reason}"
            continue
        if not a.ok:
            status[i] = "generated image failed"
            continue
        ea, eb = (score_vectors(x.embedding.reshape(1, -1), metric, "template") for x in (a, b))
        csim[i] = float(pairwise_similarity(ea, eb, metric)[0, 0])
        status[i] = "compared"
        try:
            fa = norm_crop(load_image(s.path), a.detection.landmarks)
            fb = norm_crop(load_image(t.path), b.detection.landmarks)
            ssim[i] = float(structural_similarity(fa, fb, channel_axis=-1, data_range=255))
        except (ImageLoadError, ValueError) as exc:
            status[i] = f"compared (no SSIM: {exc})"
    return csim, ssim, status


@dataclass
class AuditSystemsResult:
    """``system=[a,b,...]`` with scenario=generated: one :class:`AuditResult` per judge and whether they agree."""
    results: dict  # system name -> AuditResult
    configs: dict  # system name -> the run's config with that system
    judges: dict  # rankings' Kendall tau, per-method verified rates and spread, per-image agreement
    context: dict = field(default_factory=dict)


def run_audit_systems(cfg: dict, *, progress: bool = True) -> AuditSystemsResult:
    """The audit once per system of ``cfg["systems"]``, and the judges' agreement (:mod:`fr_eval.judges`)."""
    from . import judges as J
    from .runner import per_system

    results, configs, engine = per_system(cfg, run_audit, progress)
    names = list(results)
    conditioning = conditioning_of(cfg["generated"]["conditioning"], next(iter(results.values())).images)
    families = {n: J.SYSTEM_FAMILY.get(str(configs[n]["system"]["name"]), n) for n in names}
    verified = {n: {i["path"]: bool(i["verified"]) for i in r.images if i["status"] in ("acquired", "failed")}
                for n, r in results.items()}
    judges = {
        "families": families, "conditioning": conditioning,
        "fmr_equivalent": {n: _median_fmr_equivalent(r.images) for n, r in results.items()},
        "kendall": J.ranking_agreement({n: [g["value"] for g in r.groups["method"] if g["rank"] is not None]
                                        for n, r in results.items()}),
        "methods": J.method_table({n: {g["value"]: g["verified_rate_of_all"] for g in r.groups["method"]}
                                   for n, r in results.items()}, conditioning, families,
                                  {g["value"] for r in results.values() for g in r.groups["method"]
                                   if g["rank"] is not None}),
        "images": J.image_agreement(verified),
        "kappa": J.kappa_agreement(verified, {i["path"]: i["identity"] for r in results.values() for i in r.images},
                                   bootstrap={**dict(cfg["bootstrap"]), "seed": int(cfg["seed"])}),
    }
    judges["verdict"] = J.verdict(judges["kappa"], judges["methods"])
    return AuditSystemsResult(results=results, configs=configs, judges=judges, context={"engine": engine})


def conditioning_of(setting, images: list[dict]) -> dict:
    """method -> the family of the embedding it was conditioned on: generated.conditioning (published,
    none, or a mapping), each method's value in a manifest column ``conditioning`` taking precedence."""
    from .judges import PUBLISHED

    base = dict(PUBLISHED) if setting == "published" else {} if setting in (None, "none") else dict(setting)
    if not isinstance(base, dict):
        raise ConfigError(f"generated.conditioning={setting}: give published, none, or {{method: family}}")
    for img in images:
        if img.get("conditioning"):
            base[img["method"]] = str(img["conditioning"]).strip().lower()
    return {str(k): str(v).lower() for k, v in base.items()}


#: the manifest columns that link a generated image to the reference photos it was made from


def copy_scores(plan: "AuditPlan", gen_side, ref_side, metric: str, percentile: float) -> dict:
    """Per generated image linked to its input photos (a ``group`` shared with reference rows, or a
    ``source_reference`` path): the highest similarity to those inputs, the highest to the identity's
    other real photos, and whether it is a copy: closer to an input than ``percentile`` % of the
    judge's genuine scores between different real photos of one identity (files with the same sha256
    are one photo: listed twice, they would compare as 1.0)."""
    link = next((c for c in LINKS if c in plan.gset.columns), None)
    if link is None:
        return {"available": False, "reason": f"the manifest has no {' or '.join(LINKS)} column linking a generated "
                                              f"image to the photos it was made from"}
    key = (lambda smp: dict(smp.meta).get("group", "")) if link == "group" else (lambda smp: smp.rel)
    ref_key = np.array([key(r) for r in plan.refs], dtype=object)
    ref_subject = np.array([r.subject for r in plan.refs], dtype=object)
    ref_sha = np.array([file_sha256(r.path) for r in plan.refs], dtype=object)  # one file listed twice is one photo
    sims = pairwise_similarity(gen_side.emb, ref_side.emb, metric)
    real = pairwise_similarity(ref_side.emb, ref_side.emb, metric)
    same = (np.equal.outer(ref_subject, ref_subject) & np.outer(ref_side.ok, ref_side.ok)
            & ~np.equal.outer(ref_sha, ref_sha))
    _, first = np.unique(ref_sha, return_index=True)
    distinct = np.zeros(len(plan.refs), bool)
    distinct[first] = True
    genuine_real = real[np.triu(same & np.outer(distinct, distinct), 1)]
    if genuine_real.size < 10:
        return {"available": False, "reason": f"only {genuine_real.size} genuine comparisons between real photos "
                                              f"(at least 10 are needed for the {percentile:g}th percentile)"}
    threshold = float(np.percentile(genuine_real, percentile))
    to_inputs, to_others = np.full(len(plan.gen), np.nan), np.full(len(plan.gen), np.nan)
    for i, g in enumerate(plan.gen):
        want = dict(g.meta).get(link, "")
        if not want or not gen_side.ok[i]:
            continue
        inputs = ref_side.ok & (ref_key == want) & (ref_subject == g.subject)
        others = ref_side.ok & (ref_key != want) & (ref_subject == g.subject) & ~np.isin(ref_sha, ref_sha[inputs])
        if inputs.any():
            to_inputs[i] = sims[i, inputs].max()
        if others.any():
            to_others[i] = sims[i, others].max()
    return {"available": True, "link": link, "link_from": plan.gset.details or "the manifest",
            "percentile": percentile, "threshold": threshold,
            "n_real_pairs": int(genuine_real.size), "to_inputs": to_inputs, "to_others": to_others,
            "copied": np.isfinite(to_inputs) & (to_inputs > threshold)}


def copy_figures(copy: dict, method: np.ndarray, in_audit: np.ndarray) -> dict:
    """Per method: images linked to their inputs, mean similarity to the inputs and to the identity's
    other photos, and the copy rate (of the linked, acquired images)."""
    if not copy.get("available"):
        return {"available": False, "reason": copy.get("reason", "")}
    rows = []
    for m in sorted(set(method.tolist())):
        sel = (method == m) & in_audit
        linked = sel & np.isfinite(copy["to_inputs"])
        others = linked & np.isfinite(copy["to_others"])
        rows.append({"method": m, "n_linked": int(linked.sum()),
                     "similarity_to_inputs": float(np.mean(copy["to_inputs"][linked])) if linked.any() else float("nan"),
                     "n_with_other_photos": int(others.sum()),
                     "similarity_to_other_photos": (float(np.mean(copy["to_others"][others])) if others.any()
                                                    else float("nan")),
                     "n_copied": int(copy["copied"][linked].sum()),
                     "copy_rate": float(copy["copied"][linked].mean()) if linked.any() else float("nan")})
    return {"available": True, "link": copy["link"], "link_from": copy.get("link_from", "the manifest"),
            "percentile": copy["percentile"], "threshold": copy["threshold"],
            "n_real_pairs": copy["n_real_pairs"], "methods": rows}


def _copy_columns(copy: dict, i: int) -> dict:
    if not copy.get("available"):
        return {}
    a, b = copy["to_inputs"][i], copy["to_others"][i]
    return {"similarity_to_inputs": float(a) if np.isfinite(a) else "",
            "similarity_to_other_photos": float(b) if np.isfinite(b) else "",
            "copy": bool(copy["copied"][i]) if np.isfinite(a) else ""}


def _median_fmr_equivalent(images: list[dict]) -> dict:
    """method -> the median over its audited images of the FMR at which the judge would accept each (a
    failure to acquire counts as 1: accepted only when everything is); comparable across judges."""
    by: dict = {}
    for img in images:
        if img["status"] in ("acquired", "failed"):
            by.setdefault(img["method"], []).append(1.0 if img["fmr_equivalent"] == "" else float(img["fmr_equivalent"]))
    return {m: float(np.median(v)) for m, v in by.items()}
