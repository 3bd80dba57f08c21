"""1:N search throughput and peak memory: fr_eval.identification.search_gallery against the GEMM bound
measured in the same run, on synthetic unit embeddings (half the searches mated).

    python benchmarks/bench_identification.py                               # the default grid, each case in a fresh process
    python benchmarks/bench_identification.py --searches 1e5 --gallery 1e5 --dim 512   # issue 27's target: 10^10
    python benchmarks/bench_identification.py --searches 1e5 --gallery 1e5 --executor ray  # the same on a local Ray

Each case prints one JSON line: searches, gallery, dim, comparisons, seconds, peak_rss_bytes (of the
process that ran the case), the GEMM bound (seconds of the bare float32 products of the same blocks on
the same threads, BLAS at one thread per slice, as the search runs them) and the fraction of it reached,
and the rank-1 identification rate (a check that the work was done). Target (issue 27): 10^5 searches x
10^5 enrolled at 512-d within 2 GB peak RSS at >= 0.5 of the GEMM bound.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def embeddings(searches: int, gallery: int, dim: int, seed: int = 0):
    """A gallery of unit vectors; searches near a random enrolled subject's (half) or near a new one."""
    rng = np.random.default_rng(seed)

    def unit(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    g = unit(rng.standard_normal((gallery, dim), dtype=np.float32))
    subj = rng.integers(0, 2 * gallery, searches)
    mated = subj < gallery
    x = rng.standard_normal((searches, dim), dtype=np.float32)
    x[mated] = g[subj[mated]] + 1.2 / dim ** 0.5 * x[mated]
    return unit(x), subj, g, np.arange(gallery)


def gemm_bound(x, g, budget: int) -> float:
    """The bare products of the same blocks, in the same slices and threads, into one reused buffer."""
    from fr_eval.identification import CHUNK, _products, slices
    from fr_eval.streaming import _cpus, budget_rows
    from threadpoolctl import threadpool_limits
    step = max(CHUNK, budget_rows(budget, len(g), x.shape[1]) // CHUNK * CHUNK)
    gt = np.ascontiguousarray(g.T)
    buf = np.empty((min(step, len(x)), len(g)), np.float32)
    threads = max(1, min(_cpus(), len(x) // CHUNK))
    t0 = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        for start in range(0, len(x), step):
            rows = x[start:start + step]
            list(pool.map(lambda ab: _products(rows[ab[0]:ab[1]], gt, buf[ab[0]:ab[1]]), slices(len(rows), threads)))
    return time.perf_counter() - t0


def one_case(searches: int, gallery: int, dim: int, budget: int, k: int, executor: str = "local") -> dict:
    from fr_eval import identification
    x, subj, g, gsubj = embeddings(searches, gallery, dim)
    identification.search_gallery(x[:8], subj[:8], g[:64], gsubj[:64], k=k)  # the compiled pass loaded outside the timing
    if executor == "ray":  # a local Ray instance on this machine's CPUs, started outside the timing
        import ray
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        identification.search_gallery(x[:8], subj[:8], g[:64], gsubj[:64], k=k, executor="ray")  # workers warmed up
    t0 = time.perf_counter()
    res = identification.search_gallery(x, subj, g, gsubj, k=k, budget_bytes=budget, executor=executor)
    seconds = time.perf_counter() - t0
    bound = gemm_bound(x, g, budget)
    rank, _ = res.mated_searches()
    return {"executor": executor, "searches": searches, "gallery": gallery, "dim": dim, "comparisons": searches * gallery, "k": k,
            "seconds": round(seconds, 3), "gemm_seconds": round(bound, 3),
            "fraction_of_gemm_bound": round(bound / seconds, 3),
            "comparisons_per_s": round(searches * gallery / seconds),
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # the driver's (Ray: its
            # tasks' own peaks are in worker processes, each holding one block and its range of searches)
            "rank1": round(float(identification.cmc(rank, 1)[0]), 4), "budget_bytes": budget}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--searches", type=float)
    ap.add_argument("--gallery", type=float)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--budget", type=float, default=256 * 2 ** 20, help="bytes of scores per block")
    ap.add_argument("--executor", choices=("local", "ray"), default="local")
    args = ap.parse_args()
    if args.searches:
        print(json.dumps(one_case(int(args.searches), int(args.gallery or args.searches), args.dim, int(args.budget),
                                  args.k, args.executor)), flush=True)
        return
    for n, gal in ((1e4, 1e4), (1e4, 1e5), (3e4, 1e5)):  # each case in a process of its own (its own peak RSS)
        subprocess.run([sys.executable, __file__, "--searches", str(n), "--gallery", str(gal), "--dim", str(args.dim),
                        "--k", str(args.k), "--budget", str(args.budget), "--executor", args.executor], check=True)


if __name__ == "__main__":
    main()
