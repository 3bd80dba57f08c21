"""Identification (1:N): the streamed search and the figures, on a gallery worked out by hand, against the
full score matrix (to the bit), against pyeer's CMC, and against bob.measure's cmc, recognition_rate,
detection_identification_rate and false_alarm_rate on random and on tied scores."""
import json
import os
import subprocess

import numpy as np
import pytest

from fr_eval import identification

from integration.test_scores import XCHECK


XSCRIPT = r"""
import json, sys
import numpy as np
import bob.measure as bm
d = json.load(open(sys.argv[1]))
s, col = np.array(d["scores"]), d["col"]
cmc_scores = [(np.delete(row, c), np.array([row[c]])) if c >= 0 else (row, None) for row, c in zip(s, col)]
mated = [p for p in cmc_scores if p[1] is not None]
out = {"cmc": bm.cmc(mated)[:d["max_rank"]].tolist(),
       "rr": [bm.recognition_rate(mated, rank=r) for r in range(1, d["max_rank"] + 1)],
       "dir": {f"{t}|{r}": bm.detection_identification_rate(cmc_scores, t, r) for t in d["thresholds"] for r in (1, 5)},
       "far": {str(t): bm.false_alarm_rate(cmc_scores, t) for t in d["thresholds"]}}
from pyeer.cmc_stats import get_cmc_curve  # pyeer's CMC: candidates sorted by score (a stable sort), the mate listed
# first so that among tied scores it is found first (its most favourable order)
lists = {str(i): ([str(c)], sorted([(str(c), float(row[c]))] + [(str(j), float(v)) for j, v in enumerate(row) if j != c],
                                   key=lambda t: -t[1])) for i, (row, c) in enumerate(zip(s, col)) if c >= 0}
out["pyeer"] = get_cmc_curve(lists, d["max_rank"])
print(json.dumps(out))
"""


@pytest.mark.parametrize("ties", [False, True])
def test_figures_agree_with_bob_measure(tmp_path, ties):
    if not XCHECK.is_file():
        pytest.skip(f"{XCHECK} is absent: .ci/run makes it (python3 -m venv .venv-xcheck && "
                    ".venv-xcheck/bin/pip install bob.measure==6.1.1 pyeer==0.5.6)")
    rng = np.random.default_rng(11)
    n_gallery, n_search = 60, 3000
    scores = rng.normal(0.0, 0.15, (n_search, n_gallery))
    subj = rng.integers(0, 2 * n_gallery, n_search)  # half the searches not enrolled
    mated = subj < n_gallery
    scores[np.flatnonzero(mated), subj[mated]] += rng.normal(0.45, 0.2, mated.sum())
    if ties:  # a coarse grid: many ties, with the mate and at the thresholds
        scores = np.round(scores, 1)
    x = scores.astype(np.float32)  # the gallery is the identity: each search's scores are its row, exactly
    r = identification.search_gallery(x, [f"s{v}" for v in subj], np.eye(n_gallery, dtype=np.float32),
                         [f"s{i}" for i in range(n_gallery)], k=10)
    rank, score = r.mated_searches()
    top1 = r.nonmated_top1()
    t001 = identification.threshold_at_fpir(top1, 0.001)
    thresholds = sorted({t001, identification.threshold_at_fpir(top1, 0.01), 0.3, 0.5})
    col = [int(v) if v < n_gallery else -1 for v in subj]
    (tmp_path / "s.json").write_text(json.dumps({"scores": x.astype(np.float64).tolist(), "col": col,
                                                 "max_rank": 10, "thresholds": thresholds}))
    out = subprocess.run([str(XCHECK), "-c", XSCRIPT, str(tmp_path / "s.json")], capture_output=True, text=True,
                         timeout=300, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert out.returncode == 0, out.stderr[-2000:]
    ref = json.loads(out.stdout.strip().splitlines()[-1])
    assert identification.cmc(rank, 10).tolist() == ref["cmc"] == ref["rr"]  # every rank, exactly
    # pyeer resolves ties by list order (the mate first here): equal without ties, never below ours with them
    ours = identification.cmc(rank, 10)
    if ties:
        assert (ours <= np.array(ref["pyeer"]) + 1e-12).all() and (ours < np.array(ref["pyeer"]) - 1e-3).any()
    else:
        assert ours == pytest.approx(ref["pyeer"], abs=1e-12)
    for t in thresholds:
        assert identification.fpir(top1, t) == ref["far"][str(t)]
        for R in (1, 5):
            assert 1.0 - identification.fnir(rank, score, R, t) == pytest.approx(ref["dir"][f"{t}|{R}"], abs=1e-15)
    below = top1[top1 < t001].max()  # the next observed score down gives one alarm too many
    assert identification.fpir(top1, t001) <= 0.001 < identification.fpir(top1, below)


def test_identification_run_equals_the_full_matrix_on_lfw(tmp_path):
    """protocol=identification on deepfunneled_small: the report's figures, recomputed here from the run's
    own embeddings through the full score matrix (every search against every template at once): the same
    ranks, thresholds and rates, to the bit."""
    from fr_eval.cli import main

    from conftest import LFW_SMALL, need
    out = tmp_path / "r"
    assert main(["scenario=[1,2]", "system=sface", f"dataset.root={need(LFW_SMALL)}", "protocol=identification",
                 "identification.max_rank=5", "identification.gallery_sizes=[5,15]", f"store_dir={tmp_path / 's'}", f"out_dir={out}", "progress=false",
                 "report.export_embeddings=true", "bootstrap.n_resamples=50"]) == 0
    m = json.loads((out / "metrics.json").read_text())["identification"]
    split = m["split"]
    assert (split["subjects"], split["enrolled"], split["held_out"]) == (30, 15, 15)
    held = set(split["held_out_subjects"])
    e = np.load(next(out.glob("embeddings*.npz")))
    thresholds = {}
    for row in m["rows"]:
        ref_v, probe_v = row["reference_variant"], row["probe_variant"]
        # the gallery: each enrolled subject's mean unit embedding, normalised again
        g_names, g = [], []
        for s in sorted({str(x) for x in e["subject"]} - held):
            sel = (e["subject"] == s) & (e["role"] == "reference") & (e["variant"] == ref_v)
            v = e["embedding"][sel].astype(np.float64)
            v = v[np.isfinite(v).all(1)]
            if len(v):
                v = (v / np.linalg.norm(v, axis=1, keepdims=True)).mean(0)
                g_names.append(s)
                g.append(v / np.linalg.norm(v))
        ps = (e["role"] == "probe") & (e["variant"] == probe_v)
        x, subj = e["embedding"][ps], [str(s) for s in e["subject"][ps]]
        ok = np.isfinite(x).all(1)
        xn = np.zeros_like(x)
        xn[ok] = x[ok] / np.linalg.norm(x[ok], axis=1, keepdims=True)
        s = identification.score_matrix(xn, np.array(g, np.float32)).astype(np.float64)
        ranks, tops = [], []
        for i in range(len(subj)):
            if subj[i] in held:
                tops.append(s[i].max() if ok[i] else -np.inf)
            elif ok[i] and subj[i] in g_names:
                c = g_names.index(subj[i])
                ranks.append((1 + int(np.sum(np.delete(s[i], c) >= s[i, c])), s[i, c]))
            else:
                ranks.append((0, np.nan))
        r, sc, tops = np.array([a for a, _ in ranks]), np.array([b for _, b in ranks]), np.array(tops)
        if row["label"] == "1":  # each acquired search's first candidate, read off the full matrix
            first = {str(sid): g_names[int(np.argmax(s[i]))] for i, sid in enumerate(e["sample"][ps]) if ok[i]}
        assert row["mated_searches"] == len(r) and row["nonmated_searches"] == len(tops) == 45
        assert row["cmc"] == [float(np.mean((r >= 1) & (r <= k))) for k in range(1, 6)]
        if ref_v == probe_v == "original":
            thresholds = {t: identification.threshold_at_fpir(tops, float(t)) for t in m["thresholds"]}
            assert {t: v["threshold"] for t, v in m["thresholds"].items()} == thresholds
        for t, T in thresholds.items():
            a = row["at_fpir"][t]
            assert a["fpir"] == float(np.mean(tops >= T))
            assert a["fnir_rank1"] == float(1 - np.mean((r == 1) & (sc >= T)))
    # row 2 against row 1 on the same mated searches: the rank-1 miss rates' difference, tested over subjects
    pair = next(c for c in m["paired_comparisons"] if (c["a"], c["b"]) == ("1", "2") and c["figure"].startswith(
        "FNIR rank 1 ("))
    rows = {r["label"]: r for r in m["rows"]}
    assert pair["difference"] == pytest.approx(rows["1"]["rank1"] - rows["2"]["rank1"], abs=1e-12)
    assert pair["subjects"] == 15 and 0 < pair["test"]["p_value"] <= 1 and pair["test"]["family"] == 2
    assert pair["interval"]["low"] <= pair["difference"] <= pair["interval"]["high"]
    # nested galleries: the whole gallery gives the rows' own figures; 5 subjects, their 15 probes as mated searches
    sizes = {(r["gallery_size"], r["row"]): r for r in m["by_gallery_size"]}
    for label, row in rows.items():
        whole = sizes[(15, label)]
        assert whole["rank1"] == row["rank1"] and whole["at_fpir"] == {
            t: {k: a[k] for k in ("threshold", "fpir", "fnir_rank1")} for t, a in row["at_fpir"].items()}
        assert sizes[(5, label)]["mated_searches"] == 15 and sizes[(5, label)]["nonmated_searches"] == 45
    # the candidate lists: every acquired search's top 5 in rank order, the mate's rank among them
    import pyarrow.parquet as pq
    cl = pq.read_table(out / "identification_candidates.parquet").to_pandas()
    one = cl[cl["row"] == "1"]
    assert set(one.groupby("search").size()) <= {1, 5} and len(one["search"].unique()) == 90
    tops1 = one[one["rank"] == 1].set_index("search")["candidate_subject"].to_dict()
    assert tops1 == first  # every acquired search, its first candidate
    for search, c in one.groupby("search"):
        assert list(c.sort_values("rank")["score"]) == sorted(c["score"], reverse=True)
    # the lists read back (fr-eval candidates=<file>) give the run's figures: ranks, thresholds, rates, intervals
    # and paired comparisons, to the bit (a mate beyond the lists of 5 ranks beyond them: every figure to rank 5
    # is the same)
    back = tmp_path / "back"
    assert main([f"candidates={out / 'identification_candidates.parquet'}", f"out_dir={back}", "progress=false",
                 "identification.max_rank=5", "bootstrap.n_resamples=50"]) == 0
    b = json.loads((back / "metrics.json").read_text())["identification"]
    assert b["thresholds"] == m["thresholds"]
    for x, y in zip(m["rows"], b["rows"]):
        same = {k for k in x if k not in ("reference_variant", "probe_variant", "enrolled_subjects", "failed_to_enrol")}
        assert {k: x[k] for k in same} == {k: y[k] for k in same}
    assert b["paired_comparisons"] == m["paired_comparisons"]
    # the section of the page and its files
    html = (out / "report.html").read_text()
    assert "Identification (1:N)" in html and "identification_cmc.png" in html
    md = (out / "identification.md").read_text()
    assert "| 2 | original | greyscale | 15 | 45 | 45 |" in md


def test_the_api_gives_the_identification_table(tmp_path):
    import fr_eval
    from conftest import LFW_SMALL, need
    ev = fr_eval.evaluate(scenario="[1,2]", system="sface", protocol="identification",
                          dataset={"root": str(need(LFW_SMALL)), "limit_subjects": 12},
                          identification={"nonmated_subjects": 4}, store_dir=str(tmp_path / "s"),
                          bootstrap={"n_resamples": 50})
    t = ev.identification_table()
    rows = {r["label"]: r for r in ev.result.identification.rows}
    assert list(t.index) == ["1", "2"] and set(t["gallery_size"]) == {8}
    assert t.loc["2", "rank1"] == rows["2"]["rank1"] and t.loc["2", "fpir@0.01"] == rows["2"]["at_fpir"][0.01]["fpir"]
    assert (t["mated_searches"] + t["nonmated_searches"] == 36).all()  # 12 subjects x 3 probes
    with pytest.raises(ValueError, match="protocol=identification"):
        fr_eval.evaluate(scenario="[1]", system="sface", dataset={"root": str(LFW_SMALL), "limit_subjects": 4},
                         store_dir=str(tmp_path / "s")).identification_table()
