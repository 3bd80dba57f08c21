"""Impostor comparisons per second and peak memory: the landed gather path, the blocked path
(fr_eval/streaming.py) and the GEMM bound, on synthetic unit embeddings with subject structure.

    python benchmarks/bench_comparisons.py                        # the default grid, each case in a fresh process
    python benchmarks/bench_comparisons.py --comparisons 1e8 --dim 512 --path new

Each case prints one JSON line: path, comparisons, dim, seconds, peak_rss_bytes (of the process that
ran the case), threshold at FMR 0.1%, and for the new path the GEMM bound measured in the same run
(seconds of the bare products on the same blocks) and the fraction of it reached. Targets (issue
13): 10^9 impostor comparisons at 512-d in at most 60 s with at most 2 GB peak RSS, and at least 0.5
of the GEMM bound at 10^8 and 10^9.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def embeddings(comparisons: float, dim: int, seed: int = 0):
    """References (1 per subject) and probes (2 per subject) near their subject's centre, R x P
    about ``comparisons`` (all pairs but the genuine ones are impostors)."""
    r = max(2, int(round((comparisons / 2) ** 0.5)))
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((r, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)

    def noisy(idx):
        x = centres[idx] + 0.8 / dim ** 0.5 * rng.standard_normal((len(idx), dim), dtype=np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    rs, ps = np.arange(r), np.repeat(np.arange(r), 2)
    return noisy(rs), rs, noisy(ps), ps


def run_gather(ref, rs, probe, ps):
    """The landed path: every impostor pair materialised as an index pair, then gathered."""
    from fr_eval import metrics
    from fr_eval.evaluation import SideData, pair_scores
    pairs = np.argwhere(rs[:, None] != ps[None, :])
    scores, _ = pair_scores(SideData(np.ones(len(ref), bool), ref), SideData(np.ones(len(probe), bool), probe), pairs)
    return metrics.threshold_at_fmr(scores, 0.001), {}


def run_new(ref, rs, probe, ps, budget):
    from fr_eval.streaming import summarise_cross_subject
    s = summarise_cross_subject(ref, rs, probe, ps, max_fmr=0.01, budget_bytes=budget)
    return s.threshold(0.001), {"d_prime_impostor_mean": s.mean}


def gemm_bound(ref, probe, budget):
    """The bare float32 products on the same blocks, into one reused buffer."""
    from fr_eval.streaming import budget_rows
    step = budget_rows(budget, len(probe), ref.shape[1])
    probe_t = np.ascontiguousarray(probe.T)
    out = np.empty((min(step, len(ref)), len(probe)), np.float32)
    t0 = time.perf_counter()
    for start in range(0, len(ref), step):
        rows = ref[start:start + step]
        np.matmul(rows, probe_t, out=out[:len(rows)])
    return time.perf_counter() - t0


def one_case(comparisons: float, dim: int, path: str, budget: int) -> dict:
    import fr_eval.evaluation  # noqa: F401  (imports outside the timing)
    import fr_eval.streaming
    fr_eval.streaming.summarise([np.zeros(4, np.float32)], total=4)  # the scan compiled (or loaded from its cache)
    ref, rs, probe, ps = embeddings(comparisons, dim)
    n = int(len(ref) * len(probe) - len(probe))
    t0 = time.perf_counter()
    thr, extra = run_gather(ref, rs, probe, ps) if path == "gather" else run_new(ref, rs, probe, ps, budget)
    seconds = time.perf_counter() - t0
    out = {"path": path, "comparisons": n, "dim": dim, "seconds": round(seconds, 3),
           "per_second": round(n / seconds), "threshold": thr}
    if path == "new":
        g = gemm_bound(ref, probe, budget)
        out.update(gemm_seconds=round(g, 3), fraction_of_gemm_bound=round(g / seconds, 3))
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--comparisons", type=float)
    ap.add_argument("--dim", type=int)
    ap.add_argument("--path", choices=["new", "gather"])
    ap.add_argument("--budget-mb", type=int, default=256, help="memory budget of one block (new path)")
    ap.add_argument("--max-gather", type=float, default=1e6,
                    help="largest case for the gather path (about 4.3 GB per million comparisons at 512-d)")
    args = ap.parse_args()
    if args.comparisons:
        print(json.dumps(one_case(args.comparisons, args.dim or 512, args.path or "new", args.budget_mb << 20)))
        return
    for dim in (512, 128):
        for n in (1e6, 1e7, 1e8, 1e9):
            for path in ("gather", "new"):
                if path == "gather" and n > args.max_gather:
                    continue
                r = subprocess.run([sys.executable, __file__, "--comparisons", str(n), "--dim", str(dim), "--path",
                                    path, "--budget-mb", str(args.budget_mb)], capture_output=True, text=True)
                print(r.stdout.strip() or json.dumps({"path": path, "comparisons": n, "dim": dim,
                                                      "error": r.stderr.strip().splitlines()[-1:]}), flush=True)


if __name__ == "__main__":
    main()
