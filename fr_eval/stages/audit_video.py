"""Videos in the audit: a generated row that is a video becomes its sampled frames (:mod:`fr_eval.video`),
each an ordinary generated image of the row's identity and method (so every judge scores them as it scores
images, through the store), and the frames are gathered back per video: the share acquired, the similarity
over the frames (mean, minimum, spread), the share verified, the video's verdict under
``generated.video.verified_share``, identity over time (TL-ID, TG-ID, the drift: :func:`consistency`). The
unit of every interval is the identity: frames of one video are never independent."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import metrics
from ..datasets.base import Sample
from ..identity import complement_interval, mean_interval, pairwise_similarity
from ..provenance import file_sha256
from ..video import VideoError, extract, is_video


@dataclass
class VideoRow:
    """One video row of the manifest: its frames (generated samples) or why it could not be read."""

    rel: str
    subject: str
    meta: tuple
    frames: list = field(default_factory=list)  # frame samples, in time order
    n_frames: int = 0  # frames of the video (within max_seconds)
    rotation: int = 0  # the display matrix's rotation applied to its frames (degrees counter-clockwise)
    start: float = 0.0  # the stream's first timestamp (s); max_seconds and frame times count from it
    error: str = ""

    @property
    def method(self) -> str:
        return dict(self.meta).get("method", "")


def expand_videos(gset, settings, frames_dir) -> tuple[object, list[VideoRow]]:
    """The manifest with each video row replaced by its sampled frames, and the video rows (a video that
    cannot be read keeps its row, with the reason, and adds no frame); video targets are sampled alike and
    matched frame by frame (a still target serves every frame)."""
    videos, generated, targets, problems = [], [], dict(gset.targets), list(gset.problems)
    for s in gset.generated:
        if not is_video(s.path):
            generated.append(s)
            continue
        row = VideoRow(rel=s.rel, subject=s.subject, meta=s.meta)
        videos.append(row)
        try:
            got = extract(s.path, file_sha256(s.path), frames_dir, settings.frames, settings.max_seconds)
        except (VideoError, OSError) as exc:
            row.error = str(exc)
            problems.append({"kind": "unreadable video", "where": s.rel, "detail": row.error})
            continue
        frames, row.n_frames, row.rotation, row.start = got.frames, got.n_frames, got.rotation, got.start
        target_of = _target_frames(targets.pop(s.rel, None), settings, frames_dir, s.rel, problems)
        for f in frames:
            frame = Sample(path=f.path, rel=f"{s.rel}#{f.index:06d}", subject=s.subject, role="generated",
                           meta=(*s.meta, ("video", s.rel), ("frame", str(f.index)), ("time", f"{f.time:.3f}")))
            row.frames.append(frame)
            generated.append(frame)
            if target_of(f.index) is not None:
                targets[frame.rel] = target_of(f.index)
    return dataclasses.replace(gset, generated=generated, targets=targets, problems=problems), videos


def _target_frames(target, settings, frames_dir, where: str, problems: list):
    """frame index -> the target a generated frame is compared with: a still target for every frame, a video
    target's frame of the same index, None where there is none (no target, an unreadable target video, a
    target video shorter than the generated one)."""
    if target is None or not is_video(target.path):
        return lambda index: target
    try:
        frames = extract(target.path, file_sha256(target.path), frames_dir, "all", settings.max_seconds).frames
    except (VideoError, OSError) as exc:
        problems.append({"kind": "unreadable target video", "where": where, "detail": str(exc)})
        return lambda index: None
    by_index = {f.index: Sample(path=f.path, rel=f"{target.rel}#{f.index:06d}", subject=target.subject,
                                role="target") for f in frames}
    return by_index.get


def video_figures(videos: list[VideoRow], rel_index: dict, sc, settings, identities: list, bootstrap) -> dict:
    """Per video and per method the video figures, from the scored frames (``sc``: AuditScores; ``rel_index``:
    frame rel -> its position in the scored generated images)."""
    rows, series = [], {}
    for v in videos:
        rows.append(one_video(v, rel_index, sc, settings.verified_share))
        times_sims = rows[-1].pop("_series")
        if times_sims is not None:
            series.setdefault(v.method, []).append({"video": v.rel, "time": times_sims[0].tolist(),
                                                    "similarity": times_sims[1].tolist()})
    methods = [method_row(m, [r for r in rows if r["method"] == m], identities, bootstrap)
               for m in sorted({r["method"] for r in rows})]
    return {"videos": rows, "methods": methods, "series": series, "rule": settings.frames,
            "max_seconds": settings.max_seconds, "verified_share": settings.verified_share,
            "threshold": sc.threshold}


def one_video(v: VideoRow, rel_index: dict, sc, share: float) -> dict:
    """One video's figures (similarities in the judge's scale; shares are fractions)."""
    base = {"video": v.rel, "identity": v.subject, "method": v.method, "n_frames_video": v.n_frames,
            "n_frames": len(v.frames), "status": "failed" if v.error else "read", "reason": v.error,
            "display_rotation": v.rotation, "stream_start_s": v.start}
    idx = np.array([rel_index[f.rel] for f in v.frames], int)
    if v.error or idx.size == 0:
        return {**base, "n_acquired": 0, "acquired_share": 0.0, "verified_share": 0.0, "verified": False,
                "similarity_mean": float("nan"), "similarity_min": float("nan"), "similarity_std": float("nan"),
                **consistency(None), "csim_mean": float("nan"), "ssim_mean": float("nan"),
                "worst_frame": "", "worst_frame_file": "", "_series": None}
    ok = sc.acquired[idx]
    own = sc.own[idx]
    verified = ok & (own >= sc.threshold)
    sims = own[ok]
    emb = sc.gen_emb[idx[ok]] if sc.gen_emb is not None else None
    pairs = pairwise_similarity(emb, emb, sc.metric) if emb is not None and len(emb) > 1 else None
    times = np.array([float(dict(f.meta)["time"]) for f in v.frames])
    worst = int(np.flatnonzero(ok)[np.argmin(sims)]) if sims.size else None
    return {**base, "n_acquired": int(ok.sum()), "acquired_share": float(ok.mean()),
            "verified_share": float(verified.mean()), "verified": bool(verified.mean() >= share),
            "similarity_mean": float(sims.mean()) if sims.size else float("nan"),
            "similarity_min": float(sims.min()) if sims.size else float("nan"),
            "similarity_std": float(sims.std()) if sims.size else float("nan"), **consistency(pairs),
            "csim_mean": _mean(sc.csim[idx]), "ssim_mean": _mean(sc.ssim[idx]),
            "worst_frame": v.frames[worst].rel if worst is not None else "",
            "worst_frame_file": str(v.frames[worst].path) if worst is not None else "",
            "_series": (times, np.where(ok, own, np.nan))}


#: the quantile of adjacent-frame similarity that stands for a video's drift
DRIFT_QUANTILE = 10


def consistency(pairs: np.ndarray | None) -> dict:
    """Identity over time from the similarities between a video's acquired sampled frames (in time order):
    TL-ID, the mean similarity of adjacent frames, and TG-ID, the mean over every pair of frames (as STIT, Tzaban
    et al. 2022, define them; here on the frames the sampling rule kept, so adjacent means adjacent among those);
    the drift, the 10th percentile of the adjacent-frame similarities (a low quantile: unlike the lowest pair of
    all, it does not fall as more frames are sampled); and the lowest pair of all, kept for reference."""
    nan = float("nan")
    if pairs is None or len(pairs) < 2:
        return {"tl_id": nan, "tg_id": nan, "drift_adjacent_p10": nan, "lowest_pair": nan}
    adjacent = np.diagonal(pairs, offset=1)
    upper = pairs[np.triu_indices(len(pairs), 1)]
    return {"tl_id": float(adjacent.mean()), "tg_id": float(upper.mean()),
            "drift_adjacent_p10": float(np.percentile(adjacent, DRIFT_QUANTILE)), "lowest_pair": float(upper.min())}


def _mean(x: np.ndarray) -> float:
    """The mean of the finite values (CSIM/SSIM exist only for frames with a target), nan when none."""
    x = np.asarray(x, float)
    return float(x[np.isfinite(x)].mean()) if np.isfinite(x).any() else float("nan")


def method_row(method: str, rows: list[dict], identities: list, bootstrap) -> dict:
    """A method's videos: counts, the share of frames acquired, the share of videos verified and the mean of
    the videos' mean similarity, minimum and drift, each with a 95% interval resampling identities."""
    kw = metrics.interval_kwargs(bootstrap)
    ident = np.array([r["identity"] for r in rows], dtype=object)
    ids, inv = np.unique(ident, return_inverse=True)

    def per_id(values):
        return np.bincount(inv, weights=np.asarray(values, float), minlength=ids.size)

    n_frames = np.array([r["n_frames"] for r in rows], float)
    acquired = np.array([r["n_acquired"] for r in rows], float)
    verified = np.array([r["verified"] for r in rows], float)
    out = {"method": method, "n_videos": len(rows), "n_failed_videos": sum(r["status"] == "failed" for r in rows),
           "n_identities": int(ids.size), "n_frames": int(n_frames.sum()), "n_acquired": int(acquired.sum()),
           "frame_fta": float(1 - acquired.sum() / n_frames.sum()) if n_frames.sum() else float("nan"),
           "videos_verified": float(verified.mean()) if len(rows) else float("nan"),
           "intervals": {"frame_fta": metrics.rate_interval(per_id(n_frames - acquired), per_id(n_frames), **kw).as_dict(),
                         "videos_verified": complement_interval(metrics.rate_interval(
                             per_id(1 - verified), per_id(np.ones(len(rows))), **kw).as_dict())}}
    for key in ("similarity_mean", "similarity_min", "similarity_std", "tl_id", "tg_id", "drift_adjacent_p10"):
        v = np.array([r[key] for r in rows], float)
        have = np.isfinite(v)
        out[key] = float(v[have].mean()) if have.any() else float("nan")
        out["intervals"][key] = mean_interval(v[have], ident[have], **kw)
    return out


def rel_positions(gen: list) -> dict:
    """frame rel -> its position among the audit's generated samples."""
    return {s.rel: i for i, s in enumerate(gen)}


def frames_dir(store_dir) -> Path:
    """Where the sampled frames are kept: beside the acquisitions, in the run's store."""
    return Path(store_dir) / "frames"
