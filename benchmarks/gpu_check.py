#!/usr/bin/env python
"""The GPU check's driver (``benchmarks/gpu_check.sh`` installs what a GPU run needs, then runs this): scenario 4
on ``deepfunneled_small`` with ArcFace (the shared detector and recogniser) once on the CPU and once on the device
under test, the two runs' Table 3 compared (within the detector's tolerance: a GPU's kernels round differently),
and the benchmarks (pipeline, comparisons, identification, DeOldify's speed against its bound), every figure in one
JSON printed last, with the device's name.

    python benchmarks/gpu_check.py --device cuda|cpu [--quick] [--out DIR]

``--device cpu`` is the dry run: both runs on the CPU (their figures must be identical), the benchmarks as on a GPU
machine. ``--quick`` keeps it to a few minutes (8 subjects, one render factor of 8, small benchmark cases). Exit 1
when the two runs disagree beyond the tolerance or a step fails; the JSON says which.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared"
DATA = SHARED / "data" / "lfw" / "deepfunneled_small"
MODELS = SHARED / "models"
#: the two runs agree when every Table 3 rate is within this many points and d' within this much (a GPU's
#: convolutions round differently from the CPU's: a handful of scores move across the threshold at most)
TOLERANCE = {"points": 1.0, "d_prime": 0.05}


def device_name(device: str) -> str:
    if device == "cpu":
        return f"CPU: {platform.processor() or platform.machine()}"
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or "nvidia-smi printed nothing"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"


def arcface_files() -> tuple[Path, Path]:
    det, rec = MODELS / "det_500m.onnx", MODELS / "mobilefacenet_128d.onnx"
    if not (det.is_file() and rec.is_file()):
        raise SystemExit(f"gpu_check: {det.name} and {rec.name} are not in {MODELS} (see ../shared/README.md)")
    return det, rec


def scenario(device: str, out: Path, quick: bool) -> dict:
    det, rec = arcface_files()
    cmd = [sys.executable, str(PROJECT / "run_eval.py"), "scenario=4", "system=arcface", f"system.detector={det}",
           f"system.recogniser={rec}", f"system.device={device}", f"dataset.root={DATA}", f"out_dir={out}",
           f"store_dir={out.parent / ('store_' + out.name)}", "progress=false", "bootstrap.n_resamples=200",
           "overwrite=true",
           *(["dataset.limit_subjects=8"] if quick else [])]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - t
    if done.returncode != 0:
        return {"ok": False, "command": " ".join(cmd), "error": (done.stderr or done.stdout)[-2000:]}
    doc = json.loads((out / "metrics.json").read_text())
    rows = {str(r["label"]): {k: r.get(k) for k in ("fta", "fnmr", "frr", "threshold", "d_prime")}
            for r in doc["rows"]}
    return {"ok": True, "seconds": took, "rows": rows, "system": doc["system"]["runtime"],
            "note": doc.get("system_choice", "")}


def agree(a: dict, b: dict) -> list[str]:
    """What differs beyond the tolerance between two runs' Table 3 rows."""
    bad = []
    for row, x in a["rows"].items():
        y = b["rows"].get(row, {})
        for k in ("fta", "fnmr", "frr"):
            if abs(100 * (x[k] - y.get(k, float("nan")))) > TOLERANCE["points"] or y.get(k) is None:
                bad.append(f"scenario {row} {k}: {x[k]} vs {y.get(k)}")
        if abs(x["d_prime"] - y.get("d_prime", float("nan"))) > TOLERANCE["d_prime"]:
            bad.append(f"scenario {row} d': {x['d_prime']} vs {y.get('d_prime')}")
    return bad


def bench(args: list[str], json_lines: bool = False) -> dict:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=PROJECT)
    out = {"command": " ".join(args), "ok": done.returncode == 0, "seconds": time.perf_counter() - t,
           "output": done.stdout.strip().splitlines()[-30:]}
    if not out["ok"]:
        out["error"] = done.stderr[-2000:]
    if json_lines:
        out["figures"] = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(PROJECT / "gpu_check_out"))
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"device": a.device, "device_name": device_name(a.device), "quick": a.quick,
              "python": sys.version.split()[0], "tolerance": TOLERANCE}
    report["cpu_run"] = scenario("cpu", out / "run_reference_cpu", a.quick)
    report["device_run"] = scenario(a.device, out / f"run_device_{a.device}", a.quick)
    ok = report["cpu_run"]["ok"] and report["device_run"]["ok"]
    report["disagreements"] = agree(report["cpu_run"], report["device_run"]) if ok else ["a run failed"]
    if a.device == "cpu" and ok and report["cpu_run"]["rows"] != report["device_run"]["rows"]:
        report["disagreements"].append("two CPU runs gave different figures")
    b = "benchmarks"
    report["benchmarks"] = {
        "pipeline": bench([f"{b}/bench_pipeline.py", "--data", str(DATA), "--skip-face-analysis", "--skip-dlib",
                           "--repeats", "1" if a.quick else "3", *(["--limit", "8"] if a.quick else [])]),
        "comparisons": bench([f"{b}/bench_comparisons.py", "--comparisons", "1e6" if a.quick else "1e8",
                              "--dim", "512", "--path", "new"], json_lines=True),
        "identification": bench([f"{b}/bench_identification.py", "--searches", "1e3" if a.quick else "1e4",
                                 "--gallery", "1e3" if a.quick else "1e5"], json_lines=True),
        "deoldify": bench([f"{b}/bench_deoldify.py", "--faces", str(DATA), "--speed", "8" if a.quick else "35,42",
                           "--threads", "2", "--models", "stable" if a.quick else "stable,artistic,kelley",
                           "--json", str(out / "deoldify.json")]),
    }
    if (out / "deoldify.json").is_file():
        report["benchmarks"]["deoldify"]["figures"] = json.loads((out / "deoldify.json").read_text())
    failed = [k for k, v in report["benchmarks"].items() if not v["ok"]]
    report["ok"] = ok and not report["disagreements"] and not failed
    report["failed_benchmarks"] = failed
    print(json.dumps(report, indent=1, default=str))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
