"""benchmarks/bench_scaling.py (issue 40): the fitted exponents, the limit of one machine, and a small run of the
script end to end (its JSON and plot read back)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import LFW_SMALL, need


PROJECT = Path(__file__).resolve().parents[2]


sys.path.insert(0, str(PROJECT / "benchmarks"))


@pytest.mark.slow
def test_a_small_run(tmp_path):
    need(LFW_SMALL)
    done = subprocess.run([sys.executable, "benchmarks/bench_scaling.py", "--sizes", "20,40", "--synthetic-sizes",
                           "60,120", "--json", str(tmp_path / "s.json"), "--plot", str(tmp_path / "scaling.png")],
                          cwd=PROJECT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads((tmp_path / "s.json").read_text())
    for kind in ("acquisition", "comparisons"):
        runs = doc["parts"][kind]["runs"]
        assert [r["exit"] for r in runs] == [0, 0] and runs[0]["images"] < runs[1]["images"]
        assert all(r["seconds"] > 0 and r["peak_rss_bytes"] > 2 ** 20 for r in runs)
        assert -1 < doc["parts"][kind]["fit_seconds"]["exponent"] < 3
    assert doc["limit"]["images_by_time"] > 120 and "one machine (" in done.stdout
    from PIL import Image
    with Image.open(tmp_path / "scaling.png") as im:
        assert im.size[0] > 800 and len(set(np.asarray(im.convert("L")).ravel().tolist())) > 10
