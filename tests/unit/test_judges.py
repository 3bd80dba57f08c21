"""Several judges of the same generated images: rankings' Kendall tau, per-method rates and spread,
per-image agreement, conditioning flags (fr_eval.judges), and the audit with system=[sface,dlib]."""

import numpy as np
import pytest
from scipy import stats

from fr_eval import judges


def test_ranking_and_image_agreement_by_hand():
    k = judges.ranking_agreement({"a": ["m1", "m2", "m3", "m4"], "b": ["m2", "m1", "m3", "m4"], "c": ["m4", "m9"]})
    assert [(x["a"], x["b"], x["n_methods"]) for x in k] == [("a", "b", 4), ("a", "c", 1), ("b", "c", 1)]
    assert k[0]["tau"] == pytest.approx(stats.kendalltau([0, 1, 2, 3], [1, 0, 2, 3]).statistic) == pytest.approx(4 / 6)
    assert np.isnan(k[1]["tau"])  # one shared method: no tau
    im = judges.image_agreement({"a": {"x": True, "y": False, "z": True}, "b": {"x": True, "y": True, "z": True, "w": False}})
    assert im["n_images"] == 3 and im["all_agree"] == pytest.approx(2 / 3) and im["pairs"][0]["agree"] == pytest.approx(2 / 3)


def test_method_table_flags_a_judge_of_the_methods_own_family():
    rates = {"arcface": {"instantid": 0.9, "photomaker": 0.5, "tiny": 1.0},
             "dlib": {"instantid": 0.3, "photomaker": 0.4, "tiny": 1.0}}
    rows = {r["method"]: r for r in judges.method_table(rates, {"instantid": "arcface", "photomaker": "clip"},
                                                   {"arcface": "arcface", "dlib": "dlib"}, {"instantid", "photomaker"})}
    assert rows["instantid"]["judged_by_own_family"] == ["arcface"] and rows["photomaker"]["judged_by_own_family"] == []
    assert rows["instantid"]["mean_all"] == pytest.approx(0.6) and rows["instantid"]["mean_outside_family"] == 0.3
    assert rows["instantid"]["spread"] == pytest.approx(0.6)
    assert (rows["instantid"]["rank_all"], rows["photomaker"]["rank_all"]) == (1, 2)  # 0.6 against 0.45
    assert (rows["instantid"]["rank_outside_family"], rows["photomaker"]["rank_outside_family"]) == (2, 1)
    assert rows["tiny"]["rank_all"] is None  # not rankable: too few images
    assert judges.PUBLISHED["uniportrait"] == "curricularface" and judges.PUBLISHED["photomaker"] == "clip"


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
