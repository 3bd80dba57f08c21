"""Several judges of the same generated images: rankings' Kendall tau, per-method rates and spread,
per-image agreement, conditioning flags (fr_eval.judges), and the audit with system=[sface,dlib]."""
import json

import numpy as np
import pytest
from scipy import stats

from fr_eval import judges as J
from generated_faces import build_manifest


def test_ranking_and_image_agreement_by_hand():
    k = J.ranking_agreement({"a": ["m1", "m2", "m3", "m4"], "b": ["m2", "m1", "m3", "m4"], "c": ["m4", "m9"]})
    assert [(x["a"], x["b"], x["n_methods"]) for x in k] == [("a", "b", 4), ("a", "c", 1), ("b", "c", 1)]
    assert k[0]["tau"] == pytest.approx(stats.kendalltau([0, 1, 2, 3], [1, 0, 2, 3]).statistic) == pytest.approx(4 / 6)
    assert np.isnan(k[1]["tau"])  # one shared method: no tau
    im = J.image_agreement({"a": {"x": True, "y": False, "z": True}, "b": {"x": True, "y": True, "z": True, "w": False}})
    assert im["n_images"] == 3 and im["all_agree"] == pytest.approx(2 / 3) and im["pairs"][0]["agree"] == pytest.approx(2 / 3)


def test_method_table_flags_a_judge_of_the_methods_own_family():
    rates = {"arcface": {"instantid": 0.9, "photomaker": 0.5, "tiny": 1.0},
             "dlib": {"instantid": 0.3, "photomaker": 0.4, "tiny": 1.0}}
    rows = {r["method"]: r for r in J.method_table(rates, {"instantid": "arcface", "photomaker": "clip"},
                                                   {"arcface": "arcface", "dlib": "dlib"}, {"instantid", "photomaker"})}
    assert rows["instantid"]["judged_by_own_family"] == ["arcface"] and rows["photomaker"]["judged_by_own_family"] == []
    assert rows["instantid"]["mean_all"] == pytest.approx(0.6) and rows["instantid"]["mean_outside_family"] == 0.3
    assert rows["instantid"]["spread"] == pytest.approx(0.6)
    assert (rows["instantid"]["rank_all"], rows["photomaker"]["rank_all"]) == (1, 2)  # 0.6 against 0.45
    assert (rows["instantid"]["rank_outside_family"], rows["photomaker"]["rank_outside_family"]) == (2, 1)
    assert rows["tiny"]["rank_all"] is None  # not rankable: too few images
    assert J.PUBLISHED["uniportrait"] == "curricularface" and J.PUBLISHED["photomaker"] == "clip"


def test_audit_with_two_judges(lfw_small, tmp_path):
    pytest.importorskip("dlib", reason="dlib is not installed (pip install -e '.[dlib]')")
    from fr_eval.cli import main

    manifest, _ = build_manifest(lfw_small, tmp_path)
    out = tmp_path / "r"
    assert main(["scenario=generated", f"generated.manifest={manifest}", "system=[sface,dlib]", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=50",
                 "generated.min_per_method=2", "report.min_subjects=2", "generated.conditioning={photo: sface}"]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    subs = {n: json.loads((out / n / "metrics.json").read_text()) for n in ("sface", "dlib")}
    j = doc["judges"]
    rows = {r["method"]: r for r in j["methods"]}
    for n, sub in subs.items():
        for g in sub["groups"]["method"]:
            assert rows[g["value"]]["verified"][n] == pytest.approx(g["verified_rate_of_all"])
    assert rows["photo"]["judged_by_own_family"] == ["sface"]
    assert rows["photo"]["mean_outside_family"] == pytest.approx(rows["photo"]["verified"]["dlib"])
    assert rows["wrong"]["verified"] == {"sface": 0.0, "dlib": 0.0}  # somebody else's photos, for both judges
    assert rows["blank"]["rank_all"] is None  # one image: below generated.min_per_method
    assert [(k["a"], k["b"]) for k in j["kendall"]] == [("sface", "dlib")] and k_ok(j["kendall"][0])
    # chance-corrected agreement and the verdict, on the page
    assert j["kappa"]["n_images"] == j["images"]["n_images"] and j["verdict"].startswith("The judges ")
    assert [c["a"] + c["b"] for c in j["kappa"]["cohen"]] == ["sfacedlib"]
    import html as _html
    html = _html.unescape((out / "report.html").read_text())
    assert j["verdict"].split(":")[0] in html and "kappa.csv" in html
    assert "dlib's own rule is 0.6" in html
    # per image: the judges' own generated_images.csv, compared here
    import csv
    ver = {}
    for n in subs:
        with open(out / n / "generated_images.csv") as f:
            ver[n] = {r["path"]: r["verified"] == "True" for r in csv.DictReader(f)
                      if r["status"] in ("acquired", "failed")}
    common = set(ver["sface"]) & set(ver["dlib"])
    assert j["images"]["n_images"] == len(common)
    assert j["images"]["all_agree"] == pytest.approx(np.mean([ver["sface"][p] == ver["dlib"][p] for p in common]))
    assert "\u2021" in (out / "judges.md").read_text() and (out / "sface" / "report.html").is_file()
    # the curated samples (the photo rows) are marked where the judges rank them, the random ones are not
    lines = {x.split(" | ")[0].strip("| "): x for x in (out / "judges.md").read_text().splitlines() if x.startswith("| ")}
    assert "\u00a7" in lines["photo"] and "\u00a7" not in lines["wrong"]
    with open(out / "dlib" / "generated_images.csv") as f:
        wrong = [1.0 if r["fmr_equivalent"] == "" else float(r["fmr_equivalent"]) for r in csv.DictReader(f)
                 if r["method"] == "wrong" and r["status"] in ("acquired", "failed")]
    assert j["fmr_equivalent"]["dlib"]["wrong"] == pytest.approx(np.median(wrong))
    assert np.median(wrong) > 0.001  # somebody else's photo: not accepted at FMR 0.1%
    with open(out / "sface" / "generated_images.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["fmr_equivalent"] != ""]
    # an image is verified exactly when its score is accepted at an FMR within the target (0.1%)
    assert rows and all((float(r["fmr_equivalent"]) <= 0.001) == (r["verified"] == "True") for r in rows)


def k_ok(k):
    return k["n_methods"] == 3 and -1.0 <= k["tau"] <= 1.0


def test_kappas_by_hand_and_against_sklearn():
    from sklearn.metrics import cohen_kappa_score

    from fr_eval.judges import kappa_agreement, verdict

    rng = np.random.default_rng(4)
    n = 200
    truth = rng.random(n) < 0.5
    a = truth ^ (rng.random(n) < 0.1)
    b = truth ^ (rng.random(n) < 0.2)
    c = truth ^ (rng.random(n) < 0.3)
    images = [f"im{i}" for i in range(n)]
    identity = {im: f"id{i % 25}" for i, im in enumerate(images)}
    verified = {j: dict(zip(images, v.tolist())) for j, v in (("a", a), ("b", b), ("c", c))}
    k = kappa_agreement(verified, identity, bootstrap={"n_resamples": 300})
    assert k["n_images"] == n and k["n_identities"] == 25
    ab = next(x for x in k["cohen"] if (x["a"], x["b"]) == ("a", "b"))
    assert ab["kappa"] == pytest.approx(cohen_kappa_score(a, b)) and ab["low"] < ab["kappa"] < ab["high"]
    # Fleiss by its textbook formula, item by item
    votes = np.stack([a, b, c]).sum(0)
    counts = np.stack([votes, 3 - votes], 1)
    p_i = (np.square(counts).sum(1) - 3) / (3 * 2)
    p_j = counts.sum(0) / (3 * n)
    expect = (p_i.mean() - np.square(p_j).sum()) / (1 - np.square(p_j).sum())
    assert k["fleiss"]["kappa"] == pytest.approx(expect) and k["fleiss"]["words"] == "fair"  # 0.37
    line = verdict(k, [{"method": "x", "spread": 0.55, "rank_all": 1}, {"method": "y", "spread": 0.1, "rank_all": 2},
                       {"method": "tiny", "spread": 1.0, "rank_all": None}])  # one image: its split is chance
    word = "disagree" if k["fleiss"]["high"] < 0.4 else "agree only in part"
    assert line.startswith(f"The judges {word}: Fleiss' kappa 0.37 [") and "split most on x (55 points), y (10" in line
    assert "tiny" not in line
    same = kappa_agreement({"a": verified["a"], "b": verified["a"]}, identity, bootstrap={"n_resamples": 100})
    assert same["fleiss"]["kappa"] == pytest.approx(1.0)
    assert verdict(same, []).startswith("The judges agree: Fleiss' kappa 1.00")


def test_a_warning_about_the_data_is_said_once_for_every_judge(caplog):
    """runner.per_system lets each warning text through each handler once."""
    import logging

    from fr_eval.runner import per_system

    handler = logging.StreamHandler()
    records = []
    handler.emit = records.append
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        def run_one(cfg, progress):
            logging.getLogger("fr_eval.auditing").warning("generated.by: category not among the manifest's columns")
            logging.getLogger("fr_eval.auditing").info("system-specific line")

            class R:
                context = {"engine": {}}
            return R()

        from fr_eval.settings import Config, DlibSettings, SFaceSettings
        per_system(Config(systems=[SFaceSettings(), DlibSettings()]), run_one, False)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    texts = [r.getMessage() for r in records]
    assert texts.count("generated.by: category not among the manifest's columns") == 1
    assert texts.count("system-specific line") == 2
