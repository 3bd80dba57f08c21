"""The audit's video section (rendered from :func:`fr_eval.stages.audit_video.video_figures`): per method and
per video tables, the similarity over time per method, and a strip of the worst videos' lowest frames."""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from ..images import ImageLoadError, load_image
from . import numbers
from .html import Figure, Section, table_file
from .io import write_csv
from .plots import save, subplots

VIDEO_COLUMNS = ["video", "identity", "method", "status", "reason", "display_rotation", "stream_start_s",
                 "n_frames_video", "n_frames", "n_acquired",
                 "acquired_share", "similarity_mean", "similarity_min", "similarity_std", "verified_share",
                 "verified", "tl_id", "tg_id", "drift_adjacent_p10", "lowest_pair", "csim_mean", "ssim_mean",
                 "worst_frame"]


def _f(x, digits=3) -> str:
    return "n/a" if x is None or not (isinstance(x, (int, float)) and math.isfinite(x)) else f"{x:.{digits}f}"


def _ci(iv) -> str:
    text = numbers.ci_text(iv, lambda v: f"{v:.3f}")
    return f" {text}" if text else ""


def write_videos(out: Path, v: dict, score: str, strip: int = 4, provenance: dict | None = None) -> list[Section]:
    """generated_video_methods.csv/.md, generated_videos.csv, video_similarity_over_time.png,
    video_worst_frames.png (the ``strip`` worst videos) and their section."""
    write_csv(out / "generated_videos.csv", VIDEO_COLUMNS, v["videos"])
    body = [[m["method"], str(m["n_videos"]), str(m["n_failed_videos"]), str(m["n_identities"]), str(m["n_frames"]),
             numbers.with_interval(m["frame_fta"], m["intervals"]["frame_fta"], m["n_frames"]),
             numbers.with_interval(m["videos_verified"], m["intervals"]["videos_verified"], m["n_videos"]),
             _f(m["similarity_mean"]) + _ci(m["intervals"]["similarity_mean"]),
             _f(m["similarity_min"]) + _ci(m["intervals"]["similarity_min"]),
             _f(m["similarity_std"]), _f(m["tl_id"]) + _ci(m["intervals"]["tl_id"]),
             _f(m["tg_id"]) + _ci(m["intervals"]["tg_id"]),
             _f(m["drift_adjacent_p10"]) + _ci(m["intervals"]["drift_adjacent_p10"]),
             numbers.provenance_text((provenance or {}).get(m["method"]))]
            for m in v["methods"]]
    limit = "" if v["max_seconds"] is None else f" within the first {v['max_seconds']:g} s"
    table = table_file(out, "generated_video_methods", [
        "Method", "Videos", "Unreadable", "Identities", "Frames sampled", "Frame FTA (%)", "Videos verified (%)",
        "Similarity mean", "Similarity min", "Similarity spread (std)", "TL-ID (adjacent frames)",
        "TG-ID (all frame pairs)", "Drift (10th percentile, adjacent)", "Provenance (frames)"], body,
        "Videos: identity preservation per method", [
            f"Frames sampled by generated.video.frames={v['rule']}{limit}; every sampled frame is judged as a "
            f"generated image ({score}, threshold {v['threshold']:.4f}). Per video: the mean and minimum similarity "
            "of its acquired frames, their spread, the share of its frames verified (failures count as not "
            f"verified) and the video verified when that share is at least {v['verified_share']:g} "
            "(generated.video.verified_share); identity over time, between the video's own acquired sampled "
            "frames: TL-ID, the mean similarity of adjacent frames, TG-ID, the mean over every pair (STIT's "
            "local and global identity consistency, here on the sampled frames, so 'adjacent' depends on the "
            "sampling rule), and the drift, the 10th percentile of the adjacent-frame similarities (a low "
            "quantile: the lowest pair of all falls as more frames are sampled; it is in generated_videos.csv as "
            "lowest_pair). Video figures are never pooled with still images. Per method: the share of frames not acquired, the share of videos "
            "verified, and the means over its videos, with 95% intervals resampling identities (the frames of one "
            "video are never independent units). An unreadable video counts as a video with no frame acquired. "
            "Every video: generated_videos.csv."])
    items = [table]
    consistency = {m["method"]: (m["tl_id"], m["tg_id"]) for m in v["methods"]}
    if _plot_over_time(v["series"], v["threshold"], out / "video_similarity_over_time.png", score, consistency):
        items.append(Figure("video_similarity_over_time.png", "Similarity of each sampled frame to the identity's "
                            "enrolment over the video (time as a share of the sampled span), per method: the median "
                            "across its videos and the band between their quartiles; dashed: the threshold. Each "
                            "panel's title gives the method's TL-ID and TG-ID (means over its videos, as in the "
                            "table)."))
    worst = sorted((r for r in v["videos"] if r["worst_frame"]), key=lambda r: r["similarity_mean"])
    if worst and strip and _plot_strip(worst[:strip], out / "video_worst_frames.png"):
        items.append(Figure("video_worst_frames.png", "The videos with the lowest mean similarity, each by its "
                            "lowest-similarity frame (method, identity, time)."))
    return [Section("videos", "Videos", items)]


def _plot_over_time(series: dict, threshold: float, path: Path, score: str, consistency: dict) -> bool:
    if not series:
        return False
    methods = sorted(series)
    fig, axes = subplots(1, len(methods), figsize=(3.8 * len(methods), 3.2), squeeze=False)
    grid = np.linspace(0, 1, 21)
    for k, (ax, m) in enumerate(zip(axes[0], methods)):
        curves = []
        for s in series[m]:
            t, y = np.asarray(s["time"], float), np.asarray(s["similarity"], float)
            u = (t - t.min()) / (np.ptp(t) or 1.0)
            ax.plot(u, y, color="0.8", lw=0.6)  # a frame not acquired is a gap
            # each grid point takes its nearest sampled frame (a failed frame stays a gap: nothing is drawn
            # across the frames with no face)
            curves.append(y[np.abs(u[None, :] - grid[:, None]).argmin(axis=1)])
        c = np.array(curves)
        if np.isfinite(c).any():
            with warnings.catch_warnings():  # a time point where no video has a face: a gap, not a warning
                warnings.simplefilter("ignore", RuntimeWarning)
                q1, med, q3 = np.nanpercentile(c, [25, 50, 75], axis=0)
            ax.fill_between(grid, q1, q3, alpha=0.3)
            ax.plot(grid, med, lw=1.5)
        ax.axhline(threshold, ls="--", color="k", lw=0.8)
        tl, tg = consistency.get(m, (float("nan"), float("nan")))
        ax.set_title(f"{m} ({len(series[m])} videos)\nTL-ID {_f(tl)}, TG-ID {_f(tg)}", fontsize=9)
        ax.set_xlabel("time (share of the sampled span)")
        if k == 0:
            ax.set_ylabel(score)
        ax.grid(alpha=0.3)
    save(fig, path)
    return True


def _plot_strip(shown: list, path: Path) -> bool:
    fig, axes = subplots(1, len(shown), figsize=(2.2 * len(shown), 2.6), squeeze=False)
    drawn = False
    for ax, r in zip(axes[0], shown):
        ax.axis("off")
        p = r["worst_frame_file"] or None
        try:
            ax.imshow(load_image(p)) if p is not None else None
            drawn = drawn or p is not None
        except ImageLoadError:
            ax.text(0.5, 0.5, "unreadable", ha="center", va="center", transform=ax.transAxes)
        frame = r["worst_frame"].rsplit("#", 1)[-1]
        ax.set_title(f"{r['method']}, {r['identity']}\nframe {int(frame)}: {_f(r['similarity_min'], 3)} "
                     f"(video mean {_f(r['similarity_mean'], 2)})", fontsize=8)
    save(fig, path, dpi=110)
    return drawn
