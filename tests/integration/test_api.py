"""The Python API: the README's examples run as they are written, and the API gives the command's
figures."""
import json
import re

import numpy as np
import pytest

import fr_eval
from fr_eval.cli import main

from conftest import LFW_SMALL, PROJECT, SHARED, need


def readme_examples() -> list[str]:
    text = (PROJECT / "README.md").read_text()
    section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.mark.parametrize("i", range(3))
def test_readme_examples_run(i, monkeypatch, tmp_path, capsys):
    need(LFW_SMALL)
    if i == 2:
        need(SHARED / "data/generated/manifest.csv")
    monkeypatch.chdir(PROJECT)  # the examples' relative paths are the checkout's
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = readme_examples()[i]
    exec(compile(code, f"README example {i + 1}", "exec"), {})
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed and all(line.strip() for line in printed)
    if i == 1:
        assert printed[-1] == "True"


def test_api_gives_the_commands_figures(tmp_path):
    args = dict(scenario="[1,2]", system="sface", dataset={"root": str(need(LFW_SMALL)), "limit_subjects": 8},
                store_dir=str(tmp_path / "s"), bootstrap={"n_resamples": 50})
    ev = fr_eval.evaluate(**args)
    out = tmp_path / "cli"
    assert main(["scenario=[1,2]", "system=sface", f"dataset.root={LFW_SMALL}", "dataset.limit_subjects=8",
                 f"store_dir={tmp_path / 's'}", "bootstrap.n_resamples=50", f"out_dir={out}", "progress=false"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    keys = ("fta", "fnmr", "frr", "threshold", "d_prime", "eer", "intervals")
    assert [{k: r[k] for k in keys} for r in ev.rows] == [{k: r[k] for k in keys} for r in m["rows"]]
    assert ev.thresholds[0.001] == m["thresholds"]["0.001"]["threshold"]
    # each compared genuine score's subject (the DET band resamples them): as the score export has them
    import pyarrow.parquet as pq
    t = pq.read_table(out / "scores" / "comparisons.parquet").to_pydict()
    names = sorted(set(t["probe_subject"]))
    for label in ("1", "2"):
        exp = [(sc, sj) for sc, sj, k, r in zip(t["score"], t["probe_subject"], t["kind"], t["row"])
               if k == "genuine" and r == label and np.isfinite(sc)]
        got = ev.scores[label]
        assert got["genuine"].tolist() == pytest.approx([e[0] for e in exp])
        assert [names[i] for i in got["subject"]] == [e[1] for e in exp]
    written = ev.write_report(tmp_path / "api")
    assert json.loads((written / "metrics.json").read_text())["rows"][0]["fnmr"] == m["rows"][0]["fnmr"]
    with pytest.raises(KeyError, match="rows: 1, 2"):
        ev.row("9")
    assert ev.settings.bootstrap.n_resamples == 50 and ev.settings.system.name == "sface"
    assert ev.settings.system.det_thresh == 0.9 and ev.settings.fmr == 0.001
    # for notebooks: the tables as DataFrames, the headline and the DET in Jupyter
    t3 = ev.table3()
    assert list(t3.index) == ["1", "2"] and t3.loc["2", "frr"] == m["rows"][1]["frr"]
    assert t3.loc["2", "frr_low"] == m["rows"][1]["intervals"]["frr"]["low"]
    assert t3.loc["1", "n_impostor"] == m["rows"][0]["n_impostor"]
    pairs = ev.comparisons_table()
    assert list(pairs[["a", "b"]].itertuples(index=False, name=None)) == [("1", "2")]
    assert pairs.loc[0, "frr_difference"] == pytest.approx(m["paired_comparisons"][0]["frr_difference"])
    page = ev._repr_html_()
    assert page.count("<tr>") == 3 and "data:image/png;base64," in page and "n too small" in page


def test_audit_from_python_gives_a_methods_table(tmp_path):
    from generated_faces import build_manifest

    m, _ = build_manifest(need(LFW_SMALL), tmp_path)
    au = fr_eval.audit(generated={"manifest": str(m), "min_per_method": 2}, system="sface",
                       store_dir=str(tmp_path / "s"), bootstrap={"n_resamples": 50}, report={"min_subjects": 2})
    t = au.methods_table()
    ranked = [g["value"] for g in au.methods if g["rank"] is not None]
    assert list(t.index[: len(ranked)]) == ranked and t.loc["blank", "fta"] == 1.0
    assert t.loc["blank", "too_small"] == "1 images < generated.min_per_method=2"
    assert t.loc["photo", "verified_of_all_low"] <= t.loc["photo", "verified_of_all"] <= t.loc["photo", "verified_of_all_high"]
    assert "<table" in au._repr_html_() and "photo" in au._repr_html_()
