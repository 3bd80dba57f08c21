#!/usr/bin/env python
"""Seconds per row of each score-export writer (fr_eval/scores.py), on a synthetic table of comparisons.

    python benchmarks/bench_export.py [--rows 400000]

The table: ``--rows`` comparisons among 2,000 images of 200 subjects (ids and subjects repeat, as a run's do),
scores float32 values in float64. Prints one JSON line per format (csv.gz, parquet, bob4, bob5, pyeer): seconds,
microseconds per row, and the sha256 of the text written (decompressed for csv.gz), so that a faster writer can be
checked to write the same text.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def table(rows: int, seed: int = 0):
    from fr_eval.scores import ScoreTable
    rng = np.random.default_rng(seed)
    subjects = np.array([f"person_{i:04d}" for i in range(200) for _ in range(10)], dtype=object)
    ids = np.array([f"{s}/img_{j}.jpg" for j, s in enumerate(subjects)], dtype=object)
    r, p = rng.integers(0, ids.size, rows), rng.integers(0, ids.size, rows)
    score = rng.random(rows).astype(np.float32).astype(np.float64)
    return ScoreTable.build(row=["1"] * rows, genuine=subjects[r] == subjects[p], reference=ids[r], probe=ids[p],
                            reference_subject=subjects[r], probe_subject=subjects[p], score=score)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=400_000)
    args = ap.parse_args()
    from fr_eval.scores import write_bob, write_csv, write_parquet, write_pyeer
    t = table(args.rows)
    out = Path(tempfile.mkdtemp(prefix="fr-eval-bench-export-"))
    cases = [("csv.gz", lambda: write_csv(t, out / "s.csv.gz"), ["s.csv.gz"]),
             ("parquet", lambda: write_parquet(t, out / "s.parquet"), []),
             ("bob4", lambda: write_bob(t, out / "s.bob4", 4), ["s.bob4"]),
             ("bob5", lambda: write_bob(t, out / "s.bob5", 5), ["s.bob5"]),
             ("pyeer", lambda: write_pyeer(t, out / "g.txt", out / "i.txt"), ["g.txt", "i.txt"])]
    for name, write, files in cases:
        t0 = time.perf_counter()
        write()
        seconds = time.perf_counter() - t0
        text = b"".join(gzip.open(out / f).read() if f.endswith(".gz") else (out / f).read_bytes() for f in files)
        print(json.dumps({"format": name, "rows": args.rows, "seconds": round(seconds, 3),
                          "us_per_row": round(seconds / args.rows * 1e6, 2),
                          "sha256_of_text": hashlib.sha256(text).hexdigest() if files else None}), flush=True)


if __name__ == "__main__":
    main()
