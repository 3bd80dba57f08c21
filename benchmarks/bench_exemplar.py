#!/usr/bin/env python
"""What the exemplar colouriser's ``choice=luminance`` costs: ``prepare()`` reads every reference
image once (its face-region L* statistics and its sha256 for the store's keys), then each image's
choice is a nearest neighbour over those statistics. Every image under ``--data`` stands in as a
reference of its folder's subject, so the pool is as large as the folder; the figure for full LFW
(5,749 subjects, one reference each in the paper's protocol; 13,233 images) is extrapolated from it
at the measured rate. Prints the figures; asserts nothing.

    python benchmarks/bench_exemplar.py [--data DIR] [--choose N]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from fr_eval.colourisers.exemplar import ExemplarColouriser  # noqa: E402
from fr_eval.datasets.base import Sample  # noqa: E402
from fr_eval.images import greyscale_rec709, load_image  # noqa: E402


class Pool:
    """The colouriser reads only ``references`` of a dataset."""

    def __init__(self, root: Path):
        self.references = [Sample(path=p, rel=p.relative_to(root).as_posix(), subject=p.parent.name, role="reference")
                           for p in sorted(root.rglob("*.jpg"))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(PROJECT.parent / "shared/data/lfw/deepfunneled_min20"))
    ap.add_argument("--choose", type=int, default=200, help="images whose exemplar choice is timed")
    a = ap.parse_args()
    pool = Pool(Path(a.data))
    n = len(pool.references)
    if not n:
        raise SystemExit(f"no .jpg under {a.data}")
    col = ExemplarColouriser()
    t = time.perf_counter()
    col.prepare(pool)  # cold: the files are read (and hashed) for the first time in this process
    prep = time.perf_counter() - t
    greys = [(s, greyscale_rec709(load_image(s.path))) for s in pool.references[:a.choose]]
    t = time.perf_counter()
    for s, g in greys:
        col.exemplar_for(s, g)
    choose = (time.perf_counter() - t) / len(greys)
    rate = prep / n
    print(f"prepare(): {n} reference images in {prep:.1f} s ({1000 * rate:.2f} ms each; "
          f"{len(col.unreadable)} unreadable)")
    print(f"choice per image over {n} candidates: {1000 * choose:.2f} ms (from its greyscale)")
    for label, refs in (("LFW, one reference per subject (5,749)", 5749), ("every LFW image (13,233)", 13233)):
        print(f"extrapolated prepare() for {label}: {refs * rate:.0f} s; the choice per image then about "
              f"{1000 * choose * refs / n:.2f} ms (linear in the pool)")
    print(f"memory of the statistics: {col._stats.nbytes / 1e3:.1f} kB ({np.dtype(float).itemsize * 2} bytes per "
          f"candidate)")


if __name__ == "__main__":
    main()
