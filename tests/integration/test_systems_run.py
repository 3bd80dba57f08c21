"""system=[a,b]: every scenario once per system in one run, one report with a system column and the
systems' agreement, each system's own report beside it, colourised images made once."""
import csv
import json

import pytest

from fr_eval.cli import main
from fr_eval.colourisers.exemplar import ExemplarColouriser
from fr_eval.paired import agreement

pytest.importorskip("dlib", reason="dlib is not installed (pip install -e '.[dlib]')")


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_two_systems_in_one_run(lfw_small, tmp_path, monkeypatch, capsys):
    calls = []
    real = ExemplarColouriser.colourise
    monkeypatch.setattr(ExemplarColouriser, "colourise", lambda self, g, s: (calls.append(s.rel), real(self, g, s))[1])
    out = tmp_path / "r"
    args = ["scenario=[1,3,4]", f"dataset.root={lfw_small}", "dataset.limit_subjects=8", "workers=1", "parallel=thread",
            f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=100"]
    # a colouriser named on the command line (a string, not a list) once crashed the combined report
    assert main([*args, "system=[sface,dlib]", "system.dlib.upsample=1", "system.sface.det_thresh=0.85",
                 "colouriser=exemplar", f"out_dir={out}"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert list(m["systems"]) == ["sface", "dlib"]
    subs = {n: json.loads((out / n / "metrics.json").read_text()) for n in m["systems"]}
    for n, sub in subs.items():
        assert sub["system"]["name"] == n and m["systems"][n]["rows"] == sub["rows"]
        assert m["systems"][n]["thresholds"] == sub["thresholds"]
    assert subs["dlib"]["system"]["score"]["metric"] == "euclidean" and "score" not in subs["sface"]["system"]
    assert subs["sface"]["thresholds"]["0.001"]["threshold"] != subs["dlib"]["thresholds"]["0.001"]["threshold"]
    # Table 3 with a system column: each system's block is its own table3.csv
    top = read_csv(out / "table3.csv")
    assert [r["System"] for r in top] == ["sface"] * 3 + ["dlib"] * 3
    for n in subs:
        own = read_csv(out / n / "table3.csv")
        mine = [r for r in top if r["System"] == n]
        assert [r["FRR at FMR=0.1% (%)"] for r in mine] == [r["FRR at FMR=0.1% (%)"] for r in own]
        assert [r["Scenario"] for r in mine] == ["1", "3", "4 [exemplar]"]
    # the agreement is the paired comparisons of each system's own report, side by side
    expect = agreement({n: sub["paired_comparisons"] for n, sub in subs.items()})
    assert json.loads(json.dumps(expect)) == m["agreement"] and len(m["agreement"]) == 3  # 3 vs 4, 1 vs 3, 1 vs 4
    assert all(set(a["directions"]) == {"sface", "dlib"} for a in m["agreement"])
    assert "| 4 [exemplar] vs 3 |" in (out / "agreement.md").read_text()
    # each colourised image was made once, for both systems
    n_samples = subs["sface"]["table1"]["references"] + subs["sface"]["table1"]["probes"]
    assert len(calls) == len(set(calls)) == n_samples
    html = (out / "report.html").read_text()
    assert 'href="sface/report.html"' in html and 'href="dlib/report.html"' in html
    # the run's config.yaml replays both systems, each with its own keys, to the same figures
    again = tmp_path / "again"
    assert main(["--replay", str(out / "config.yaml"), f"out_dir={again}"]) == 0
    m2 = json.loads((again / "metrics.json").read_text())
    assert [x["det_thresh"] for x in m["config"]["systems"]] == [0.85, 0.0]  # system.sface.det_thresh=0.85
    assert m2["config"]["systems"] == m["config"]["systems"]
    assert list(m2["systems"]) == ["sface", "dlib"]
    for n in m["systems"]:
        assert m2["systems"][n]["rows"] == m["systems"][n]["rows"]
        assert m2["systems"][n]["thresholds"] == m["systems"][n]["thresholds"]
    # a key of one system is written system.<name>.<key>; score files are one system's scores already
    capsys.readouterr()
    assert main([*args, "system=[sface,dlib]", "system.det_thresh=0.5", f"out_dir={tmp_path / 'x'}"]) == 2
    assert "give each system's keys as system.<name>.<key>=value" in capsys.readouterr().err
    (tmp_path / "s.csv").write_text("row,kind,score\n1,genuine,0.9\n1,impostor,0.1\n")
    assert main([f"scores={tmp_path / 's.csv'}", "system=[sface,dlib]", f"out_dir={tmp_path / 'y'}"]) == 2
    assert "system=[...] does not apply to score files" in capsys.readouterr().err
