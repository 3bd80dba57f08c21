"""Scores in and out: a run's export read back in every format gives the run's own figures, and
figures from score files agree with bob.measure and pyeer on the same files."""
import html
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fr_eval.cli import main
from fr_eval.errors import FrEvalError
from fr_eval.scores import ScoreTable, read_scores, write_bob, write_csv, write_pyeer

from conftest import LFW_SMALL, PROJECT, need

SAME = ("threshold", "fmr_achieved", "fnmr", "d_prime", "eer", "n_genuine_compared", "n_impostor", "fnmr_at")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    out = tmp / "run"
    assert main(["scenario=[1,2,3]", "system=sface", f"dataset.root={need(LFW_SMALL)}", f"out_dir={out}",
                 f"store_dir={tmp / 's'}", "progress=false", "bootstrap.n_resamples=100"]) == 0
    return tmp, out, json.loads((out / "metrics.json").read_text())


def imported(tmp, args):
    out = tmp / f"imp{len(list(tmp.glob('imp*')))}"
    assert main([*args, f"out_dir={out}", "progress=false", "bootstrap.n_resamples=100"]) == 0
    return json.loads((out / "metrics.json").read_text())


def test_export_holds_every_comparison(exported):
    tmp, out, m = exported
    t = read_scores(out / "scores" / "comparisons.csv.gz", "csv")
    assert t.rows() == ["1", "2", "3"]
    for r in m["rows"]:
        g = t.genuine & (t.row == r["label"])
        assert g.sum() == r["n_genuine"] == 90 and np.isfinite(t.score[g]).sum() == r["n_genuine_compared"]
    assert (~t.genuine).sum() == m["rows"][0]["n_impostor"] and set(t.row[~t.genuine]) == {"1"}
    p = read_scores(out / "scores" / "comparisons.parquet", "parquet")
    np.testing.assert_array_equal(p.score, t.score)
    assert (p.reference == t.reference).all() and (p.probe_subject == t.probe_subject).all()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_table_formats_give_the_runs_figures(exported, fmt):
    tmp, out, m = exported
    name = "comparisons.csv.gz" if fmt == "csv" else "comparisons.parquet"
    mi = imported(tmp, [f"scores={out / 'scores' / name}"])
    assert [r["label"] for r in mi["rows"]] == ["1", "2", "3"] and mi["baseline"] == "1"
    for a, b in zip(m["rows"], mi["rows"]):
        assert {k: a[k] for k in SAME} == {k: b[k] for k in SAME}
        assert b["fta"] == a["fta_transaction"] and b["fta_level"] == "transaction"
        assert b["intervals"]["fnmr"] == a["intervals"]["fnmr"]  # same subjects, same bootstrap


@pytest.mark.parametrize("fmt", ["bob4", "bob5", "pyeer"])
def test_bob_and_pyeer_files_give_the_rows_figures(exported, fmt):
    tmp, out, m = exported
    d = out / "scores"
    # row 2 uses the baseline's impostors: its files hold its genuine comparisons, the baseline's its impostors
    assert not (d / "2_impostor.txt").exists() and "row 2: 2.bob4 / 2.bob5 / 2_genuine.txt (genuine only); " \
        "impostors: row 1's, in 1.bob4 / 1.bob5 / 1_impostor.txt" in (d / "README.txt").read_text()
    files = (f"scores=[{d / '2_genuine.txt'},{d / '1_impostor.txt'}]" if fmt == "pyeer" else
             f"scores=[{d / ('1.' + fmt)},{d / ('2.' + fmt)}]")
    mi = imported(tmp, [files, f"format={fmt}"])
    r = mi["rows"][-1]
    assert r["label"] == ("1" if fmt == "pyeer" else "2") and mi["baseline"] == "1"
    row2 = m["rows"][1]  # scenario 2, whose impostor scores are the baseline's
    if fmt == "pyeer":  # pyeer's files hold scores only: no failed attempts, no subjects
        assert r["n_genuine"] == row2["n_genuine_compared"] and r["intervals"]["fnmr"]["method"].startswith("none")
    else:
        assert r["n_genuine"] == 90 and r["fta"] == row2["fta_transaction"]
    assert {k: r[k] for k in SAME} == {k: row2[k] for k in SAME}


def test_distance_scores_and_bad_files(tmp_path, capsys):
    rng = np.random.default_rng(1)
    gen, imp = rng.normal(0.4, 0.1, 500), rng.normal(1.0, 0.1, 5000)  # distances: genuine are small
    t = ScoreTable.build(row=["d"] * 5500, genuine=[True] * 500 + [False] * 5000, reference=[f"r{i % 50}" for i in range(5500)],
                         probe=[f"p{i}" for i in range(5500)], reference_subject=[f"s{i % 50}" for i in range(500)] +
                         [f"s{i % 50}" for i in range(5000)], probe_subject=[f"s{i % 50}" for i in range(500)] +
                         [f"s{(i % 50) + 1}" for i in range(5000)], score=np.concatenate([gen, imp]))
    write_csv(t, tmp_path / "d.csv")
    m = imported(tmp_path, [f"scores={tmp_path / 'd.csv'}", "score_kind=distance"])
    r = m["rows"][0]
    k = int(np.floor(0.001 * 5000 + 1e-9))
    assert r["threshold"] == np.sort(imp)[k - 1] if k else True  # distance: match if <= the k-th smallest
    assert r["fnmr"] == np.mean(gen > r["threshold"]) and "distance; match if <=" in m["units"]
    capsys.readouterr()
    (tmp_path / "bad.bob4").write_text("a a x 0.5\nb c y\n")
    assert main([f"scores={tmp_path / 'bad.bob4'}", "format=bob4", f"out_dir={tmp_path / 'r'}"]) == 2
    assert main([f"scores={tmp_path / 'd.csv'}", "format=bob7", f"out_dir={tmp_path / 'r'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: bad.bob4:2: 3 columns, a bob4 score file has 4",
                   "error: format=bob7 is not valid: choose from csv, parquet, bob4, bob5, pyeer"]
    with pytest.raises(FrEvalError, match="no impostor comparison"):
        from fr_eval.evaluation import evaluate_table
        evaluate_table(t.select(t.genuine), fmr=0.001, fmrs=[0.001], bootstrap={})


def test_det_bands_of_score_files(tmp_path):
    """report.det_bands=true shades the score import's DET where the files name the subjects, and the
    caption says why there is no band where they do not (pyeer)."""
    from conftest import changed_fraction
    from fr_eval.evaluation import evaluate_table

    rng = np.random.default_rng(4)
    n_s, per = 40, 5
    subj = [f"s{i // per}" for i in range(n_s * per)]
    gen = rng.normal(0.35, 0.12, n_s * per)
    gen[3] = np.nan  # a failed attempt: no score, so no subject among the compared
    imp = rng.normal(0.0, 0.1, 8000)
    t = ScoreTable.build(row=["g"] * (gen.size + imp.size), genuine=[True] * gen.size + [False] * imp.size,
                         reference=[f"r{s}" for s in subj] + [f"r{i % n_s}" for i in range(imp.size)],
                         probe=[f"p{i}" for i in range(gen.size + imp.size)],
                         reference_subject=subj + [f"s{i % n_s}" for i in range(imp.size)],
                         probe_subject=subj + [f"s{(i + 1) % n_s}" for i in range(imp.size)],
                         score=np.concatenate([gen, imp]))
    ev = evaluate_table(t, fmr=0.001, fmrs=[0.001], bootstrap={"n_resamples": 50})
    names = sorted(set(subj))
    assert [names[i] for i in ev.scores["g"]["subject"]] == [s for s, g in zip(subj, gen) if np.isfinite(g)]
    write_csv(t, tmp_path / "g.csv")
    outs = {}
    for bands in ("false", "true"):
        out = tmp_path / f"bands_{bands}"
        assert main([f"scores={tmp_path / 'g.csv'}", f"out_dir={out}", "progress=false", "bootstrap.n_resamples=50",
                     f"report.det_bands={bands}"]) == 0
        outs[bands] = out
    assert changed_fraction(outs["false"] / "det.png", outs["true"] / "det.png") > 0.01
    page = {k: html.unescape((o / "report.html").read_text()) for k, o in outs.items()}
    assert "Shaded: each row's pointwise 95% subject-bootstrap band" in page["true"] and "Shaded" not in page["false"]
    write_pyeer(t, tmp_path / "gen.txt", tmp_path / "imp.txt")
    out = tmp_path / "pyeer"
    assert main([f"scores=[{tmp_path / 'gen.txt'},{tmp_path / 'imp.txt'}]", "format=pyeer", f"out_dir={out}", "progress=false",
                 "report.det_bands=true"]) == 0
    assert "No band: the score files do not name every genuine comparison" in html.unescape(
        (out / "report.html").read_text())


# -- against bob.measure and pyeer (a venv of their own: bob.measure 6.1.1 needs numpy 1.26) ------
XCHECK = PROJECT / ".venv-xcheck" / "bin" / "python"
XSCRIPT = r"""
import json, sys
import numpy as np
import bob.measure as bm
from pyeer.eer_info import get_eer_stats
# bob.measure 6 reads only its 2-column files; the 4-column format (bob.bio.base's) is split here:
# claimed_id real_id test_label score, genuine where claimed_id == real_id
cols = [line.split() for line in open(sys.argv[1])]
pos = np.array([float(c[3]) for c in cols if c[0] == c[1]])
neg = np.array([float(c[3]) for c in cols if c[0] != c[1]])
thr = bm.far_threshold(neg, pos, 0.001)
far, frr = bm.farfrr(neg, pos, thr)
g, i = np.loadtxt(sys.argv[2]), np.loadtxt(sys.argv[3])
st = get_eer_stats(g, i)
print(json.dumps({"threshold": float(thr), "far": float(far), "frr": float(frr), "eer": float(bm.eer(neg, pos)),
                  "pyeer_eer": float(st.eer), "pyeer_fmr1000": float(st.fmr1000)}))
"""


def reference_figures(d: Path, stem: str) -> dict:
    if not XCHECK.is_file():
        pytest.skip(f"{XCHECK} is absent: .ci/run makes it (python3 -m venv .venv-xcheck && "
                    ".venv-xcheck/bin/pip install bob.measure==6.1.1 pyeer==0.5.6)")
    r = subprocess.run([str(XCHECK), "-c", XSCRIPT, str(d / f"{stem}.bob4"), str(d / f"{stem}_genuine.txt"),
                        str(d / f"{stem}_impostor.txt")], capture_output=True, text=True, timeout=300,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("ties", [False, True])
def test_figures_agree_with_bob_measure_and_pyeer(tmp_path, ties):
    rng = np.random.default_rng(7)
    n_g, n_i, n_s = 3000, 300000, 60
    gen, imp = rng.normal(0.55, 0.15, n_g), rng.normal(0.0, 0.12, n_i)
    if ties:  # scores on a coarse grid: many tied values, also at the threshold
        gen, imp = np.round(gen, 2), np.round(imp, 2)
    subj_g = rng.integers(0, n_s, n_g)
    subj_i = rng.integers(0, n_s, n_i)
    other = (subj_i + rng.integers(1, n_s, n_i)) % n_s
    t = ScoreTable.build(row=["x"] * (n_g + n_i), genuine=np.r_[np.ones(n_g, bool), np.zeros(n_i, bool)],
                         reference=[f"m{s}" for s in np.r_[subj_g, subj_i]], probe=[f"p{k}" for k in range(n_g + n_i)],
                         reference_subject=[f"s{s}" for s in np.r_[subj_g, subj_i]],
                         probe_subject=[f"s{s}" for s in np.r_[subj_g, other]], score=np.r_[gen, imp])
    write_bob(t, tmp_path / "x.bob4", 4)
    write_pyeer(t, tmp_path / "x_genuine.txt", tmp_path / "x_impostor.txt")
    ref = reference_figures(tmp_path, "x")
    m = imported(tmp_path, [f"scores={tmp_path / 'x.bob4'}", "format=bob4"])
    r = m["rows"][0]
    assert r["threshold"] == ref["threshold"]  # bob.measure's far_threshold, to the bit
    assert r["fmr_achieved"] == ref["far"] and r["fnmr"] == ref["frr"]
    assert abs(r["eer"] - ref["eer"]) <= 2 / n_g  # EERs differ by interpolation at most one step
    assert abs(r["eer"] - ref["pyeer_eer"]) <= 2 / n_g
    print(f"ties={ties}: threshold {r['threshold']!r} (bob {ref['threshold']!r}), FNMR {r['fnmr']} "
          f"(bob {ref['frr']}, pyeer FMR1000 {ref['pyeer_fmr1000']}), EER {r['eer']} (bob {ref['eer']}, "
          f"pyeer {ref['pyeer_eer']})")
