"""The audit's figures stage: from the scored audit (:mod:`.audit_score`) to what the report shows:
per method and category the identity-preservation figures (:func:`fr_eval.identity.audit_figures`),
ranked where the sample supports it, the method comparisons (paired by identity, Holm-adjusted), the
copy figures, each image's row, and, with several judges, their agreement."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .. import judges as fr_judges
from .. import metrics
from .. import pose as fr_pose
from ..errors import ConfigError
from ..evaluation import as_summary
from ..identity import audit_figures, mean_interval
from ..paired import compare_methods
from ..settings import Config
from ..systems import substitute_warnings
from ..variants import ORIGINAL
from .audit_differentials import audit_differentials
from .audit_multi import multi_figures
from .audit_plan import AuditPlan
from .audit_score import AuditScores, left_out_shift
from .audit_video import rel_positions, video_figures

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
    "rank1_accuracy": "acquired generated images whose own identity ranks first in a 1:N search of all enrolled "
                      "identities (rank = 1 + the other identities scoring at or above it: ties count against it) / "
                      "acquired generated images (closed set); rank1_accuracy_of_all: / all generated images",
    "rank_k_accuracy": "acquired generated images whose own identity ranks k or better (generated.rank_k) / acquired "
                       "generated images",
    "fnir_at_fpir": "FNIR(rank 1, T): generated images whose own identity is not first at or above T / all generated "
                    "images (a failure to acquire is a miss); T fixed at the FPIR target on the non-mated searches of "
                    "the enrolment photos (each against the other identities' enrolments), conservative rule "
                    "(achieved FPIR <= target)",
    "csim": "cosine similarity of the generated face to its target frame's face (both acquired)",
    "fmr_equivalent": "per image: the fraction of the threshold's impostor comparisons scoring at least its similarity, "
                      "i.e. the FMR at which the judge would accept it (comparable across judges; with N impostors "
                      "nothing below 1/N is resolved: 0 means above every impostor)",
    "ssim": "SSIM (scikit-image, RGB, data range 255) of the two faces aligned to 112x112 with their own landmarks",
    "ita_shift": "skin tone: the generated face's ITA (arctan((L*-50)/b*), median over the cheeks and forehead of "
                 "the aligned face, fr_eval.colour.face_ita) minus its identity's (the median over its reference "
                 "photos), in degrees; negative: darker or yellower than the person",
    "intervals": "95%: percentile bootstrap resampling identities; rule of 3 over the identities (not the images or "
                 "frames) for rates with no errors",
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
    #: "copy" -> [(generated path, its input photo, caption)]: the images flagged as copies of any kind
    copy_sheet: dict = field(default_factory=dict)


def audit_result(plan: AuditPlan, sc: AuditScores, cfg: Config) -> AuditResult:
    """The audit's figures: per group (method, category, ...) and overall, each image's row, the
    failures, the method comparisons, the copy figures and the contact sheet."""
    meta = _with_provenance(plan.gen)
    method = np.array([m.get("method", "") for m in meta], dtype=object)
    bootstrap = cfg.intervals()

    def figures(mask):
        m = mask & sc.in_audit
        return audit_figures(acquired=sc.acquired[m], own=sc.own[m], other_max=sc.other_max[m],
                             rank1_correct=sc.rank1[m], identity=sc.gid[m], threshold=sc.threshold,
                             csim=sc.csim[m] if plan.targets else None, ssim=sc.ssim[m] if plan.targets else None,
                             bootstrap=bootstrap, mate_rank=sc.mate_rank[m], mate_score=sc.mate_score[m],
                             rank_k=plan.rank_k, fpir_thresholds=sc.search["thresholds"],
                             ita_shift=sc.ita["shift"][m] if sc.ita else None)

    # video frames are figures of their videos (the Videos section), never pooled with still images: "(all)" and
    # every group are over the still images; a method made only of videos keeps a row over its frames, not ranked
    still = np.array(["video" not in m for m in meta], bool)
    groups = _groups(plan, sc, meta, figures, still)
    scores = {}
    for r in groups["method"]:
        m = np.array([x.get("method") == r["value"] for x in meta]) & sc.acquired
        scores[r["value"]] = {"genuine": sc.own[m], "impostor": sc.impostor}
    context = _audit_context(plan, sc)
    context["method_comparisons"] = _method_comparisons(plan, sc, meta, groups, bootstrap)
    context["ceiling"] = _ceiling(plan, sc, bootstrap)
    context["copy"] = copy_figures(sc.copy, method, sc.in_audit, sc.pose,
                                   np.array([s.subject for s in plan.gen], dtype=object), bootstrap, sc.scene)
    # per method its images by provenance (video frames and several-people rows included), for every table
    context["provenance"] = {m: provenance_counts(meta, (method == m) & sc.in_audit) for m in sorted(set(method))}
    multi_meta = _with_provenance(plan.multi)
    multi_method = np.array([x.get("method", "") for x in multi_meta], dtype=object)
    for m in sorted(set(multi_method)):
        context["provenance"][f"{m} (several people)"] = provenance_counts(multi_meta, multi_method == m)
    if plan.multi:
        context["multi"] = multi_figures(sc.multi, bootstrap)
    context["differentials"] = audit_differentials(sc.groups, sc, method, plan.identities, figures, still, bootstrap,
                                                   plan.min_identities)
    if plan.videos:
        context["videos"] = video_figures(plan.videos, rel_positions(plan.gen), sc, cfg.generated.video,
                                          plan.identities, bootstrap)
    base = still if still.any() else np.ones(len(plan.gen), bool)
    return AuditResult(groups=groups, overall={**figures(base), "n_video_frames": int((~still).sum()),
                                               "provenance": provenance_counts(meta, base & sc.in_audit)},
                       images=_image_rows(plan, sc, meta), failures=_failures(plan, sc), scores=scores,
                       context=context, sheet=_sheet(plan, sc, meta, cfg.generated.contact_sheet),
                       copy_sheet=copy_sheet(plan, sc, meta, 2 * cfg.generated.contact_sheet))


def judges_figures(results: dict, configs: dict, cfg: Config) -> dict:
    """Whether the judges (one audit per face system) agree: rankings' Kendall tau, per-method verified
    rates and spread, per-image agreement and Fleiss' kappa, and the verdict (:mod:`fr_eval.judges`)."""
    names = list(results)
    conditioning = conditioning_of(cfg.generated.conditioning, next(iter(results.values())).images)
    families = {n: fr_judges.SYSTEM_FAMILY.get(str(configs[n].system.name), n) for n in names}
    # over the still images: a video's frames are figures of the video, never pooled with stills
    verified = {n: {i["path"]: bool(i["verified"]) for i in r.images
                    if i["status"] in ("acquired", "failed") and not i.get("video")}
                for n, r in results.items()}
    judges = {
        "families": families, "conditioning": conditioning,
        "fmr_equivalent": {n: _median_fmr_equivalent(r.images) for n, r in results.items()},
        "kendall": fr_judges.ranking_agreement({n: [g["value"] for g in r.groups["method"] if g["rank"] is not None]
                                        for n, r in results.items()}),
        "methods": fr_judges.method_table({n: {g["value"]: g["verified_rate_of_all"] for g in r.groups["method"]}
                                   for n, r in results.items()}, conditioning, families,
                                  {g["value"] for r in results.values() for g in r.groups["method"]
                                   if g["rank"] is not None}),
        "images": fr_judges.image_agreement(verified),
        "kappa": fr_judges.kappa_agreement(verified, {i["path"]: i["identity"] for r in results.values() for i in r.images},
                                   bootstrap=cfg.intervals()),
    }
    judges["verdict"] = fr_judges.verdict(judges["kappa"], judges["methods"])
    # each judge's real-photo ceiling, and why a method is not ranked (the first judge that sets it aside)
    judges["ceiling"] = {n: {k: c[k] for k in ("verified_rate_of_all", "n", "n_identities")} | {
        "interval": c["intervals"]["verified_rate_of_all"]}
        for n, r in results.items() if (c := r.context.get("ceiling") or {}).get("available")}
    why = {}
    for r in results.values():
        for g in r.groups["method"]:
            if g.get("too_small"):
                why.setdefault(g["value"], g["too_small"])
    for row in judges["methods"]:
        row["not_ranked_because"] = "" if row["rank_all"] is not None else why.get(row["method"], "")
        per = {n: next((g for g in r.groups["method"] if g["value"] == row["method"]), None) for n, r in results.items()}
        row["intervals"] = {n: g["intervals"]["verified_rate_of_all"] for n, g in per.items() if g is not None}
        row["n"], row["n_identities"] = next(((g["n"], g["n_identities"]) for g in per.values() if g), (0, 0))
    return judges


#: the real-photo ceiling's row in the method tables
CEILING = "(real photos, each left out)"


def _ceiling(plan: AuditPlan, sc: AuditScores, bootstrap) -> dict:
    """The real-photo ceiling (:func:`fr_eval.stages.audit_score.real_photo_ceiling`) as a method row: the same
    figures, intervals over identities, threshold and FPIR thresholds as every method; ``available`` False with
    why where no identity has two acquired reference photos."""
    c = sc.ceiling or {}
    if not len(c.get("own", ())):
        return {"available": False, "reason": "no identity has two acquired reference photos (one is left out of "
                                              "its own enrolment to be scored)"}
    n = len(c["own"])
    # real photos move in skin tone too (lighting, camera): each left-out photo's ITA against its identity's others
    shift = (left_out_shift(sc.ita["references"], c["ref_id"], c["photo"])
             if sc.ita and "references" in sc.ita and "photo" in c else None)
    figures = audit_figures(acquired=np.ones(n, bool), own=c["own"], other_max=c["other_max"],
                            rank1_correct=c["mate_rank"] == 1, identity=c["identity"], threshold=sc.threshold,
                            csim=np.full(n, np.nan) if plan.targets else None,
                            ssim=np.full(n, np.nan) if plan.targets else None, bootstrap=bootstrap,
                            mate_rank=c["mate_rank"], mate_score=c["own"], rank_k=plan.rank_k,
                            fpir_thresholds=sc.search["thresholds"], ita_shift=shift)
    return {"available": True, "value": CEILING, "rank": "ceiling", **figures,
            "rule": f"each acquired reference photo of an identity with at least two, scored against its identity "
                    f"enrolled from its other photos ({plan.template} template), every other identity enrolled as "
                    f"for the methods; {n} photos of {len(set(c['identity'].tolist()))} identities"}


#: an image's provenance: the manifest's ``provenance`` column where it has one (curated, random, ...); else an image
#: taken from a project's repository or page (``source_repo``) counts as curated (its authors chose to show it);
#: else unknown
CURATED = "curated"


def provenance_of(m: dict) -> tuple[str, str]:
    """(provenance, source) of one manifest row: see :data:`CURATED`."""
    given, source = str(m.get("provenance") or "").strip().lower(), str(m.get("source_repo") or "").strip()
    return (given or (CURATED if source else "unknown")), source


def _with_provenance(samples: list) -> list[dict]:
    """Each sample's manifest metadata with its provenance (:func:`provenance_of`) added."""
    return [{**m, "provenance": provenance_of(m)[0]} for m in (dict(s.meta) for s in samples)]


def provenance_counts(meta: list, mask: np.ndarray) -> dict:
    """Per provenance value the images of ``mask``, and per source (source_repo) its images."""
    kinds = Counter(meta[i]["provenance"] for i in np.flatnonzero(mask))
    sources = Counter(src for src in (str(meta[i].get("source_repo") or "").strip() for i in np.flatnonzero(mask))
                      if src)
    return {"counts": dict(sorted(kinds.items())), "sources": dict(sources.most_common()),
            "curated": int(kinds.get(CURATED, 0)), "n": int(mask.sum())}


def _group_keys(plan: AuditPlan, meta: list) -> list:
    """generated.by's keys the manifest has, and provenance where the images hold more than one kind of it."""
    kinds = {m["provenance"] for m in meta}
    return plan.by + (["provenance"] if len(kinds) > 1 and "provenance" not in plan.by else [])


def _groups(plan: AuditPlan, sc: AuditScores, meta: list, figures, still: np.ndarray) -> dict:
    groups = {}
    for key in _group_keys(plan, meta):
        values = np.array([m.get(key, "") or "(none)" for m in meta], dtype=object)
        groups[key] = [{"value": v, **figures((values == v) & still),
                        "provenance": provenance_counts(meta, (values == v) & still & sc.in_audit)}
                       if ((values == v) & still).any() else
                       {"value": v, **figures(values == v), "video_frames": True,
                        "provenance": provenance_counts(meta, (values == v) & sc.in_audit)}
                       for v in sorted(set(values.tolist())) if (values[sc.in_audit] == v).any()]

    def enough(r):  # images (generated.min_per_method) and identities (report.min_subjects) to be ranked
        return (r["n"] >= plan.min_per_method and r["n_identities"] >= plan.min_identities
                and not r.get("video_frames"))

    ranked = sorted((r for r in groups["method"] if enough(r)),
                    key=lambda r: (-_num(r["verified_rate_of_all"]), -_num(r["similarity_failures_as_zero"]["mean"]),
                                   r["value"]))
    apart = sorted((r for r in groups["method"] if not enough(r)), key=lambda r: r["value"])
    for rank, r in enumerate(ranked, start=1):
        r["rank"] = rank
    for r in apart:  # too few images or identities to rank: listed after the ranked ones, flagged
        r["rank"] = None
        r["too_small"] = ("video frames: not ranked with still images (figures per video in the Videos section)"
                          if r.get("video_frames") else
                          f"{r['n']} images < generated.min_per_method={plan.min_per_method}"
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
                       "provenance": meta[i]["provenance"],
                       "video": meta[i].get("video") or "",  # a frame's video ("" for a still image)
                       "status": status, "reason": a.reason or "",
                       "similarity": float(sc.own[i]) if got else "",
                       # the judge's own scale: the FMR at which this score would be accepted (>= 1/N resolved)
                       "fmr_equivalent": float(imp.fmr_at(float(sc.own[i]))) if got else "",
                       "verified": bool(got and sc.own[i] >= thr),
                       "best_other_identity": plan.identities[sc.other_arg[i]] if other else "",
                       "best_other_similarity": float(sc.other_max[i]) if other else "",
                       "impersonates": bool(got and sc.other_max[i] >= thr),
                       "rank1_correct": bool(got and sc.rank1[i]),
                       "identity_rank": int(sc.mate_rank[i]) if got else "",  # 1:N: 1 + others at or above it
                       **_ita_columns(sc.ita, i, sc.gid[i]),
                       "target": targets[s.rel].rel if s.rel in targets else "",
                       "target_status": sc.target_status[i],
                       "csim": "" if not np.isfinite(sc.csim[i]) else float(sc.csim[i]),
                       "ssim": "" if not np.isfinite(sc.ssim[i]) else float(sc.ssim[i]),
                       "best_reference": sc.best_ref[i].rel if sc.best_ref[i] is not None else "",
                       **_copy_columns(sc.copy, i), **_pose_columns(sc.pose, i), **_scene_columns(sc.scene, i)})
    return images


def _ita_columns(ita: dict, i: int, identity: int) -> dict:
    """The generated face's skin tone (ITA, degrees), its identity's and the shift ("" where unmeasured)."""
    def cell(x):
        return "" if not np.isfinite(x) else round(float(x), 2)

    if not ita:
        return {}
    return {"ita": cell(ita["generated"][i]), "ita_identity": cell(ita["identity"][identity]),
            "ita_shift": cell(ita["shift"][i])}


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


#: the copy kinds of the copy sheet: (its flag in AuditScores' copy/pose/scene dicts, what the caption calls it)
COPY_KINDS = (("copy", "copied", "identity"), ("pose", "pose_copied", "pose"),
              ("pose", "expression_copied", "expression"), ("scene", "scene_copied", "scene"))


def copy_sheet(plan: AuditPlan, sc: AuditScores, meta: list, n: int) -> dict:
    """Up to ``n`` generated images flagged as copies (identity, pose, expression or scene), each beside the input
    photo it is most similar to, the images flagged by the most kinds first."""
    if not sc.copy.get("available"):
        return {}
    parts = {"copy": sc.copy, "pose": sc.pose, "scene": sc.scene}
    flags = [(kind, np.asarray(parts[src][key], bool)) for src, key, kind in COPY_KINDS
             if parts[src].get("available") and key in parts[src]]
    entries = []
    for i in range(len(plan.gen)):
        kinds = [kind for kind, f in flags if f[i] and sc.in_audit[i]]
        j = int(sc.copy["best_input"][i])
        if kinds and j >= 0:
            entries.append((-len(kinds), meta[i].get("method", ""), plan.gen[i].rel,
                            (plan.gen[i].path, plan.refs[j].path,
                             f"{plan.gen[i].subject}\n{meta[i].get('method', '')}: {', '.join(kinds)} copy")))
    return {"copy": [e[-1] for e in sorted(entries)[:n]], "n_flagged": len(entries)} if entries else {}


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
                      "with_target": len(plan.targets),
                      "video_frames": sum(1 for s in plan.gset.generated if "video" in dict(s.meta)),
                      "video_frames_audited": int(sum(ok for s, ok in zip(plan.gen, sc.in_audit)
                                                      if "video" in dict(s.meta))),
                      "videos": len(plan.videos), "multi_person_rows": len(plan.multi)},
        "threshold": {**sc.threshold_info, "fmr_target": plan.fmr},
        "search": sc.search,
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
    method = np.array([m.get("method", "") for m in meta], dtype=object)
    verified = sc.acquired & (np.where(sc.acquired, sc.own, -np.inf) >= sc.threshold)
    sim0 = np.where(sc.acquired, sc.own, 0.0)
    identities = {m: set(sc.gid[(method == m) & sc.in_audit].tolist()) for m in set(method.tolist())}
    out = []
    for a, b in method_pairs(groups["method"], plan.compare, identities, plan.compare_min_identities):
        ma, mb = (method == a) & sc.in_audit, (method == b) & sc.in_audit
        out.append(compare_methods(a, b, sc.gid[ma], verified[ma], sim0[ma], sc.gid[mb], verified[mb], sim0[mb],
                                   bootstrap=bootstrap, min_identities=plan.min_identities).as_dict())
    for c, p in zip(out, metrics.holm([c["wilcoxon"]["p_value"] for c in out])):
        c["wilcoxon"]["p_holm"] = float(p)
    return out


def conditioning_of(setting, images: list[dict]) -> dict:
    """method -> the family of the embedding it was conditioned on: generated.conditioning (published,
    none, or a mapping), each method's value in a manifest column ``conditioning`` taking precedence."""
    base = dict(fr_judges.PUBLISHED) if setting == "published" else {} if setting in (None, "none") else dict(setting)
    if not isinstance(base, dict):
        raise ConfigError(f"generated.conditioning={setting}: give published, none, or {{method: family}}")
    for img in images:
        if img.get("conditioning"):
            base[img["method"]] = str(img["conditioning"]).strip().lower()
    return {str(k): str(v).lower() for k, v in base.items()}


def copy_figures(copy: dict, method: np.ndarray, in_audit: np.ndarray, pose: dict | None = None,
                 identity: np.ndarray | None = None, bootstrap=None, scene: dict | None = None) -> dict:
    """Per method: images linked to their inputs, mean similarity to the inputs and to the identity's
    other photos, and the copy rate (of the linked, acquired images); with ``pose`` (:func:`pose_copy`), the
    pose- and expression-copy rates beside it, each with its 95% interval over identities."""
    if not copy.get("available"):
        return {"available": False, "reason": copy.get("reason", "")}
    rows = []
    pose, scene = pose or {}, scene or {}
    kw = metrics.interval_kwargs(bootstrap)
    # kind -> (its distance or similarity to the inputs, whether it copied)
    kinds = {**({k: (pose[f"{k}_to_inputs"], pose[f"{k}_copied"]) for k in ("pose", "expression")}
                if pose.get("available") else {}),
             **({"scene": (scene["scene_to_inputs"], scene["scene_copied"])} if scene.get("available") else {})}
    for m in sorted(set(method.tolist())):
        sel = (method == m) & in_audit
        linked = sel & np.isfinite(copy["to_inputs"])
        others = linked & np.isfinite(copy["to_others"])
        extra = {}
        if identity is not None:
            extra["n_identities"], extra["copy_interval"] = _over_identities(copy["copied"][linked], identity[linked], kw)
            for kind, (to_inputs, copied) in kinds.items():
                have = sel & np.isfinite(to_inputs)
                n_ids, interval = _over_identities(copied[have], identity[have], kw)
                extra.update({f"n_{kind}_linked": int(have.sum()), f"n_{kind}_copied": int(copied[have].sum()),
                              f"n_{kind}_identities": n_ids,
                              f"{kind}_copy_rate": float(copied[have].mean()) if have.any() else float("nan"),
                              f"{kind}_to_inputs": float(np.median(to_inputs[have])) if have.any() else float("nan"),
                              f"{kind}_copy_interval": interval})
        if pose.get("available") and identity is not None:
            extra.update(_spread(pose, sel, identity, kw))
        rows.append({"method": m, "n_linked": int(linked.sum()), **extra,
                     "similarity_to_inputs": float(np.mean(copy["to_inputs"][linked])) if linked.any() else float("nan"),
                     "n_with_other_photos": int(others.sum()),
                     "similarity_to_other_photos": (float(np.mean(copy["to_others"][others])) if others.any()
                                                    else float("nan")),
                     "n_copied": int(copy["copied"][linked].sum()),
                     "copy_rate": float(copy["copied"][linked].mean()) if linked.any() else float("nan")})
    return {"available": True, "link": copy["link"], "link_from": copy.get("link_from", "the manifest"),
            "percentile": copy["percentile"], "threshold": copy["threshold"],
            "n_real_pairs": copy["n_real_pairs"], "methods": rows,
            "pose": ({**{k: pose[k] for k in ("percentile", "thresholds", "n_real_pairs", "real_spread")},
                      "fits": pose_fits(pose["poses"])}
                     if pose.get("available")
                     else {"available": False, "reason": pose.get("reason", "")}),
            "scene": ({k: scene[k] for k in ("percentile", "threshold", "n_real_pairs")} if scene.get("available")
                      else {"available": False, "reason": scene.get("reason", "")})}


def pose_fits(poses: dict) -> dict:
    """Per side (references, generated) the acquired faces whose head pose was measured, and the failed fits by
    reason (counted, never dropped); images with no acquired face are not attempts of the fit."""
    out = {}
    for side, faces in (("references", poses["refs"]), ("generated", poses["gen"])):
        tried = [f for f in faces if f.get("reason") != "no face acquired"]
        out[side] = {"faces": len(tried), "measured": sum(bool(f.get("ok")) for f in tried),
                     "failed": dict(Counter(f.get("reason") or "unknown" for f in tried if not f.get("ok")))}
    return out


def _spread(pose: dict, sel: np.ndarray, identity: np.ndarray, kw: dict) -> dict:
    """A method's pose and expression spread: per identity with two or more of its faces, the median distance
    between them (:func:`fr_eval.pose.spread`); the mean over those identities with its 95% interval."""
    gens = pose["poses"]["gen"]
    ids = sorted(set(identity[sel].tolist()))
    per = [fr_pose.spread([gens[i] for i in np.flatnonzero(sel & (identity == k))], pose["expression_scale"]) for k in ids]
    out = {}
    for j, kind in enumerate(("pose", "expression")):
        v = np.array([p[j] for p in per], float)
        have = np.isfinite(v)
        out[f"{kind}_spread"] = float(v[have].mean()) if have.any() else float("nan")
        out[f"{kind}_spread_interval"] = mean_interval(v[have], np.array(ids, dtype=object)[have], **kw)
        out[f"n_{kind}_spread_identities"] = int(have.sum())
    return out


def _over_identities(hit: np.ndarray, identity: np.ndarray, kw: dict) -> tuple[int, dict]:
    """(identities, the 95% interval of a rate of images) with each identity's images kept together
    (:func:`fr_eval.metrics.rate_interval` on per-identity counts)."""
    ids, inv = np.unique(identity, return_inverse=True)
    return int(ids.size), metrics.rate_interval(np.bincount(inv, np.asarray(hit, float), ids.size),
                                          np.bincount(inv, minlength=ids.size).astype(float), **kw).as_dict()


def _copy_columns(copy: dict, i: int) -> dict:
    if not copy.get("available"):
        return {}
    a, b = copy["to_inputs"][i], copy["to_others"][i]
    return {"similarity_to_inputs": float(a) if np.isfinite(a) else "",
            "similarity_to_other_photos": float(b) if np.isfinite(b) else "",
            "copy": bool(copy["copied"][i]) if np.isfinite(a) else ""}


def _pose_columns(pose: dict, i: int) -> dict:
    """The image's head pose and expression (and, where linked, its pose and expression distance to its inputs)."""
    faces = (pose.get("poses") or {})
    if not faces.get("available"):
        return {}
    g = faces["gen"][i]

    def cell(x):
        return round(float(x), 3) if x is not None and np.isfinite(x) else ""
    cols = {k: cell(g.get(k)) for k in ("yaw", "pitch", "roll", "eye_aspect_ratio", "mouth_opening", "mouth_width")}
    cols["pose_reason"] = g.get("reason", "")
    if pose.get("available"):
        for kind in ("pose", "expression"):
            d = pose[f"{kind}_to_inputs"][i]
            cols[f"{kind}_to_inputs"] = cell(d)
            cols[f"{kind}_copy"] = bool(pose[f"{kind}_copied"][i]) if np.isfinite(d) else ""
    return cols


def _scene_columns(scene: dict, i: int) -> dict:
    if not scene.get("available"):
        return {}
    a, b, f = scene["scene_to_inputs"][i], scene["scene_to_others"][i], scene["framing_to_inputs"][i]
    return {"scene_to_inputs": round(float(a), 4) if np.isfinite(a) else "",
            "scene_to_other_photos": round(float(b), 4) if np.isfinite(b) else "",
            "framing_shift_to_inputs": round(float(f), 4) if np.isfinite(f) else "",
            "scene_copy": bool(scene["scene_copied"][i]) if np.isfinite(a) else ""}


def _median_fmr_equivalent(images: list[dict]) -> dict:
    """method -> the median over its audited images of the FMR at which the judge would accept each (a
    failure to acquire counts as 1: accepted only when everything is); comparable across judges."""
    by: dict = {}
    for img in images:
        if img["status"] in ("acquired", "failed"):
            by.setdefault(img["method"], []).append(1.0 if img["fmr_equivalent"] == "" else float(img["fmr_equivalent"]))
    return {m: float(np.median(v)) for m, v in by.items()}
