#!/usr/bin/env python
"""How the cost of a run grows with the number of images, and where one machine stops serving (issue 40).

    python benchmarks/bench_scaling.py [--sizes 100,1000,3000] [--synthetic-sizes 100,1000,10000]
                                       [--ray] [--json F] [--plot benchmarks/scaling.png]

* **Acquisition**: ``scenario=1 system=sface`` on N real images of ``deepfunneled_min20`` (the first
  max(4, N / 62) photos of each subject, linked into a folder of their own: up to its 3,023; larger N are read
  off the fit), each size in a fresh process with a cold store: wall time and
  peak RSS of the run. Its comparisons are the second part's figure at that N, small beside the acquisition.
* **Comparisons** (and everything after acquisition): ``scenario=1`` on N synthetic unit embeddings
  (``embeddings=`` an .npz: one reference and two probes a subject, near their subject's centre), so sizes beyond
  what ``../shared`` holds cost no acquisition: wall time and peak RSS of the run (every impostor pair scored, the
  threshold, the subject-bootstrap intervals, the report and its plots). At small N the intervals and the report
  dominate, so the exponent stays under 2 until the N^2 products take over.
* **Exponents**: each part's time and memory fitted as ``a N^k`` by least squares on the logarithms
  (``numpy.polyfit``) between its two largest sizes (a run's fixed cost, model loading and the report, flattens
  the small ones; the fit over all sizes is printed beside it).
* **One machine's limit**: the N at which the fitted acquisition plus comparisons exceed ``--budget-hours`` (24)
  or the fitted peak memory exceeds this machine's RAM; beyond it acquisition is what to spread:
  ``executor=ray`` (``--ray`` times the largest real size again on a local Ray instance, ``ray.num_cpus`` = this
  machine's cores, for the same figure).
* ``--plot``: the measured points and the fits, log-log (``scaling.png``).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
SHARED = PROJECT.parent / "shared"
MIN20 = SHARED / "data" / "lfw" / "deepfunneled_min20"
SMALL = SHARED / "data" / "lfw" / "deepfunneled_small"


def fit(n, values) -> dict:
    """``values ~ a n^k``: k and a by least squares on the logarithms (two points or more)."""
    n, v = np.asarray(n, float), np.asarray(values, float)
    k, log_a = np.polyfit(np.log(n), np.log(v), 1)
    return {"exponent": float(k), "coefficient": float(np.exp(log_a))}


def fits(runs: list[dict]) -> dict:
    """A part's fits: time and memory between its two largest sizes (what extrapolates: a run's fixed cost, model
    loading and the report, flattens the small sizes), and time over all sizes, for reference."""
    big = sorted(runs, key=lambda r: r["images"])[-2:]
    return {"runs": runs, "fit_seconds": fit([r["images"] for r in big], [r["seconds"] for r in big]),
            "fit_seconds_all_sizes": fit([r["images"] for r in runs], [r["seconds"] for r in runs]),
            "fit_peak_rss_bytes": fit([r["images"] for r in big], [r["peak_rss_bytes"] for r in big])}


def predict(f: dict, n) -> np.ndarray:
    return f["coefficient"] * np.asarray(n, float) ** f["exponent"]


def limit(acq: dict, cmp: dict, mem: dict, budget_s: float, ram_bytes: float) -> dict:
    """The smallest N (on a log grid, 10^2 to 10^10) at which fitted time or fitted memory exceeds the budget."""
    grid = np.logspace(2, 10, 801)
    t = predict(acq, grid) + predict(cmp, grid)
    m = predict(mem, grid)
    over_t, over_m = np.flatnonzero(t > budget_s), np.flatnonzero(m > ram_bytes)
    n_t = float(grid[over_t[0]]) if over_t.size else float("inf")
    n_m = float(grid[over_m[0]]) if over_m.size else float("inf")
    share = float(predict(acq, n_t) / (predict(acq, n_t) + predict(cmp, n_t))) if np.isfinite(n_t) else float("nan")
    return {"images_by_time": n_t, "images_by_memory": n_m, "acquisition_share_at_limit": share}


def _child(kind: str, n: int, work: Path, extra: list[str]) -> dict:
    """One run in this process (called in a fresh one): its wall time and peak RSS."""
    from fr_eval.cli import main
    common = ["progress=false", "bootstrap.n_resamples=100", f"store_dir={work / 'store'}", f"out_dir={work / 'r'}",
              *extra]
    if kind == "acquisition":
        args = ["scenario=1", "system=sface", f"dataset.root={work / 'images'}", *common]
    else:
        args = ["scenario=1", f"embeddings={work / 'emb.npz'}", *common]
    t = time.perf_counter()
    rc = main(args)
    return {"kind": kind, "images": n, "seconds": time.perf_counter() - t, "exit": rc,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def link_images(n: int, folder: Path) -> int:
    """About n real images linked into ``folder``: the first k photos of each subject of deepfunneled_min20 (else
    the small set), k = max(4, n / subjects), subject after subject, until n. Returns the count."""
    src = MIN20 if MIN20.is_dir() else SMALL
    subjects = sorted(p for p in src.iterdir() if p.is_dir())
    per_subject = max(4, -(-n // len(subjects)))
    got = 0
    for subject in subjects:
        if got >= n:
            break
        (folder / subject.name).mkdir()
        for f in sorted(subject.glob("*.jpg"))[:per_subject]:
            (folder / subject.name / f.name).symlink_to(f)
            got += 1
    return got


def synthetic(n: int, path: Path, dim: int = 128, seed: int = 0) -> int:
    """An embeddings .npz of n images: per subject one reference and two probes near its centre."""
    rng = np.random.default_rng(seed)
    subjects = max(n // 3, 2)
    centre = rng.standard_normal((subjects, dim)).astype(np.float32)
    centre /= np.linalg.norm(centre, axis=1, keepdims=True)
    emb = np.repeat(centre, 3, axis=0) + 0.6 * rng.standard_normal((3 * subjects, dim)).astype(np.float32) / np.sqrt(dim)
    ids = np.repeat([f"s{i:06d}" for i in range(subjects)], 3)
    role = np.tile(["reference", "probe", "probe"], subjects)
    sample = np.array([f"{s}/{k}.jpg" for s, k in zip(ids, np.tile([0, 1, 2], subjects))])
    np.savez(path, sample=sample, subject=ids, role=role, variant=np.full(ids.size, "original"),
             embedding=emb.astype(np.float32))
    return int(ids.size)


def measure(kind: str, n: int, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if kind == "acquisition":
            (work / "images").mkdir()
            n = link_images(n, work / "images")
        else:
            n = synthetic(n, work / "emb.npz")
        done = subprocess.run([sys.executable, __file__, "--child", kind, "--n", str(n), "--work", str(work),
                               "--extra", json.dumps(extra)], capture_output=True, text=True)
        lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
        if done.returncode != 0 or not lines:
            raise SystemExit(f"bench_scaling: the {kind} run of {n} images failed:\n{done.stderr[-2000:]}")
        return json.loads(lines[-1])


def plot(out: Path, parts: dict) -> None:
    figure(parts).savefig(out, dpi=110)


def figure(parts: dict):
    """Time and memory against images, log-log: each part's points and its fit in one colour."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(9, 3.6))
    for ax, what, unit, scale in zip(fig.subplots(1, 2), ("seconds", "peak_rss_bytes"), ("wall time (s)", "peak RSS (MB)"),
                                     (1.0, 2.0 ** -20)):
        for kind, p in parts.items():
            n = np.array([r["images"] for r in p["runs"]], float)
            v = np.array([r[what] for r in p["runs"]], float) * scale
            f = p["fit_" + what]
            grid = np.logspace(np.log10(n.min()), np.log10(n.max()), 50)
            (points,) = ax.loglog(n, v, "o", label=f"{kind}: N^{f['exponent']:.2f}")
            ax.loglog(grid, predict(f, grid) * scale, "-", alpha=0.6, color=points.get_color())  # its points' colour
        ax.set_xlabel("images")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000,3000", help="real images acquired (at most the 3,023 of min20)")
    ap.add_argument("--synthetic-sizes", default="100,1000,10000", help="synthetic embeddings compared")
    ap.add_argument("--budget-hours", type=float, default=24.0)
    ap.add_argument("--ray", action="store_true", help="also time the largest real size with executor=ray")
    ap.add_argument("--json", default="")
    ap.add_argument("--plot", default="")
    ap.add_argument("--child", default="")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--work", default="")
    ap.add_argument("--extra", default="[]")
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(_child(a.child, a.n, Path(a.work), json.loads(a.extra))), flush=True)
        return 0
    parts = {}
    for kind, sizes in (("acquisition", a.sizes), ("comparisons", a.synthetic_sizes)):
        runs = [measure(kind, int(float(s)), []) for s in sizes.split(",")]
        for r in runs:
            print(f"{kind:11s} {r['images']:7d} images: {r['seconds']:8.2f} s, peak RSS "
                  f"{r['peak_rss_bytes'] / 2 ** 20:7.0f} MB", flush=True)
        parts[kind] = fits(runs)
        f, f_all = parts[kind]["fit_seconds"], parts[kind]["fit_seconds_all_sizes"]
        print(f"{kind}: time ~ N^{f['exponent']:.2f} between the two largest sizes (N^{f_all['exponent']:.2f} over "
              f"all: a run's fixed cost flattens the small sizes), memory ~ "
              f"N^{parts[kind]['fit_peak_rss_bytes']['exponent']:.2f}")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    lim = limit(parts["acquisition"]["fit_seconds"], parts["comparisons"]["fit_seconds"],
                parts["comparisons"]["fit_peak_rss_bytes"], a.budget_hours * 3600, ram)
    print(f"one machine ({os.cpu_count()} cores, {ram / 2 ** 30:.0f} GiB): {a.budget_hours:g} h at about "
          f"{lim['images_by_time']:.3g} images ({100 * lim['acquisition_share_at_limit']:.0f}% of it acquisition), "
          f"memory at about {lim['images_by_memory']:.3g}; beyond, executor=ray spreads the acquisition")
    report = {"parts": parts, "limit": lim, "budget_hours": a.budget_hours, "cores": os.cpu_count(), "ram_bytes": ram}
    if a.ray:
        n = max(int(float(s)) for s in a.sizes.split(","))
        r = measure("acquisition", n, ["executor=ray", f"ray.num_cpus={os.cpu_count()}"])
        local = max(parts["acquisition"]["runs"], key=lambda x: x["images"])
        report["ray"] = {**r, "local_seconds": local["seconds"]}
        print(f"ray (local instance, {os.cpu_count()} CPUs): {r['images']} images in {r['seconds']:.1f} s against "
              f"{local['seconds']:.1f} s with the local executor")
    if a.plot:
        plot(Path(a.plot), parts)
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
