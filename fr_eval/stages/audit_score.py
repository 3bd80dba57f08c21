"""The audit's acquire-and-score stage: every enrolment photo, generated image and target frame
acquired through the store (the engine the scenarios use), the threshold fixed (on the enrolment's
impostors, a dataset's, or given), and per generated image its similarity to its own identity, the
best other one, its identity's rank in a 1:N search of the enrolled identities (the identification
protocol's code, :func:`fr_eval.identification.search_gallery`), CSIM/SSIM against its target and its
closeness to its input photos."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from .. import colour
from .. import identification
from .. import metrics
from .. import pose as fr_pose
from ..datasets import load_dataset
from ..datasets.generated import LINKS
from ..errors import ConfigError, FrEvalError
from ..evaluation import SideData, fixed_threshold, gallery_templates, impostor_summary, score_vectors
from ..identity import enrolment_impostor_scores, identity_scores, pairwise_similarity
from ..images import ImageLoadError, load_image
from ..protocol import build_comparisons
from ..provenance import file_sha256
from ..settings import Config
from ..systems.align import norm_crop
from ..systems.base import metric_of
from ..variants import ORIGINAL
from .acquire import Session, session
from .audit_differentials import identity_groups
from .audit_multi import multi_scores
from .audit_plan import AuditPlan
from .identify import fpir_thresholds
from .plan import impostor_stream


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
    mate_rank: np.ndarray  # the own identity's rank in the 1:N search (0: not acquired or not enrolled)
    mate_score: np.ndarray  # its score there (float32 products; nan where no rank)
    search: dict  # audit_searches(): the gallery, the non-mated searches and the FPIR thresholds fixed on them
    in_audit: np.ndarray
    acquired: np.ndarray
    csim: np.ndarray
    ssim: np.ndarray
    target_status: list
    best_ref: list
    copy: dict = field(default_factory=dict)  # copy_scores(): the generated images against their input photos
    #: pose_copy(): head pose and expression of every face, and how close each generated one is to its inputs'
    pose: dict = field(default_factory=dict)
    #: scene_copy(): how much of the input photo's scene (outside the face) and framing a generated image keeps
    scene: dict = field(default_factory=dict)
    #: real_photo_ceiling(): each real reference photo scored against its identity enrolled without it
    ceiling: dict = field(default_factory=dict)
    #: skin_tones(): each generated face's ITA and its identity's (the median over its reference photos), degrees
    ita: dict = field(default_factory=dict)
    gen_emb: np.ndarray | None = None  # the generated images' score vectors (a video's frames compared pairwise)
    multi: list = field(default_factory=list)  # audit_multi.multi_scores(): rows naming several identities
    #: audit_differentials.identity_groups(): each identity's group by skin tone and by generated.by_attributes
    groups: dict = field(default_factory=dict)
    metric: str = "cosine"


def score_audit(plan: AuditPlan, cfg: Config, progress: bool) -> AuditScores:
    """Acquire every image through the store, fix the threshold, score each generated image."""
    idx = {name: i for i, name in enumerate(plan.identities)}
    with session(cfg, progress) as run:  # the scenario runs' acquire stage: the same system, store and executor
        acqs, _, stats = run.acquire([(s, ORIGINAL) for s in plan.refs + plan.gen + plan.targets])
        system = run.system
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
        thr, imp, thr_info = _threshold(cfg, plan.fmr, imp_enrol, run)
        multi = multi_scores(plan.multi, system, ref_side.emb[ok], ref_id[ok], plan.identities, plan.template,
                             metric, thr, plan.multi_ordered) if plan.multi else []
    gen_side = SideData.from_acquisitions([acqs[(s.rel, ORIGINAL.name)] for s in plan.gen], metric, "template", dim)
    gid = np.array([idx[s.subject] for s in plan.gen])
    S = identity_scores(gen_side.emb, ref_side.emb[ok], ref_id[ok], len(plan.identities), plan.template, metric)
    rows = np.arange(len(plan.gen))
    own = S[rows, gid]
    others = np.where(np.isfinite(S), S, -np.inf)
    others[rows, gid] = -np.inf
    mate_rank, mate_score, search = audit_searches(plan, gen_side, ref_side, ref_id, gid, metric)
    csim, ssim, target_status = _target_figures(plan.gen, plan.gset.targets, acqs, metric)
    copy = copy_scores(plan, gen_side, ref_side, metric, cfg.generated.copy_percentile)
    # one photo in two files (the shared manifest reuses a photo across methods' folders) is never a pair of photos
    # taken apart: the bar of the pose and scene copy rules is set on pairs that are not
    thumbs = [_scene(s, acqs[(s.rel, ORIGINAL.name)]) for s in plan.refs]  # each reference read once, here
    same = same_photos(thumbs, [s.subject for s in plan.refs])
    return AuditScores(acqs=acqs, stats=stats, system=system.describe(), system_note=run.note, ref_ok=ok,
                       enrolled=enrolled, threshold=thr, impostor=imp, threshold_info=thr_info, gid=gid, own=own,
                       other_max=others.max(axis=1),
                       other_arg=np.argmax(others, axis=1), rank1=mate_rank == 1,
                       mate_rank=mate_rank, mate_score=mate_score, search=search, in_audit=enrolled[gid],
                       acquired=gen_side.ok & enrolled[gid], csim=csim, ssim=ssim, target_status=target_status,
                       best_ref=_best_references(plan, gen_side, ref_side, ref_id, gid, metric),
                       copy=copy,
                       pose=pose_copy(plan, face_poses(plan, acqs), cfg.generated.pose_copy_percentile, same),
                       scene=scene_copy(plan, acqs, 100.0 - cfg.generated.pose_copy_percentile, same, thumbs),
                       ita=skin_tones(plan, acqs, gid, len(plan.identities)), gen_emb=gen_side.emb, metric=metric,
                       multi=multi, groups=identity_groups(plan, acqs, cfg, cfg.intervals()),
                       ceiling=real_photo_ceiling(ref_side, ref_id, len(plan.identities), plan.template, metric)
                       | {"ref_id": ref_id})


def real_photo_ceiling(ref_side: SideData, ref_id: np.ndarray, n_identities: int, template: str,
                       metric: str) -> dict:
    """The figures a perfect generator could reach here: each acquired real reference photo of an identity with
    at least two, scored as a generated image would be against its identity enrolled from the *other* photos
    (left out of its own template; every other identity enrolled as for the methods). The same judge, threshold
    and template rule as every method, so a method's figures read against real photos of the same people.

    Returns arrays over those photos: ``identity`` (index), ``own`` (to its own identity without it),
    ``other_max`` (the best other identity), ``mate_rank`` (1 + the others at or above ``own``: ties against it);
    empty where no identity has two acquired photos."""
    ok = np.flatnonzero(ref_side.ok)
    counts = np.bincount(ref_id[ok], minlength=n_identities)
    keep = [j for j in ok if counts[ref_id[j]] >= 2]
    out = {"photo": np.array(keep, int), "identity": np.array([ref_id[j] for j in keep], int), "own": np.zeros(len(keep)),
           "other_max": np.full(len(keep), -np.inf), "mate_rank": np.zeros(len(keep), np.int64)}
    for k, j in enumerate(keep):  # one photo left out at a time (a few hundred photos: a loop is fine)
        rest = ok[ok != j]
        S = identity_scores(ref_side.emb[j:j + 1], ref_side.emb[rest], ref_id[rest], n_identities, template, metric)[0]
        own = S[ref_id[j]]
        others = np.delete(S, ref_id[j])
        others = others[np.isfinite(others)]
        out["own"][k] = own
        out["other_max"][k] = others.max() if others.size else -np.inf
        out["mate_rank"][k] = 1 + int((others >= own).sum())
    return out


def audit_searches(plan: AuditPlan, gen_side: SideData, ref_side: SideData, ref_id: np.ndarray, gid: np.ndarray,
                   metric: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """The audit as 1:N search: a gallery of the enrolled identities (``generated.template``), each
    generated image a mated search (its identity's rank, ties counted against it, and score), and each
    acquired enrolment photo a non-mated search of the gallery less its own identity (its best other
    identity's score: the top of a 2-candidate list that is not its own), on whose top scores the
    thresholds at the FPIR targets are fixed by the conservative rule.

    Returns (each generated image's identity rank, 0 where it has none; its score, nan there; what the
    report states of the search: gallery, non-mated searches, thresholds)."""
    ok = ref_side.ok
    gallery, subjects = gallery_templates(ref_side.emb[ok], ref_id[ok], plan.template, metric)
    out = {"gallery_size": len(set(subjects)), "template": plan.template, "rank_k": plan.rank_k,
           "nonmated_searches": 0, "thresholds": {}}
    if not subjects:
        return (np.zeros(len(gid), np.int64), np.full(len(gid), np.nan, np.float32),
                {**out, "why_no_thresholds": "no identity enrolled"})
    gen = identification.search_gallery(score_vectors(gen_side.emb, metric, "probe"), gid, gallery, subjects,
                           k=plan.rank_k, search_ok=gen_side.ok)
    if out["gallery_size"] < 2:
        return gen.mate_rank, gen.mate_score, {**out, "why_no_thresholds": "one identity enrolled: an enrolment "
                                                                           "photo has no other identity to search"}
    enrol = identification.search_gallery(score_vectors(ref_side.emb[ok], metric, "probe"), ref_id[ok], gallery, subjects, k=2)
    own = enrol.subjects[enrol.top_entry[:, 0]] == ref_id[ok]
    top1 = np.where(own, enrol.top_score[:, 1], enrol.top_score[:, 0]).astype(np.float64)
    out.update(nonmated_searches=int(top1.size),
               thresholds=fpir_thresholds(top1, plan.fpir, plan.min_false_alarms))
    return gen.mate_rank, gen.mate_score, out


def skin_tones(plan: AuditPlan, acqs: dict, gid: np.ndarray, n_identities: int) -> dict:
    """The ITA (:func:`fr_eval.colour.face_ita`) of every acquired generated face and, per identity, the median
    over its acquired colour reference photos: ``generated`` (n,), ``identity`` (n_identities,), ``shift``
    (n,: generated minus its identity's; nan where either is missing), ``references`` (each reference photo's,
    in ``plan.refs`` order: the real-photo ceiling's shifts)."""
    def ita_of(smp):
        a = acqs[(smp.rel, ORIGINAL.name)]
        if not a.ok or a.detection is None:
            return float("nan")
        try:
            rgb = load_image(smp.path)
        except ImageLoadError:
            return float("nan")
        return float("nan") if colour.is_grey(rgb) else colour.face_ita(rgb, a.detection.landmarks)["ita"]

    idx = {name: i for i, name in enumerate(plan.identities)}
    per_identity: dict = {}
    references = np.array([ita_of(r) for r in plan.refs], float)
    for r, v in zip(plan.refs, references):
        if np.isfinite(v):
            per_identity.setdefault(idx[r.subject], []).append(v)
    identity = np.array([np.median(per_identity[i]) if i in per_identity else np.nan for i in range(n_identities)])
    generated = np.array([ita_of(g) for g in plan.gen])
    return {"generated": generated, "identity": identity, "shift": generated - identity[gid], "references": references}


def left_out_shift(references: np.ndarray, ref_id: np.ndarray, photos: np.ndarray) -> np.ndarray:
    """The ITA shift of each left-out real photo (``photos``: indices into the reference photos): its ITA minus
    the median of its identity's *other* photos' (nan where either is missing), as a method's image is read
    against its identity's: how far real photos of the same person already move (lighting, camera)."""
    out = np.full(len(photos), np.nan)
    for k, j in enumerate(photos):
        others = references[(ref_id == ref_id[j]) & (np.arange(len(ref_id)) != j)]
        others = others[np.isfinite(others)]
        if np.isfinite(references[j]) and others.size:
            out[k] = references[j] - np.median(others)
    return out


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


def _threshold(cfg: Config, fmr, imp_enrol, run: Session) -> tuple[float, np.ndarray, dict]:
    """(threshold, the impostor scores it was fixed on, how)."""
    src = cfg.generated.threshold_from
    if isinstance(src, (int, float)) and not isinstance(src, bool):
        return float(src), imp_enrol, {"source": "given", "threshold": float(src),
                                       "fmr_achieved_on_enrolment": metrics.fmr_at(imp_enrol, float(src))
                                       if imp_enrol.size else None}
    if src == "enrolment":
        if imp_enrol.size == 0:
            raise FrEvalError("no impostor comparison among the enrolment photos (fewer than two identities "
                              "enrolled); give generated.threshold_from=dataset or a number")
        fixed = fixed_threshold(imp_enrol, fmr)
        return fixed["threshold"], imp_enrol, {"source": "impostor comparisons among the enrolment photos (each "
                                                         "photo against every other identity's enrolment)", **fixed}
    if src == "dataset":
        ds = load_dataset(cfg.dataset)
        comps = build_comparisons(ds, cfg.impostors, cfg.seed)
        acqs, _, _ = run.acquire([(s, ORIGINAL) for s in ds.references + ds.probes])
        metric = metric_of(run.system.describe())
        ref = SideData.from_acquisitions([acqs[(s.rel, ORIGINAL.name)] for s in ds.references], metric, "reference")
        probe = SideData.from_acquisitions([acqs[(s.rel, ORIGINAL.name)] for s in ds.probes], metric, "probe")
        _, codes = np.unique([s.subject for s in ds.references + ds.probes], return_inverse=True)
        imp = impostor_summary(ref, probe, comps, codes[:len(ds.references)], codes[len(ds.references):],
                               impostor_stream(dataclasses.replace(cfg, executor="local"), fmr))
        if imp.n == 0:
            raise FrEvalError(f"dataset {ds.name}: no impostor comparison could be made")
        fixed = fixed_threshold(imp, fmr)
        return fixed["threshold"], imp, {"source": f"baseline impostor comparisons of dataset {ds.name} (image "
                                                   f"against image)", **fixed, "impostor_scores": imp.describe()}
    raise ConfigError(f"generated.threshold_from={src}: choose enrolment, dataset, or a number (a cosine threshold)")


def _target_figures(gen, targets, acqs, metric: str = "cosine"):
    """CSIM (the system's similarity, cosine for all but dlib) and SSIM for generated images that
    have a target frame (``nan`` elsewhere)."""
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


def _links(plan: "AuditPlan") -> dict:
    """How generated images are linked to the photos they were made from: the manifest's link column, each
    reference's key in it, its identity and its file's sha256 (one file listed twice is one photo)."""
    link = next((c for c in LINKS if c in plan.gset.columns), None)
    if link is None:
        return {"available": False, "reason": f"the manifest has no {' or '.join(LINKS)} column linking a generated "
                                              f"image to the photos it was made from"}
    key = (lambda smp: dict(smp.meta).get("group", "")) if link == "group" else (lambda smp: smp.rel)
    return {"available": True, "link": link, "ref_key": np.array([key(r) for r in plan.refs], dtype=object),
            "ref_subject": np.array([r.subject for r in plan.refs], dtype=object),
            "ref_sha": np.array([file_sha256(r.path) for r in plan.refs], dtype=object)}


def face_poses(plan: "AuditPlan", acqs: dict) -> dict:
    """Head pose and expression (:mod:`fr_eval.pose`) of every acquired face, references (``plan.refs`` order)
    and generated images (``plan.gen``, frames included): dlib's 68-point predictor in the judge's face box. Where
    dlib is not installed: ``available`` False with the reason; a face whose fit fails keeps its reason."""
    try:
        import dlib
    except ImportError:
        return {"available": False, "reason": "dlib is not installed (pip install -e '.[dlib]'): no 68-point landmarks "
                                              "for head pose and expression"}
    from ..systems.dlib import model_file
    try:
        predictor = dlib.shape_predictor(str(model_file("landmarks_68")))
    except FrEvalError as exc:
        return {"available": False, "reason": str(exc)}

    def one(smp) -> dict:
        a = acqs[(smp.rel, ORIGINAL.name)]
        if not a.ok or a.detection is None:
            return {"ok": False, "reason": "no face acquired"}
        try:
            rgb = load_image(smp.path)
        except ImageLoadError as exc:
            return {"ok": False, "reason": f"unreadable: {exc}"}
        x1, y1, x2, y2 = (int(round(v)) for v in a.detection.bbox)
        shape = predictor(np.ascontiguousarray(rgb), dlib.rectangle(x1, y1, x2, y2))
        pts = np.array([(shape.part(k).x, shape.part(k).y) for k in range(shape.num_parts)], float)
        pose = fr_pose.head_pose(pts, rgb.shape[1], rgb.shape[0])
        return {**pose, **(fr_pose.expression(pts) if pose["ok"] else {})}

    return {"available": True, "refs": [one(s) for s in plan.refs], "gen": [one(s) for s in plan.gen]}


def pose_copy(plan: "AuditPlan", poses: dict, percentile: float, same_photo: np.ndarray | None = None) -> dict:
    """Per generated image linked to its input photos: the smallest head-pose distance (degrees, geodesic) and
    expression distance (eye aspect ratio, mouth opening and width, each over its spread among the real photos)
    to an input and to the identity's other real photos; a pose (expression) copy is closer to an input than
    ``percentile`` % of the distances between different real photos of one identity: a method that re-renders
    its input photo keeps its pose, which a new picture of the person would not."""
    if not poses.get("available"):
        return {"available": False, "reason": poses.get("reason", ""), "poses": poses}
    links = _links(plan)
    if not links["available"]:
        return {**links, "poses": poses}
    link, ref_key, ref_subject, ref_sha = links["link"], links["ref_key"], links["ref_subject"], links["ref_sha"]
    refs, gens = poses["refs"], poses["gen"]
    ok = np.array([r["ok"] for r in refs], bool)
    scale = np.array([np.std([r[k] for r in refs if r["ok"]]) if ok.sum() > 1 else 1.0 for k in fr_pose.EXPRESSION_KEYS])
    scale = np.where(scale > 0, scale, 1.0)

    def expr_distance(a, b):
        return fr_pose.expression_distance(a, b, scale)
    _, first = np.unique(ref_sha, return_index=True)
    distinct = np.zeros(len(refs), bool)
    distinct[first] = True
    real_pose, real_expr = [], []
    for i in range(len(refs)):
        for j in range(i + 1, len(refs)):
            if ok[i] and ok[j] and distinct[i] and distinct[j] and ref_subject[i] == ref_subject[j] \
                    and ref_sha[i] != ref_sha[j] and ref_key[i] != ref_key[j] \
                    and not (same_photo is not None and same_photo[i, j]):  # photos taken apart, as in scene_copy
                real_pose.append(fr_pose.pose_distance(refs[i], refs[j]))
                real_expr.append(expr_distance(refs[i], refs[j]))
    if len(real_pose) < 10:
        return {"available": False, "reason": f"only {len(real_pose)} pairs of real photos of one identity with a "
                                              f"head pose (at least 10 are needed for the {percentile:g}th "
                                              f"percentile)", "poses": poses}
    cut = {"pose": float(np.percentile(real_pose, percentile)), "expression": float(np.percentile(real_expr, percentile))}
    out = {k: np.full(len(gens), np.nan) for k in ("pose_to_inputs", "pose_to_others", "expression_to_inputs",
                                                   "expression_to_others")}
    for i, (g, smp) in enumerate(zip(gens, plan.gen)):
        want = dict(smp.meta).get(link, "")
        if not want or not g["ok"]:
            continue
        inputs = ok & (ref_key == want) & (ref_subject == smp.subject)
        others = ok & (ref_key != want) & (ref_subject == smp.subject) & ~np.isin(ref_sha, ref_sha[inputs])
        for name, where in (("inputs", inputs), ("others", others)):
            if where.any():
                out[f"pose_to_{name}"][i] = min(fr_pose.pose_distance(g, refs[j]) for j in np.flatnonzero(where))
                out[f"expression_to_{name}"][i] = min(expr_distance(g, refs[j]) for j in np.flatnonzero(where))
    return {"available": True, "link": link, "percentile": percentile, "thresholds": cut,
            "expression_scale": scale.tolist(), "real_spread": _real_spread(refs, ref_subject, distinct, scale),
            "n_real_pairs": len(real_pose), "poses": poses, **out,
            "pose_copied": np.isfinite(out["pose_to_inputs"]) & (out["pose_to_inputs"] < cut["pose"]),
            "expression_copied": np.isfinite(out["expression_to_inputs"])
            & (out["expression_to_inputs"] < cut["expression"])}


def _real_spread(refs: list, subject: np.ndarray, distinct: np.ndarray, scale) -> dict:
    """The pose and expression spread of real photos (each distinct file once), per identity and their mean over
    identities: what a method's spread reads against."""
    per = [fr_pose.spread([refs[j] for j in np.flatnonzero(distinct & (subject == s))], scale) for s in np.unique(subject)]
    pose, expr = np.array([p for p, _ in per]), np.array([e for _, e in per])
    have = np.isfinite(pose)
    return {"pose": float(pose[have].mean()) if have.any() else float("nan"),
            "expression": float(expr[have].mean()) if have.any() else float("nan"), "n_identities": int(have.sum())}


#: the side of the grey thumbnails whose scenes are compared: a background's layout, not its texture (at 128 px a
#: re-rendered wooden wall, shifted a few pixels, scored 0.42; at 16 px 0.79, against 0.10-0.16 for new photos)
SCENE_SIZE = 16


def _scene(smp, acq) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A photo as a SCENE_SIZE grey thumbnail, the mask of its face box there, and the box as fractions of the
    photo (x1, y1, x2, y2); None where it has no face or cannot be read."""
    if not acq.ok or acq.detection is None:
        return None
    try:
        rgb = load_image(smp.path)
    except ImageLoadError:
        return None
    h, w = rgb.shape[:2]
    grey = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (SCENE_SIZE, SCENE_SIZE), interpolation=cv2.INTER_AREA)
    box = np.clip(np.asarray(acq.detection.bbox, float) / [w, h, w, h], 0.0, 1.0)
    mask = np.zeros((SCENE_SIZE, SCENE_SIZE), bool)
    x1, y1, x2, y2 = (box * SCENE_SIZE).round().astype(int)
    mask[y1:y2, x1:x2] = True
    return grey, mask, box


#: two files whose whole thumbnails (face included) are this alike are one photo twice (re-encoded, re-cropped)
SAME_PHOTO = 0.95


def one_photo(a: tuple, b: tuple) -> bool:
    """Whether two thumbnails are one photo in two files (whole-image SSIM >= :data:`SAME_PHOTO`)."""
    return structural_similarity(a[0], b[0], data_range=255.0) >= SAME_PHOTO


def scene_similarity(a: tuple, b: tuple) -> float:
    """SSIM (skimage, its local map) of two thumbnails averaged outside both face boxes: the background and
    clothes a re-rendered photo keeps."""
    _, ssim_map = structural_similarity(a[0], b[0], data_range=255.0, full=True)
    outside = ~(a[1] | b[1])
    return float(ssim_map[outside].mean()) if outside.any() else float("nan")


def framing_shift(a: tuple, b: tuple) -> float:
    """How far the face box moved between two photos: the distance between the boxes' centres plus the change of
    their width, both as fractions of the photo's width (0: the same framing)."""
    ca, cb = (a[2][:2] + a[2][2:]) / 2, (b[2][:2] + b[2][2:]) / 2
    return float(np.hypot(*(ca - cb)) + abs((a[2][2] - a[2][0]) - (b[2][2] - b[2][0])))


def same_photos(thumbs: list, subjects: list) -> np.ndarray:
    """(n, n) bool: pairs of reference files of one identity that are one photo twice (:func:`one_photo`); only
    same-identity pairs are compared, the only ones a copy rule's bar is set on."""
    n = len(thumbs)
    same = np.zeros((n, n), bool)
    for i in range(n):
        for j in range(i + 1, n):
            if subjects[i] == subjects[j] and thumbs[i] is not None and thumbs[j] is not None:
                same[i, j] = same[j, i] = one_photo(thumbs[i], thumbs[j])
    return same


def scene_copy(plan: "AuditPlan", acqs: dict, percentile: float, same_photo: np.ndarray | None = None,
               ref_thumbs: list | None = None) -> dict:
    """Per generated image linked to its input photos: the highest scene similarity to an input and to the
    identity's other real photos, and the smallest framing shift to an input; a scene copy keeps more of an
    input's scene than ``percentile`` % of the pairs of real photos of one identity from different links do (two
    photos of a person taken apart share little background; a re-rendered photo shares it all)."""
    links = _links(plan)
    if not links["available"]:
        return links
    link, ref_key, ref_subject, ref_sha = links["link"], links["ref_key"], links["ref_subject"], links["ref_sha"]
    refs = ref_thumbs if ref_thumbs is not None else [_scene(s, acqs[(s.rel, ORIGINAL.name)]) for s in plan.refs]
    _, first = np.unique(ref_sha, return_index=True)
    # pairs of real photos of one identity from different links: two inputs of one generation are often crops of
    # one shoot or composite (the same background), which would set the bar at a copy's own level; ``same_photo``:
    # the pairs that are one photo in two files (:func:`one_photo`)
    real = [scene_similarity(refs[i], refs[j]) for i in first for j in first
            if i < j and refs[i] is not None and refs[j] is not None and ref_subject[i] == ref_subject[j]
            and ref_key[i] != ref_key[j] and not (same_photo is not None and same_photo[i, j])]
    real = [x for x in real if np.isfinite(x)]
    if len(real) < 10:
        return {"available": False, "reason": f"only {len(real)} pairs of real photos of one identity from different "
                                              f"{link} values with a face (at least 10 are needed for the "
                                              f"{percentile:g}th percentile)"}
    cut = float(np.percentile(real, percentile))
    out = {k: np.full(len(plan.gen), np.nan) for k in ("scene_to_inputs", "scene_to_others", "framing_to_inputs")}
    for i, smp in enumerate(plan.gen):
        want = dict(smp.meta).get(link, "")
        if not want:
            continue
        g = _scene(smp, acqs[(smp.rel, ORIGINAL.name)])
        if g is None:
            continue
        inputs = [j for j, r in enumerate(plan.refs) if refs[j] is not None and ref_key[j] == want
                  and ref_subject[j] == smp.subject]
        others = [j for j, r in enumerate(plan.refs) if refs[j] is not None and ref_key[j] != want
                  and ref_subject[j] == smp.subject and ref_sha[j] not in {ref_sha[k] for k in inputs}]
        if inputs:
            out["scene_to_inputs"][i] = max(scene_similarity(g, refs[j]) for j in inputs)
            out["framing_to_inputs"][i] = min(framing_shift(g, refs[j]) for j in inputs)
        if others:
            out["scene_to_others"][i] = max(scene_similarity(g, refs[j]) for j in others)
    return {"available": True, "link": link, "percentile": percentile, "threshold": cut, "n_real_pairs": len(real),
            **out, "scene_copied": np.isfinite(out["scene_to_inputs"]) & (out["scene_to_inputs"] > cut)}


def copy_scores(plan: "AuditPlan", gen_side, ref_side, metric: str, percentile: float) -> dict:
    """Per generated image linked to its input photos (a ``group`` shared with reference rows, or a
    ``source_reference`` path): the highest similarity to those inputs, the highest to the identity's
    other real photos, and whether it is a copy: closer to an input than ``percentile`` % of the
    judge's genuine scores between different real photos of one identity (files with the same sha256
    are one photo: listed twice, they would compare as 1.0)."""
    links = _links(plan)
    if not links["available"]:
        return links
    link, ref_key, ref_subject, ref_sha = links["link"], links["ref_key"], links["ref_subject"], links["ref_sha"]
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
    best_input = np.full(len(plan.gen), -1)  # the input photo it is most similar to (the copy sheet's partner)
    for i, g in enumerate(plan.gen):
        want = dict(g.meta).get(link, "")
        if not want or not gen_side.ok[i]:
            continue
        inputs = ref_side.ok & (ref_key == want) & (ref_subject == g.subject)
        others = ref_side.ok & (ref_key != want) & (ref_subject == g.subject) & ~np.isin(ref_sha, ref_sha[inputs])
        if inputs.any():
            to_inputs[i] = sims[i, inputs].max()
            best_input[i] = np.flatnonzero(inputs)[np.argmax(sims[i, inputs])]
        if others.any():
            to_others[i] = sims[i, others].max()
    return {"available": True, "link": link, "link_from": plan.gset.details or "the manifest",
            "percentile": percentile, "threshold": threshold,
            "n_real_pairs": int(genuine_real.size), "to_inputs": to_inputs, "to_others": to_others,
            "best_input": best_input,
            "copied": np.isfinite(to_inputs) & (to_inputs > threshold)}
