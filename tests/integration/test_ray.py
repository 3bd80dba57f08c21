"""executor=ray: the same acquisitions on Ray actors (a real local Ray instance, 2 CPUs)."""
import json

import pytest

from fr_eval.cli import main

from conftest import need, LFW_SMALL


ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]'; .ci/run installs it)")


FIGURES = ("fta", "fnmr", "frr", "threshold", "fmr_achieved", "d_prime", "eer", "n_samples", "n_genuine_compared")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def figures(out):
    doc = json.loads((out / "metrics.json").read_text())
    return [{k: r[k] for k in FIGURES} for r in doc["rows"]], doc


def test_ray_gives_the_local_executors_figures(local_ray, tmp_path):
    root = need(LFW_SMALL)
    common = ["scenario=[1,3]", "system=sface", f"dataset.root={root}", "progress=false", "bootstrap.n_resamples=50",
              "batch_size=8", "protocol=identification"]
    assert main([*common, f"store_dir={tmp_path / 'local'}", f"out_dir={tmp_path / 'a'}"]) == 0
    assert main([*common, "executor=ray", f"store_dir={tmp_path / 'ray'}", f"out_dir={tmp_path / 'b'}"]) == 0
    (a, _), (b, doc) = figures(tmp_path / "a"), figures(tmp_path / "b")
    assert a == b
    # the 1:N searches of protocol=identification ran as Ray tasks: the same figures
    assert doc["identification"] == json.loads((tmp_path / "a" / "metrics.json").read_text())["identification"]
    assert doc["identification"]["rows"][1]["mated_searches"] == 45
    assert doc["engine"]["parallel"] == "ray" and doc["engine"]["workers"] == 2
    assert doc["engine"]["computed"] == 240 and doc["engine"]["reused"] == 0  # original + greyscale, 120 each
    # the driver committed every chunk: a second Ray run reuses all of them
    assert main([*common, "executor=ray", f"store_dir={tmp_path / 'ray'}", f"out_dir={tmp_path / 'c'}"]) == 0
    c, doc = figures(tmp_path / "c")
    assert c == a and doc["engine"]["computed"] == 0 and doc["engine"]["reused"] == 240


@pytest.mark.slow
def test_ray_run_killed_mid_way_resumes(tmp_path):
    """The driver killed (SIGKILL) after some chunks were committed: the next Ray run reuses them,
    computes the rest, and gives the figures of an uninterrupted local run."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    root = need(LFW_SMALL)
    base = ["scenario=[1,2]", "system=sface", f"dataset.root={root}", "progress=false", "batch_size=4",
            "bootstrap.n_resamples=50"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def run(*args):
        return subprocess.Popen([sys.executable, "-m", "fr_eval", *base, *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, env=env)

    assert run(f"out_dir={tmp_path / 'solo'}", f"store_dir={tmp_path / 'solo_store'}", "workers=1").wait(600) == 0
    ray_args = ["executor=ray", "ray.num_cpus=2", f"store_dir={tmp_path / 'store'}", f"out_dir={tmp_path / 'r'}"]
    p = run(*ray_args)
    db, deadline, rows = tmp_path / "store" / "store.sqlite", time.time() + 300, 0
    while time.time() < deadline and p.poll() is None and rows < 40:
        time.sleep(0.05)
        try:
            with sqlite3.connect(db, timeout=5) as c:
                rows = c.execute("SELECT COUNT(*) FROM acquisitions").fetchone()[0]
        except sqlite3.Error:
            continue
    assert rows >= 40 and p.poll() is None, "the run ended before it could be killed"
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=60)
    assert not (tmp_path / "r").exists()
    again = run(*ray_args)
    assert again.wait(timeout=600) == 0, again.stderr.read()[-2000:]
    (want, solo), (got, doc) = figures(tmp_path / "solo"), figures(tmp_path / "r")
    assert got == want and doc["engine"]["reused"] >= 40 and doc["engine"]["parallel"] == "ray"
    assert doc["engine"]["reused"] + doc["engine"]["computed"] == solo["engine"]["computed"] == 210


def test_search_on_ray_tasks_equals_the_local_search_to_the_bit(local_ray):
    import numpy as np
    from fr_eval import identification
    rng = np.random.default_rng(5)
    g = rng.normal(size=(300, 32)).astype(np.float32)
    x = rng.normal(size=(1000, 32)).astype(np.float32)
    subj, gsubj = rng.integers(0, 450, 1000), np.arange(300)
    ok = rng.random(1000) > 0.05
    a = identification.search_gallery(x, subj, g, gsubj, k=7, search_ok=ok)
    b = identification.search_gallery(x, subj, g, gsubj, k=7, search_ok=ok, executor="ray", tasks=3)
    for f in ("mated", "acquired", "mate_rank", "top_entry", "top_score"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert np.array_equal(a.mate_score, b.mate_score, equal_nan=True) and (a.mate_rank > 1).sum() > 50
