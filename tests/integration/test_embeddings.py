"""Embeddings from a model fr-eval does not wrap: a run's exported embeddings, read back, give the
run's figures; Parquet works the same; entries the scenarios need but the file lacks are failures."""
import json

import numpy as np
import pytest

from fr_eval.cli import main
from fr_eval.embeddings import read_embeddings

from conftest import LFW_SMALL, need


SAME = ("fta", "fnmr", "frr", "threshold", "fmr_achieved", "d_prime", "eer", "n_samples", "n_failed",
        "n_genuine_compared", "intervals")


@pytest.fixture(scope="module")
def run_with_embeddings(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("emb")
    out = tmp / "run"
    assert main(["scenario=all", "system=sface", f"dataset.root={need(LFW_SMALL)}", "dataset.limit_subjects=10",
                 f"out_dir={out}", f"store_dir={tmp / 's'}", "progress=false", "bootstrap.n_resamples=100",
                 "report.export_embeddings=true"]) == 0
    return tmp, out, json.loads((out / "metrics.json").read_text())


def test_npz_round_trip_gives_the_runs_figures(run_with_embeddings):
    tmp, out, m = run_with_embeddings
    cols = read_embeddings(out / "embeddings.npz")
    assert set(cols["variant"]) == {"original", "greyscale", "colourised[exemplar]"}
    assert len(cols["sample"]) == 3 * 40
    again = tmp / "again"
    assert main([f"embeddings={out / 'embeddings.npz'}", "scenario=all", f"out_dir={again}", "progress=false",
                 "bootstrap.n_resamples=100"]) == 0
    m2 = json.loads((again / "metrics.json").read_text())
    assert [r["label"] for r in m2["rows"]] == [r["label"] for r in m["rows"]]
    for a, b in zip(m["rows"], m2["rows"]):
        assert {k: a[k] for k in SAME} == {k: b[k] for k in SAME}
    assert m2["system"]["name"] == "embeddings" and len(m2["system"]["models"][0]["sha256"]) == 64


def test_parquet_and_missing_entries(run_with_embeddings, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    _, out, m = run_with_embeddings
    with np.load(out / "embeddings.npz") as z:
        keep = z["variant"] != "greyscale"  # greyscale left out: scenarios 2 and 3 have nothing to compare
        emb = [list(map(float, v)) if np.isfinite(v).all() else [] for v in z["embedding"][keep]]
        pq.write_table(pa.table({"sample": z["sample"][keep], "subject": z["subject"][keep], "role": z["role"][keep],
                                 "variant": z["variant"][keep], "embedding": emb}), tmp_path / "e.parquet")
    out2 = tmp_path / "r"
    assert main([f"embeddings={tmp_path / 'e.parquet'}", "scenario=[1,2,5]", f"out_dir={out2}", "progress=false",
                 "bootstrap.n_resamples=100"]) == 0
    m2 = json.loads((out2 / "metrics.json").read_text())
    r1, r2, r5 = m2["rows"]
    assert {k: r1[k] for k in SAME} == {k: m["rows"][0][k] for k in SAME}
    assert {k: r5[k] for k in SAME} == {k: m["rows"][-1][k] for k in SAME}
    assert r2["n_failed_probes"] == 30 and r2["fta"] == 30 / 40  # every greyscale probe: not in the file
    fails = (out2 / "failures.csv").read_text()
    assert "not in the embeddings file (variant greyscale)" in fails
