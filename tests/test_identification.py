"""Identification (1:N): the streamed search and the figures, on a gallery worked out by hand, against the
full score matrix (to the bit), against pyeer's CMC, and against bob.measure's cmc, recognition_rate,
detection_identification_rate and false_alarm_rate on random and on tied scores."""
import json
import re
import os
import subprocess

import numpy as np
import pytest

from fr_eval import identification as I

from test_scores import XCHECK

# Five enrolled people A-E; the gallery is the identity matrix, so each search's scores are its own row
# as written here (a dot product with a one-hot vector is exact in float32)
GALLERY = ["A", "B", "C", "D", "E"]
ROWS = {  # search: (subject, scores against A..E, acquired)
    "s1": ("A", [0.9, 0.1, 0.2, 0.0, 0.3], True),   # mate first: rank 1
    "s2": ("B", [0.6, 0.5, 0.7, 0.1, 0.0], True),   # two non-mates above: rank 3
    "s3": ("C", [0.4, 0.4, 0.4, 0.1, 0.2], True),   # tied with two non-mates: rank 3 (ties count against)
    "s4": ("D", [0.0, 0.0, 0.0, 0.0, 0.0], False),  # failed to acquire: a miss at every rank
    "s5": ("X", [0.2, 0.8, 0.1, 0.0, 0.1], True),   # not enrolled: top score 0.8
    "s6": ("Y", [0.3, 0.1, 0.35, 0.2, 0.0], True),  # not enrolled: top score 0.35
    "s7": ("Z", [0.0, 0.0, 0.0, 0.0, 0.0], False),  # not enrolled, failed: no candidate
}


def five_people(k=5, budget=1 << 20):
    subj = [v[0] for v in ROWS.values()]
    x = np.array([v[1] for v in ROWS.values()], np.float32)
    ok = np.array([v[2] for v in ROWS.values()])
    return I.search_gallery(x, subj, np.eye(5, dtype=np.float32), GALLERY, k=k, search_ok=ok, budget_bytes=budget)


@pytest.mark.parametrize("budget", [1, 1 << 20])  # one search per block, and all in one
def test_five_people_worked_by_hand(budget):
    r = five_people(budget=budget)
    assert r.mated.tolist() == [True, True, True, True, False, False, False]
    assert r.mate_rank.tolist() == [1, 3, 3, 0, 0, 0, 0]
    assert np.allclose(r.mate_score[:3], [0.9, 0.5, 0.4]) and np.isnan(r.mate_score[3:]).all()
    assert r.top_entry[2].tolist() == [0, 1, 2, 4, 3]  # the three tied at 0.4 in gallery order, then 0.2, 0.1
    assert r.top_entry[3].tolist() == [-1] * 5 and np.isneginf(r.top_score[3]).all()
    rank, score = r.mated_searches()
    assert I.cmc(rank, 5).tolist() == [0.25, 0.25, 0.75, 0.75, 0.75]  # s4 (failed) never found
    top1 = r.nonmated_top1()
    assert np.allclose(top1[:2], [0.8, 0.35]) and np.isneginf(top1[2])
    assert I.fpir(top1, 0.5) == pytest.approx(1 / 3) and I.fpir(top1, 0.3) == pytest.approx(2 / 3)
    assert I.fpir(top1, 0.9) == 0.0  # the failed search never alarms, but counts
    assert I.fnir(rank, score, 1, 0.5) == 0.75  # only s1
    assert I.fnir(rank, score, 3, 0.45) == 0.5  # s1 and s2 (0.5 at rank 3); s3 below T; s4 failed
    assert I.fnir(rank, score, 3, -np.inf) == 0.25  # investigation mode: 1 - the rate at rank 3
    # the conservative rule: 1 false alarm allowed among 3 non-mated searches at FPIR 1/3, none at 0.2
    assert I.threshold_at_fpir(top1, 1 / 3) == float(np.float32(0.8))
    t = I.threshold_at_fpir(top1, 0.2)
    assert t > float(np.float32(0.8)) and I.fpir(top1, t) == 0.0
    thr, fp, fn = I.tradeoff(rank, score, top1, rank=1)
    at = {round(float(a), 4): (b, c) for a, b, c in zip(thr, fp, fn)}
    assert at[0.8] == (pytest.approx(1 / 3), 0.75) and at[0.9] == (0.0, 0.75) and at[0.35] == (pytest.approx(2 / 3), 0.75)


def test_several_entries_of_a_subject_are_one_candidate_scored_by_its_best():
    # gallery entries: A twice (scores 0.2 and 0.7 for the search), B once (0.5), C once (0.6)
    g = np.eye(4, dtype=np.float32)
    x = np.array([[0.2, 0.5, 0.7, 0.6], [0.9, 0.1, 0.0, 0.3]], np.float32)
    r = I.search_gallery(x, ["B", "Q"], g, ["A", "B", "A", "C"], k=3)
    assert r.gallery_size == 3 and r.subjects.tolist() == ["A", "B", "C"]
    assert r.mate_rank.tolist() == [3, 0]  # B's 0.5 below A (0.7) and C (0.6)
    assert r.top_entry[0].tolist() == [0, 2, 1] and np.allclose(r.top_score[0], [0.7, 0.6, 0.5])
    assert np.allclose(r.top_score[1], [0.9, 0.3, 0.1])  # A by its first entry (0.9)


def test_the_split_is_seeded_and_checked():
    from fr_eval.errors import ConfigError
    from fr_eval.settings import IdentificationSettings
    from fr_eval.stages.plan import split_subjects
    subjects = [f"p{i}" for i in range(10)]
    a = split_subjects(subjects, IdentificationSettings(nonmated_subjects=0.3), seed=4)
    assert a.enrolled.sum() == 7 and set(a.order) == set(np.flatnonzero(a.enrolled))
    assert a.enrolled.tolist() == split_subjects(subjects, IdentificationSettings(nonmated_subjects=3), 4).enrolled.tolist()
    assert a.enrolled.tolist() != split_subjects(subjects, IdentificationSettings(nonmated_subjects=0.3), 5).enrolled.tolist()
    with pytest.raises(ConfigError, match="at least one enrolled and one held-out"):
        split_subjects(subjects, IdentificationSettings(nonmated_subjects=10), 0)
    with pytest.raises(ConfigError, match="gallery_sizes: 8 is more than the 7 subjects enrolled"):
        split_subjects(subjects, IdentificationSettings(nonmated_subjects=3, gallery_sizes=[8]), 0)


def test_non_finite_embeddings_are_refused():
    with pytest.raises(ValueError, match="non-finite"):
        I.search_gallery(np.array([[np.inf, 0.0]]), ["A"], np.eye(2), ["A", "B"])


def full_matrix(x, subj, g, gsubj, k):
    """The reference: every score held at once, ranks and top candidates read from it."""
    s = I.score_matrix(x, g)
    assert np.allclose(s, np.asarray(x, np.float64) @ np.asarray(g, np.float64).T, atol=1e-6)
    col = I.gallery_columns(subj, gsubj)[2]
    rank = np.zeros(len(x), np.int64)
    mate = np.full(len(x), np.nan, np.float32)
    for i, c in enumerate(col):
        if c >= 0:
            mate[i] = s[i, c]
            rank[i] = 1 + int(np.sum(np.delete(s[i], c) >= s[i, c]))
    order = np.array([sorted(range(len(g)), key=lambda j: (-s[i, j], j))[:k] for i in range(len(x))])
    return s, mate, rank, order


@pytest.mark.parametrize("budget", [1, 300_000, 1 << 30])  # 64 searches a block, 128, all in one
def test_streamed_search_equals_the_full_matrix_to_the_bit(budget):
    rng = np.random.default_rng(3)
    g = rng.normal(size=(150, 64)).astype(np.float32)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    gsubj = [f"p{i}" for i in range(150)]
    subj = [f"p{i}" for i in rng.integers(0, 220, 400)]  # about a third not enrolled
    x = (g[np.minimum(np.array([int(s[1:]) for s in subj]), 149)] + rng.normal(0, 0.9, (400, 64))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    r = I.search_gallery(x, subj, g, gsubj, k=20, budget_bytes=budget)
    s, mate, rank, order = full_matrix(x, subj, g, gsubj, 20)
    assert np.array_equal(r.mate_rank, rank) and np.array_equal(r.mate_score, mate, equal_nan=True)
    assert np.array_equal(r.top_entry, order)
    assert np.array_equal(r.top_score, np.take_along_axis(s, order, axis=1))  # float32, bit for bit
    assert r.mated.sum() > 100 and (~r.mated).sum() > 100 and (rank > 1).sum() > 10


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
    r = I.search_gallery(x, [f"s{v}" for v in subj], np.eye(n_gallery, dtype=np.float32),
                         [f"s{i}" for i in range(n_gallery)], k=10)
    rank, score = r.mated_searches()
    top1 = r.nonmated_top1()
    t001 = I.threshold_at_fpir(top1, 0.001)
    thresholds = sorted({t001, I.threshold_at_fpir(top1, 0.01), 0.3, 0.5})
    col = [int(v) if v < n_gallery else -1 for v in subj]
    (tmp_path / "s.json").write_text(json.dumps({"scores": x.astype(np.float64).tolist(), "col": col,
                                                 "max_rank": 10, "thresholds": thresholds}))
    out = subprocess.run([str(XCHECK), "-c", XSCRIPT, str(tmp_path / "s.json")], capture_output=True, text=True,
                         timeout=300, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert out.returncode == 0, out.stderr[-2000:]
    ref = json.loads(out.stdout.strip().splitlines()[-1])
    assert I.cmc(rank, 10).tolist() == ref["cmc"] == ref["rr"]  # every rank, exactly
    # pyeer resolves ties by list order (the mate first here): equal without ties, never below ours with them
    ours = I.cmc(rank, 10)
    if ties:
        assert (ours <= np.array(ref["pyeer"]) + 1e-12).all() and (ours < np.array(ref["pyeer"]) - 1e-3).any()
    else:
        assert ours == pytest.approx(ref["pyeer"], abs=1e-12)
    for t in thresholds:
        assert I.fpir(top1, t) == ref["far"][str(t)]
        for R in (1, 5):
            assert 1.0 - I.fnir(rank, score, R, t) == pytest.approx(ref["dir"][f"{t}|{R}"], abs=1e-15)
    below = top1[top1 < t001].max()  # the next observed score down gives one alarm too many
    assert I.fpir(top1, t001) <= 0.001 < I.fpir(top1, below)


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
        s = I.score_matrix(xn, np.array(g, np.float32)).astype(np.float64)
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
            thresholds = {t: I.threshold_at_fpir(tops, float(t)) for t in m["thresholds"]}
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


@pytest.mark.parametrize("key, value, says", [
    ("identification.nonmated_subjects", 1.5, "give a fraction between 0 and 1 (0.5: half) or a whole count"),
    ("identification.fpir", [0.001, 2], "identification.fpir[1]=2 is not valid"),
    ("identification.gallery_template", "median", "identification.gallery_template=median is not valid"),
    ("protocol", "search", "protocol=search is not valid"),
    ("scores", "x.bob4", "protocol=identification searches a gallery of embeddings"),
])
def test_identification_keys_are_checked_at_parse_time(key, value, says):
    from fr_eval.errors import ConfigError
    from fr_eval.settings import defaults, validate
    cfg = defaults()
    node, leaf = (cfg["identification"], key.split(".")[1]) if "." in key else (cfg, key)
    node[leaf] = value
    if key == "scores":
        cfg["protocol"] = "identification"
    with pytest.raises(ConfigError, match=re.escape(says)):
        validate(cfg)


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
