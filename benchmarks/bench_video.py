#!/usr/bin/env python
"""How fast the audit reads videos: a synthetic clip (LFW faces, or noise when ../shared is absent) encoded
with each codec the audit meets (H.264 in MP4, VP9 in WebM, MPEG-4 in AVI, GIF), then decoded by
``fr_eval.video``: every frame (frames per second of decoding alone) and a first extraction of
``uniform:16`` into a fresh folder (decode + PNG writes), then the same extraction again (the rerun:
nothing decoded). Every frame differs from the last (a shift and noise), so the codecs work as on real video. Prints the figures; asserts nothing.

    python benchmarks/bench_video.py [--seconds 10] [--fps 25] [--size 512]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from fr_eval.provenance import file_sha256  # noqa: E402
from fr_eval.video import _frames, extract  # noqa: E402

CODECS = (("mp4", "libx264", "yuv420p"), ("webm", "libvpx-vp9", "yuv420p"), ("avi", "mpeg4", "yuv420p"),
          ("gif", "gif", "rgb8"))


def frames(n: int, size: int) -> list[np.ndarray]:
    faces = sorted((PROJECT.parent / "shared" / "data" / "lfw" / "deepfunneled_small").rglob("*.jpg"))[:8]
    if faces:
        base = [np.asarray(Image.open(f).convert("RGB").resize((size, size))) for f in faces]
    else:
        base = [np.random.default_rng(i).integers(0, 255, (size, size, 3), np.uint8) for i in range(8)]
    rng = np.random.default_rng(0)  # every frame differs (a shift and noise), as a real video's do
    return [np.clip(np.roll(base[(i // 12) % len(base)], i % 12, axis=1).astype(np.int16)
                    + rng.integers(-4, 5, (size, size, 3)), 0, 255).astype(np.uint8) for i in range(n)]


def encode(path: Path, codec: str, pix: str, imgs, fps: int) -> None:
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = imgs[0].shape[1], imgs[0].shape[0], pix
        if codec != "gif":
            s.bit_rate = 4_000_000  # about what video generators' 512-px clips are published at
        for img in imgs:
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--size", type=int, default=512)
    a = ap.parse_args()
    n = int(a.seconds * a.fps)
    imgs = frames(n, a.size)
    print(f"{n} frames of {a.size}x{a.size} at {a.fps} fps ({a.seconds:g} s), PyAV {av.__version__}")
    print("| container/codec | MB | decode all (frames/s) | extract uniform:16, first (s) | again (s) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for ext, codec, pix in CODECS:
            path = Path(tmp) / f"clip.{ext}"
            encode(path, codec, pix, imgs if ext != "gif" else imgs[: min(n, 100)], a.fps)
            t0 = time.perf_counter()
            count = sum(1 for _ in _frames(path, None))
            dec = time.perf_counter() - t0
            sha = file_sha256(path)
            t0 = time.perf_counter()
            extract(path, sha, Path(tmp) / "frames", "uniform:16")
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            extract(path, sha, Path(tmp) / "frames", "uniform:16")
            again = time.perf_counter() - t0
            print(f"| {ext}/{codec} | {path.stat().st_size / 1e6:.1f} | {count / dec:.0f} ({count} frames) | "
                  f"{first:.2f} | {again:.4f} |")


if __name__ == "__main__":
    main()
