"""Frames of the videos a generator made (talking heads, identity-preserving video generation), for the audit.

Decoded with PyAV, whose wheels ship FFmpeg's decoders (H.264, VP8/9, MPEG-4, GIF, ...): nothing to install
beside it, and the same codecs on every machine. A video's frames are sampled by a stated rule
(:func:`sample_indices`: ``all``, ``every:N``, ``uniform:K``) within ``max_seconds``; each sampled frame is
written once as a PNG under ``<store>/frames/<video sha256>/<index>_<timestamp ms>.png`` beside a
``frames.json`` of the video's frame count and timestamps, so a rerun decodes nothing (its frames are
then ordinary images whose acquisitions the store already holds) and a changed video, a new digest, is
decoded again. A video that cannot be opened or decoded, or has no frame, raises :class:`VideoError`
with the reason: the audit counts it as a failed row.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

from .config import FRAME_RULE, frame_rule
from .errors import FrEvalError
from .images import save_png_atomic

#: file endings read as videos (a GIF is a video when it has more than one frame, an image otherwise)
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".avi", ".mkv", ".m4v", ".gif")


class VideoError(FrEvalError):
    """A video that cannot be read: the reason, one line."""


@dataclass(frozen=True)
class Frame:
    index: int  # the frame's position in the decoded stream (0 = first)
    time: float  # its presentation time, seconds
    path: Path  # the PNG kept in the store


def is_video(path) -> bool:
    """Whether a path names a video by its ending (GIFs: also when they hold more than one frame)."""
    p = Path(path)
    if p.suffix.lower() != ".gif":
        return p.suffix.lower() in VIDEO_SUFFIXES
    try:
        with Image.open(p) as im:  # Pillow reads a GIF's frame count without decoding the frames
            return getattr(im, "n_frames", 1) > 1
    except OSError:
        return False


def sample_indices(n_frames: int, rule: str) -> list[int]:
    """The frames a rule keeps of ``n_frames``: ``all``; ``every:N`` (0, N, 2N, ...); ``uniform:K`` (K frames
    spread evenly from the first to the last, each the nearest to its ideal position; all of them when
    there are fewer than K)."""
    m = FRAME_RULE.match(frame_rule("generated.video.frames", rule))
    if n_frames <= 0:
        return []
    if m.group("every"):
        return list(range(0, n_frames, int(m.group("every"))))
    if m.group("uniform"):
        k = int(m.group("uniform"))
        if k >= n_frames:
            return list(range(n_frames))
        return sorted({int(round(x)) for x in np.linspace(0, n_frames - 1, k)})
    return list(range(n_frames))


def _open(path: Path):
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"cannot be opened as a video ({type(exc).__name__}: {str(exc)[:120]})") from None


def _frames(path: Path, max_seconds: float | None):
    """(index, time, av frame) of the first video stream, up to ``max_seconds``."""
    with _open(path) as container:
        if not container.streams.video:
            raise VideoError("holds no video stream")
        stream = container.streams.video[0]
        try:
            for i, frame in enumerate(container.decode(stream)):
                t = float(frame.time) if frame.time is not None else i / float(stream.average_rate or 25)
                if max_seconds is not None and t > max_seconds:
                    return
                yield i, t, frame
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(f"cannot be decoded ({type(exc).__name__}: {str(exc)[:120]})") from None


def extract(path, sha: str, frames_dir, rule: str, max_seconds: float | None = None) -> tuple[list[Frame], int]:
    """The sampled frames of a video as PNGs kept under ``frames_dir/<sha>/`` (decoded only when one is
    missing), and the number of frames the video has within ``max_seconds``."""
    path, folder = Path(path), Path(frames_dir) / sha[:2] / sha
    index_file = folder / f"frames{'' if max_seconds is None else f'_{max_seconds:g}s'}.json"
    times = _read_times(index_file)
    if times is None:
        times = [t for _, t, _ in _frames(path, max_seconds)]
        if not times:
            raise VideoError("has no frame" + ("" if max_seconds is None else f" in its first {max_seconds:g} s"))
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(index_file, {"frames": len(times), "times": times})
    keep = sample_indices(len(times), rule)
    frames = [Frame(i, times[i], folder / f"{i:06d}_{int(round(1000 * times[i])):09d}.png") for i in keep]
    missing = {f.index: f for f in frames if not f.path.is_file()}
    if missing:
        for i, _, frame in _frames(path, max_seconds):
            if i in missing:
                save_png_atomic(frame.to_ndarray(format="rgb24"), missing.pop(i).path)
            if not missing:
                break
    if missing:
        raise VideoError(f"frames {sorted(missing)[:3]} could not be decoded again (the file changed while read?)")
    return frames, len(times)


def _read_times(path: Path):
    try:
        return json.loads(path.read_text())["times"]
    except (OSError, ValueError, KeyError):
        return None


def _write_json(path: Path, doc: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)
