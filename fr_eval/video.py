"""Frames of the videos a generator made (talking heads, identity-preserving video generation), for the audit.

Decoded with PyAV, whose wheels ship FFmpeg's decoders (H.264, VP8/9, MPEG-4, GIF, ...): nothing to install
beside it, and the same codecs on every machine. A video's frames are sampled by a stated rule
(:func:`sample_indices`: ``all``, ``every:N``, ``uniform:K``) within ``max_seconds``; each sampled frame is
written once, turned upright by the video's display matrix, as a PNG under
``<store>/frames/<video sha256>/<index>_<timestamp ms>_upright.png`` beside an ``upright.json`` of the
video's frame count, timestamps (from its first frame) and display rotation, so a rerun decodes nothing (its
frames are then ordinary images whose acquisitions the store already holds) and a changed video, a new
digest, is decoded again. A video that cannot be opened or decoded, or has no frame, raises :class:`VideoError`
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
    """(index, time, av frame) of the first video stream, up to ``max_seconds``. Times count from the
    stream's first frame (a stream whose timestamps start at 10 s has its first frame at 0 s), so
    ``max_seconds`` is the length of video kept, whatever the container's clock."""
    with _open(path) as container:
        if not container.streams.video:
            raise VideoError("holds no video stream")
        stream = container.streams.video[0]
        start = None
        try:
            for i, frame in enumerate(container.decode(stream)):
                t = float(frame.time) if frame.time is not None else i / float(stream.average_rate or 25)
                start = t if start is None else start
                if max_seconds is not None and t - start > max_seconds:
                    return
                yield i, t - start, frame
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(f"cannot be decoded ({type(exc).__name__}: {str(exc)[:120]})") from None


def upright(frame) -> np.ndarray:
    """A decoded frame as RGB, turned as its display matrix says (a phone's portrait video is stored sideways
    with a 90-degree matrix; players turn it, and so must we, or every face is judged on its side).
    ``frame.rotation`` is the matrix's counter-clockwise rotation in degrees (FFmpeg's
    ``av_display_rotation_get``), so the picture is turned by it counter-clockwise, as FFmpeg's
    autorotate does; flips in the matrix are not applied (no camera writes them)."""
    rgb = frame.to_ndarray(format="rgb24")
    quarter = int(round(float(getattr(frame, "rotation", 0) or 0) / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(rgb, quarter)) if quarter else rgb


@dataclass(frozen=True)
class Extracted:
    """A video's sampled frames and what the reading did: ``n_frames`` within ``max_seconds``, the display
    rotation applied (degrees counter-clockwise, 0 when none) and the stream's first timestamp (s)."""
    frames: list
    n_frames: int
    rotation: int
    start: float


def extract(path, sha: str, frames_dir, rule: str, max_seconds: float | None = None) -> Extracted:
    """The sampled frames of a video as upright PNGs kept under ``frames_dir/<sha>/`` (decoded only when one
    is missing), with the number of frames the video has within ``max_seconds`` of its first frame."""
    path, folder = Path(path), Path(frames_dir) / sha[:2] / sha
    # "upright": frames turned by the display matrix, times from the first frame (older stores kept
    # frames.json and unturned frames under other names; they are not read)
    index_file = folder / f"upright{'' if max_seconds is None else f'_{max_seconds:g}s'}.json"
    index = _read_index(index_file)
    if index is None:
        index = {"times": [], "rotation": 0, "start": 0.0}
        for i, t, frame in _frames(path, max_seconds):
            if not index["times"]:
                index["rotation"] = int(round(float(getattr(frame, "rotation", 0) or 0)))
                index["start"] = float(frame.time) if frame.time is not None else 0.0
            index["times"].append(t)
        if not index["times"]:
            raise VideoError("has no frame" + ("" if max_seconds is None else f" in its first {max_seconds:g} s"))
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(index_file, {"frames": len(index["times"]), **index})
    times = index["times"]
    keep = sample_indices(len(times), rule)
    frames = [Frame(i, times[i], folder / f"{i:06d}_{int(round(1000 * times[i])):09d}_upright.png") for i in keep]
    missing = {f.index: f for f in frames if not f.path.is_file()}
    if missing:
        for i, _, frame in _frames(path, max_seconds):
            if i in missing:
                save_png_atomic(upright(frame), missing.pop(i).path)
            if not missing:
                break
    if missing:
        raise VideoError(f"frames {sorted(missing)[:3]} could not be decoded again (the file changed while read?)")
    return Extracted(frames, len(times), index["rotation"], index["start"])


def _read_index(path: Path):
    try:
        doc = json.loads(path.read_text())
        return {"times": doc["times"], "rotation": int(doc["rotation"]), "start": float(doc["start"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_json(path: Path, doc: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)
