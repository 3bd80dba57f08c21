"""benchmarks/gpu_check.sh, the GPU check prepared before a GPU is (issue 40): its dry run here (--cpu --quick)
runs scenario 4 twice on the CPU with identical figures and every benchmark, and prints one JSON; without a GPU
the real check refuses in one line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DET_500M, LFW_SMALL, MOBILEFACENET, need

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_dry_run(tmp_path):
    pytest.importorskip("torch", reason="PyTorch is not installed (the DeOldify benchmark of the check needs it)")
    need(LFW_SMALL), need(DET_500M), need(MOBILEFACENET)
    env = {**os.environ, "OUT_DIR": str(tmp_path / "out"), "PYTHON": sys.executable}
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--cpu", "--quick"], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads(done.stdout)
    assert doc["device"] == "cpu" and doc["ok"] and doc["disagreements"] == [] and doc["failed_benchmarks"] == []
    cpu, dev = doc["cpu_run"], doc["device_run"]
    assert cpu["rows"] == dev["rows"] and list(cpu["rows"]) == ["4 [exemplar]"]  # scenario 4, computed twice
    assert all(0 <= r["frr"] <= 1 and r["d_prime"] > 0 for r in cpu["rows"].values())
    assert dev["system"]["device"] == "cpu" and dev["system"]["providers"] == ["CPUExecutionProvider"]
    (comparisons,) = doc["benchmarks"]["comparisons"]["figures"]
    assert comparisons["comparisons"] >= 0.99e6 and 0 < comparisons["fraction_of_gemm_bound"] <= 1.5
    (search,) = doc["benchmarks"]["identification"]["figures"]
    assert search["searches"] == 1000
    deo = doc["benchmarks"]["deoldify"]["figures"]
    (stable,) = deo["models"]
    assert stable["model"] == "stable" and stable["render_factor"] == 8 and stable["gflops"] > 0
    assert 0 < stable["fraction"] < 2 and deo["gemm_gflops"] > 1
    assert any("img/s" in line for line in doc["benchmarks"]["pipeline"]["output"])


def test_the_real_check_needs_a_gpu(tmp_path):
    env = {**os.environ, "PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "OUT_DIR": str(tmp_path)}
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh"], cwd=PROJECT, env=env, capture_output=True, text=True,
                          timeout=60)
    if "nvidia-smi not found" not in done.stderr:
        pytest.skip("this machine has nvidia-smi: the real check would run")
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    bad = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--gpu"], cwd=PROJECT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("usage: bash benchmarks/gpu_check.sh")
