"""DeOldify: how far apart the two YUV merges are on real faces, and how long each generator takes.

    python benchmarks/bench_deoldify.py [--faces ../shared/data/lfw/deepfunneled_small] [--speed 35,42]

1. The merges. Each colour photo stands for a colouriser's output (real skin chroma) and its
   Rec. 709 greyscale for the input; both merges put the grey Y under the photo's U, V. Printed: the
   mean absolute difference between the two merged images in uint8 levels (mean over images, with the
   smallest and largest image) and the share of pixels that differ, for Antic's uint8 merge and
   Kelley's float one.
2. The speed (with ``--speed``): seconds per image on this machine for each generator with random
   weights (the time does not depend on the weights) at the given render factors.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fr_eval.colourisers.deoldify import deoldify_postprocess
from fr_eval.images import greyscale_rec709, load_image

HERE = Path(__file__).resolve().parent


def merge_gap(paths, as_float: bool):
    gaps, shares = [], []
    for p in paths:
        colour = load_image(p)
        grey = greyscale_rec709(colour)
        if as_float:
            c, g = colour.astype(np.float32) / 255, grey.astype(np.float32) / 255
            a, b = (np.clip(deoldify_postprocess(c, g, m), 0, 1) * 255 for m in ("legacy", "rgb"))
        else:
            a, b = (deoldify_postprocess(colour, grey, m).astype(float) for m in ("legacy", "rgb"))
        d = np.abs(a - b)
        gaps.append(d.mean())
        shares.append((d.max(axis=2) >= 0.5).mean())
    return np.array(gaps), np.array(shares)


def speed(render_factors, threads: int):
    import torch

    from fr_eval.colourisers.deoldify_net import DeOldifyGenerator
    from fr_eval.colourisers.kelley_net import KelleyUnet34

    torch.set_num_threads(threads)
    for name, net in (("stable", DeOldifyGenerator("stable")), ("kelley", KelleyUnet34())):
        net.eval()
        for rf in render_factors:
            x = torch.randn(1, 3, 16 * rf, 16 * rf)
            with torch.inference_mode():
                took = []
                for _ in range(2):  # the first image also normalises the spectral-norm weights, kept after
                    t = time.perf_counter()
                    net(x)
                    took.append(time.perf_counter() - t)
                print(f"{name:7s} render_factor={rf:3d} ({16 * rf} px): {took[0]:6.1f} s the first image, "
                      f"{took[1]:6.1f} s each after ({threads} threads)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", default=str(HERE.parent.parent / "shared/data/lfw/deepfunneled_small"))
    ap.add_argument("--speed", default="", help="render factors to time, e.g. 35,42")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    paths = sorted(Path(args.faces).rglob("*.jpg"))
    if not paths:
        raise SystemExit(f"no .jpg under {args.faces}")
    for label, as_float in (("Antic's uint8 merge", False), ("Kelley's float merge", True)):
        gaps, shares = merge_gap(paths, as_float)
        print(f"{label}: legacy vs rgb differ by {gaps.mean():.2f} uint8 levels on average over {len(paths)} "
              f"faces (per image {gaps.min():.2f} to {gaps.max():.2f}); {100 * shares.mean():.1f}% of pixels differ")
    if args.speed:
        speed([int(v) for v in args.speed.split(",")], args.threads)


if __name__ == "__main__":
    main()
