import json
import os
import subprocess
import sys

import pytest

from fr_eval.cli import main

from conftest import PROJECT


def run_cli(*args, cwd=PROJECT):
    return subprocess.run([sys.executable, "run_eval.py", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_scenario_all_end_to_end(lfw_small, shared_arcface_files, tmp_path):
    det, rec = shared_arcface_files
    out, store = tmp_path / "report", tmp_path / "store"
    args = ["scenario=all", "system=arcface", f"system.detector={det}", f"system.recogniser={rec}",
            f"dataset.root={lfw_small}", f"out_dir={out}", f"store_dir={store}", "progress=false",
            "bootstrap.n_resamples=200"]
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((out / "metrics.json").read_text())
    labels = [row["label"] for row in m["rows"]]
    assert labels == ["1", "2", "3", "4 [exemplar]", "5 [exemplar]"]
    for row in m["rows"]:
        for key in ("scenario", "colouriser", "fta", "fta_transaction", "fnmr", "frr", "fmr_target", "fmr_achieved",
                    "threshold", "d_prime", "eer", "n_genuine", "n_impostor", "n_samples", "n_failed"):
            assert key in row
        assert 0 <= row["fta"] <= 1 and row["fmr_achieved"] <= row["fmr_target"]
        assert row["frr"] == pytest.approx(row["fta"] + row["fnmr"] * (1 - row["fta"]))
        assert row["n_samples"] == 120 and row["n_genuine"] == 90 and row["n_impostor"] <= 2610
        assert row["intervals"]["frr"]["method"] in ("rule_of_3", "subject_bootstrap")
    assert len({row["threshold"] for row in m["rows"]}) == 1  # one threshold from the baseline
    base = m["rows"][0]
    assert base["d_prime"] > 3 and base["fnmr"] < 0.05  # ArcFace-style on LFW: well separated
    assert m["table1"] == {"dataset": "lfw_small", "subjects": 30, "references": 30, "probes": 90,
                           "genuine": 90, "impostor": 2610}
    assert {x["role"] for x in m["system"]["models"]} == {"detector", "recogniser"}
    assert "numpy" in m["environment"]["packages"] and m["config"]["scenario"] == "all"
    for f in ("report.html", "samples.csv", "config.yaml", "table1.csv", "table1.md", "table3.csv", "table3.md", "det.png", "frr_threshold.png",
              "failures.csv", "provenance.json", "scores.npz", "run.log"):
        assert (out / f).is_file(), f
    t3 = (out / "table3.md").read_text()
    assert (out / "det.pdf").read_bytes()[:5] == b"%PDF-"  # the DET also as a vector figure, for papers
    assert "| 4 [exemplar] |" in t3
    # 90 genuine attempts: one decimal; intervals in the cells (rule of 3 over the 30 subjects, not the 90 attempts);
    # 2,610 impostors do not support FMR=0.1%
    assert "| 1 | " in t3 and " | 0.0 [0.0, 10.0]\u2020 | " in t3 and "FMR=0.1% allows 2" in t3
    assert "- 4 [exemplar], 5 [exemplar]: exemplar colour transfer [WAM02], a weight-free stand-in, not DeOldify." in t3
    import csv as _csv
    with open(out / "table3.csv", newline="") as f:
        t3c = list(_csv.DictReader(f))
    assert t3c[0]["FNMR at FMR=0.1% high (%)"] == "10.0" and t3c[0]["FMR=0.1% supported"] == "no"
    assert t3c[0]["FMR=1% supported"] == "yes" and "\u2020" not in "".join(t3c[0].values())
    assert [m["thresholds"][f]["supported"] for f in ("0.01", "0.001", "0.0001")] == [True, False, False]
    # the paired comparison of rows, checked against the exported genuine scores
    import numpy as np
    import pyarrow.parquet as pq
    pairs = [(c["a"], c["b"]) for c in m["paired_comparisons"]]
    assert pairs == [("3", "4 [exemplar]"), ("2", "5 [exemplar]"), ("1", "2"), ("1", "3"), ("1", "4 [exemplar]"),
                     ("1", "5 [exemplar]")]
    t = pq.read_table(out / "scores" / "comparisons.parquet").to_pydict()
    kind, row, score = np.array(t["kind"]), np.array(t["row"]), np.array(t["score"])
    thr = m["thresholds"]["0.001"]["threshold"]
    by_label = {r["label"]: r for r in m["rows"]}
    for c in m["paired_comparisons"]:
        # compared at the first supported FMR target (lfw_small's 2,610 impostors do not support 0.1 %)
        assert c["operating_point"] == "FMR<=1%" and c["supported"] and c["fmr"] == 0.01
        thr = m["thresholds"][str(c["fmr"])]["threshold"]
        ga, gb = (score[(kind == "genuine") & (row == x)] for x in (c["a"], c["b"]))
        rej_a, rej_b = ~(ga >= thr), ~(gb >= thr)  # NaN (failed) is a rejection
        # the FRR compared is Table 3's at that target (the paper's, sample-level FTA folded in); transaction beside it
        assert c["frr_definition"] == "paper"
        frr = {x: by_label[x]["fta"] + by_label[x]["fnmr_at"][str(c["fmr"])] * (1 - by_label[x]["fta"])
               for x in (c["a"], c["b"])}
        assert c["frr_a"] == pytest.approx(frr[c["a"]]) and c["frr_b"] == pytest.approx(frr[c["b"]])
        assert c["frr_transaction_a"] == rej_a.mean()
        assert (c["discordant"]["a_only"], c["discordant"]["b_only"]) == ((rej_a & ~rej_b).sum(), (rej_b & ~rej_a).sum())
        assert c["frr_transaction_difference"] == pytest.approx(rej_b.mean() - rej_a.mean())
        assert c["frr_difference"] == pytest.approx(frr[c["b"]] - frr[c["a"]])
        iv = c["frr_interval"]
        assert iv["low"] <= c["frr_difference"] <= iv["high"]
        assert 0 < c["frr_test"]["p_value"] <= c["frr_test"]["p_holm"] <= 1 and c["frr_test"]["family"] == 6
        assert c["d_prime_difference"] == pytest.approx(by_label[c["b"]]["d_prime"] - by_label[c["a"]]["d_prime"],
                                                        rel=1e-6)
    paired_md = (out / "paired.md").read_text()
    assert "| 4 [exemplar] vs 3 | FMR<=1% | 30 | 90 |" in paired_md and m["paired_comparisons"][0]["sentence"][1:] in paired_md
    # a second run recomputes nothing and gives the same figures
    out2 = tmp_path / "report2"
    r2 = run_cli(*args[:-2], f"out_dir={out2}", "progress=false", "bootstrap.n_resamples=200")
    assert r2.returncode == 0, r2.stderr[-2000:]
    m2 = json.loads((out2 / "metrics.json").read_text())
    assert m2["engine"]["computed"] == 0 and m2["engine"]["reused"] == m["engine"]["computed"]
    assert [r["fnmr"] for r in m2["rows"]] == [r["fnmr"] for r in m["rows"]]
    assert [r["d_prime"] for r in m2["rows"]] == [r["d_prime"] for r in m["rows"]]


def test_sface_single_scenario_with_precomputed(lfw_small, tmp_path):
    """Scenario 5 with a precomputed colourisation (here: the original colour images, as a
    sanity check: scenario 5 must then equal the baseline)."""
    out = tmp_path / "r"
    code = main(["scenario=[1,5]", "system=sface", f"dataset.root={lfw_small}", "colouriser=precomputed",
                 f"colourisers.precomputed.root={lfw_small}", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=100"])
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    r1, r5 = m["rows"]
    assert r5["label"] == "5 [precomputed]"
    assert r5["fnmr"] == r1["fnmr"] and r5["fta"] == r1["fta"] and r5["d_prime"] == pytest.approx(r1["d_prime"])


@pytest.mark.parametrize("args, expect", [
    (["scenario=7"], "scenario=7 is not valid; choose from 1, 2, 3, 4, 5, all"),
    (["system=foo"], "system=foo is not valid; choose from arcface, auto, dlib, onnx, plugin, sface"),
    (["dataset=nope"], "dataset=nope is not valid; choose from"),
    (["colouriser=magic", "scenario=4"],
     "colouriser=magic is not defined; choose from deoldify-artistic, deoldify-kelley, deoldify-stable, exemplar, precomputed"),
    (["fmr=5"], "fmr=5 is not valid: give a fraction between 0 and 1"),
    (["bogus=1"], "unknown key 'bogus'"),
    (["dataset=folder"], "dataset.root must be given"),
])
def test_bad_config_gives_one_line_error(args, expect, capsys, tmp_path):
    code = main([*args, f"out_dir={tmp_path / 'r'}", f"store_dir={tmp_path / 's'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert expect in err
