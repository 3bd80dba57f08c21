"""DeOldify: how far apart the two YUV merges are on real faces, and how long each generator takes.

    python benchmarks/bench_deoldify.py [--faces ../shared/data/lfw/deepfunneled_small] [--speed 35,42]

1. The merges. Each colour photo stands for a colouriser's output (real skin chroma) and its
   Rec. 709 greyscale for the input; both merges put the grey Y under the photo's U, V. Printed: the
   mean absolute difference between the two merged images in uint8 levels (mean over images, with the
   smallest and largest image) and the share of pixels that differ, for Antic's uint8 merge and
   Kelley's float one.
2. The speed (with ``--speed``): seconds per image on this machine for each generator with random
   weights (the time does not depend on the weights) at the given render factors, the first image and the
   steady state, beside the bound the machine allows: the network's FLOPs per image at that render factor
   (counted by ``torch.utils.flop_counter.FlopCounterMode``: 2 x multiply-adds of every convolution and matrix
   product) divided by the bare dense-product throughput of the same threads, measured in the same run
   (:func:`gemm_throughput`: the best of float32 matrix products and a 3 x 3 convolution). Printed: seconds per image, the bound and
   the fraction bound / measured (1.0 = the network runs at the speed of a bare matrix product).
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


def gemm_throughput(sizes=(1024, 2048, 4096), repeats: int = 3) -> float:
    """FLOP/s of the bare dense products this process's threads reach: the best of float32 ``torch.mm`` at each
    of ``sizes`` and of a 3 x 3 convolution of 256 channels on a 72 x 72 map (the shape of the generators' own
    layers), each the best of ``repeats``. A network can only approach it: it is the bound's denominator."""
    import torch
    import torch.nn.functional as F

    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)  # warm the kernels
        best = max(best, 2.0 * n ** 3 / min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats)))
    x, w = torch.randn(1, 256, 72, 72), torch.randn(256, 256, 3, 3)
    with torch.inference_mode():
        F.conv2d(x, w, padding=1)
        t = min(_timed(lambda: F.conv2d(x, w, padding=1)) for _ in range(repeats))
    return max(best, 2.0 * 256 * 256 * 9 * 72 * 72 / t)


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def flops(net, x) -> float:
    """The FLOPs of one forward pass, as torch counts them (2 per multiply-add of convolutions and products)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(x)
    return float(counter.get_total_flops())


def speed(render_factors, threads: int, models=("stable", "artistic", "kelley")):
    import torch

    from fr_eval.colourisers.deoldify_net import DeOldifyGenerator
    from fr_eval.colourisers.kelley_net import KelleyUnet34

    torch.set_num_threads(threads)
    peak = gemm_throughput()
    print(f"bare dense product: {peak / 1e9:.1f} GFLOP/s on {threads} thread(s) (the best of float32 torch.mm at "
          f"1024-4096 and a 256-channel 3 x 3 convolution)")
    rows = []
    for name in models:
        # channels-last, as the colourisers run them (fr_eval.colourisers.deoldify.GeneratorColouriser.net)
        net = (KelleyUnet34() if name == "kelley" else DeOldifyGenerator(name)).eval().to(
            memory_format=torch.channels_last)
        for rf in render_factors:
            x = torch.randn(1, 3, 16 * rf, 16 * rf).contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                # the first image also normalises the spectral-norm weights, kept after
                took = [_timed(lambda: net(x)) for _ in range(2)]
            work = flops(net, x)
            bound = work / peak
            rows.append({"model": name, "render_factor": rf, "first_s": took[0], "steady_s": took[1],
                         "gflops": work / 1e9, "bound_s": bound, "fraction": bound / took[1]})
            print(f"{name:8s} render_factor={rf:3d} ({16 * rf} px): {took[0]:6.2f} s the first image, "
                  f"{took[1]:6.2f} s each after; {work / 1e9:7.1f} GFLOP an image, bound {bound:6.2f} s: "
                  f"{bound / took[1]:.2f} of the bound ({threads} threads)")
    return {"gemm_gflops": peak / 1e9, "threads": threads, "models": rows}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", default=str(HERE.parent.parent / "shared/data/lfw/deepfunneled_small"))
    ap.add_argument("--speed", default="", help="render factors to time, e.g. 35,42")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="stable,artistic,kelley", help="generators to time")
    ap.add_argument("--json", default="", help="also write the speed figures to this JSON file")
    args = ap.parse_args()
    paths = sorted(Path(args.faces).rglob("*.jpg"))
    if not paths:
        raise SystemExit(f"no .jpg under {args.faces}")
    for label, as_float in (("Antic's uint8 merge", False), ("Kelley's float merge", True)):
        gaps, shares = merge_gap(paths, as_float)
        print(f"{label}: legacy vs rgb differ by {gaps.mean():.2f} uint8 levels on average over {len(paths)} "
              f"faces (per image {gaps.min():.2f} to {gaps.max():.2f}); {100 * shares.mean():.1f}% of pixels differ")
    if args.speed:
        figures = speed([int(v) for v in args.speed.split(",")], args.threads, tuple(args.models.split(",")))
        if args.json:
            import json
            Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
