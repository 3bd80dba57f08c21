"""Differential figures on hand-made counts: per-group rates, NIST's ratios, GARBE and FDR worked out by hand,
and the colourisation effect per group with its difference between groups."""
import numpy as np
import pytest

from fr_eval import differentials


def counts(**kw):
    n = len(next(iter(kw.values())))
    base = {k: np.zeros(n) for k in differentials.COUNTS}
    base.update({k: np.asarray(v, float) for k, v in kw.items()})
    return base


def test_gini_garbe_fdr_by_hand():
    assert differentials.gini([0.1, 0.1]) == 0.0 and differentials.gini([0.0, 0.0]) == 0.0  # all zero: equal
    # two groups, rates 0 and 0.2: sum |xi - xj| = 0.4, mean 0.1: 2/1 * 0.4 / (2 * 4 * 0.1) = 1
    assert differentials.gini([0.0, 0.2]) == pytest.approx(1.0)
    # three groups 0.1, 0.2, 0.3: sum |xi - xj| = 2 (0.1 + 0.2 + 0.1) = 0.8, mean 0.2: 3/2 * 0.8 / (2 * 9 * 0.2) = 1/3
    assert differentials.gini([0.1, 0.2, 0.3]) == pytest.approx(1 / 3)
    assert differentials.garbe([0.0, 0.2], [0.1, 0.1], alpha=0.5) == pytest.approx(0.5)
    assert differentials.garbe([0.1, 0.2, 0.3], [0.0, 0.2], alpha=0.25) == pytest.approx(0.25 / 3 + 0.75)
    assert differentials.fdr([0.001, 0.003], [0.02, 0.05], alpha=0.5) == pytest.approx(1 - (0.5 * 0.002 + 0.5 * 0.03))
    assert differentials.fdr([0.001, 0.001], [0.02, 0.02]) == 1.0


def test_ratios_by_hand():
    r = differentials.ratios([0.01, 0.02, 0.04])
    assert r["over_lowest"].tolist() == pytest.approx([1, 2, 4]) and r["geometric_mean"] == pytest.approx(0.02)
    assert r["over_geometric_mean"].tolist() == pytest.approx([0.5, 1, 2]) and r["undefined"] == ""
    z = differentials.ratios([0.0, 0.02])
    assert np.isnan(z["over_lowest"]).all() and "unbounded" in z["undefined"]


def test_group_figures_from_subject_counts():
    # four subjects, groups a a b b: samples 10 each, failed 1, 0, 2, 0; genuine compared 9, 10, 8, 10 with
    # 1, 1, 0, 0 false non-matches; impostors 100 each with 1, 0, 0, 0 false matches
    c = counts(failed=[1, 0, 2, 0], samples=[10, 10, 10, 10], fnm=[1, 1, 0, 0], compared=[9, 10, 8, 10],
               attempts=[10, 10, 10, 10], fm=[1, 0, 0, 0], impostor=[100, 100, 100, 100])
    a, b = differentials.group_figures(c, np.array([0, 0, 1, 1]), ["a", "b"], bootstrap={"n_resamples": 200})
    assert (a["fta"], a["fnmr"], a["fmr"]) == pytest.approx((1 / 20, 2 / 19, 1 / 200))
    assert a["frr"] == pytest.approx(1 / 20 + 2 / 19 * (1 - 1 / 20))
    assert (b["fta"], b["fnmr"], b["fmr"]) == pytest.approx((2 / 20, 0.0, 0.0))
    # rule of 3 over group b's 2 subjects (not its 200 impostor comparisons): 3/2, capped at 1
    assert b["intervals"]["fmr"] == {"low": 0.0, "high": 1.0, "method": "rule_of_3"}
    assert b["intervals"]["fnmr"]["method"] == "rule_of_3" and a["n_subjects"] == 2 and a["n_compared"] == 19
    s = differentials.summary_indices(c, np.array([0, 0, 1, 1]), ["a", "b"], bootstrap={"n_resamples": 200})
    assert s["fdr"] == pytest.approx(1 - 0.5 * (1 / 200) - 0.5 * (2 / 19))
    assert s["garbe"] == pytest.approx(0.5 * 1.0 + 0.5 * 1.0)  # one group at 0 on both rates: Gini 1
    assert s["intervals"]["fdr"]["low"] <= s["fdr"] <= s["intervals"]["fdr"]["high"] + 1e-12


def test_colourisation_helps_one_group_only():
    rng = np.random.default_rng(0)
    n = 30  # subjects per group; each has 20 genuine attempts
    group = np.repeat([0, 1], n)
    compared = np.full(2 * n, 20.0)
    # row a (greyscale probes): every subject misses about 5 of 20; row b (colourised): group 0 recovers to
    # about 1 of 20, group 1 stays at 5
    fnm_a = rng.binomial(20, 0.25, 2 * n).astype(float)
    fnm_b = np.where(group == 0, rng.binomial(20, 0.05, 2 * n), rng.binomial(20, 0.25, 2 * n)).astype(float)
    a = counts(fnm=fnm_a, compared=compared, samples=compared, attempts=compared)
    b = counts(fnm=fnm_b, compared=compared, samples=compared, attempts=compared)
    e = differentials.effect_by_group(a, b, group, ["g0", "g1"], "fnmr", bootstrap={"n_resamples": 500}, n_permutations=2000)
    g0, g1 = e["groups"]
    assert g0["difference"] == pytest.approx(fnm_b[:n].sum() / 600 - fnm_a[:n].sum() / 600)
    assert g0["difference"] < -0.1 and g0["interval"]["high"] < 0 and g0["p_value"] < 0.01
    assert g0["p_holm"] == pytest.approx(min(1.0, 2 * g0["p_value"]))  # the smaller of two p-values, times 2
    assert abs(g1["difference"]) < 0.06 and g1["interval"]["low"] < 0 < g1["interval"]["high"] + 0.02
    (pair,) = e["pairs"]
    assert pair["difference_of_differences"] == pytest.approx(g1["difference"] - g0["difference"])
    assert pair["difference_of_differences"] > 0.1 and pair["p_value"] < 0.01 and pair["interval"]["low"] > 0
    assert pair["p_holm"] == pair["p_value"]  # a family of one
    # no effect anywhere: the difference of differences is not significant
    same = differentials.effect_by_group(a, a, group, ["g0", "g1"], "fnmr", bootstrap={"n_resamples": 200}, n_permutations=500)
    assert same["pairs"][0]["difference_of_differences"] == 0.0 and same["pairs"][0]["p_value"] == 1.0


def test_indices_leave_out_a_group_without_impostors():
    # three groups; group c has one subject: no impostor comparison within it, so FMR is undefined there and
    # GARBE/FDR are taken over a and b alone (as a run on a and b's subjects would give them)
    c = counts(fnm=[1, 0, 2, 0, 5], compared=[10] * 5, samples=[10] * 5, attempts=[10] * 5,
               fm=[1, 0, 0, 0, 0], impostor=[50, 50, 50, 50, 0])
    group = np.array([0, 0, 1, 1, 2])
    s = differentials.summary_indices(c, group, ["a", "b", "c"], bootstrap={"n_resamples": 100})
    two = differentials.summary_indices({k: v[:4] for k, v in c.items()}, group[:4], ["a", "b"], bootstrap={"n_resamples": 100})
    assert s["groups"] == ["a", "b"] and s["groups_left_out"] == ["c"]
    assert s["garbe"] == two["garbe"] and s["fdr"] == two["fdr"] == pytest.approx(1 - 0.5 * 0.01 - 0.5 * 0.05)


def test_indices_need_two_groups():
    # one group; no subject in any group; two groups of one subject each (no within-group impostor: no FMR)
    c = counts(fnm=[1, 0], compared=[10, 10], samples=[10, 10], attempts=[10, 10], fm=[0, 0], impostor=[10, 10])
    c0 = {**c, "impostor": np.zeros(2)}
    for cc, group, names in ((c, np.array([0, 0]), ["a"]), (c, np.array([-1, -1]), ["a", "b"]),
                             (c0, np.array([0, 1]), ["a", "b"])):
        s = differentials.summary_indices(cc, group, names, bootstrap={"n_resamples": 50})
        assert np.isnan(s["garbe"]) and np.isnan(s["fdr"]) and "need two" in s["note"]


def test_fmr_between_groups_by_hand():
    """FMR between (reference group x probe group), each cell's interval over its probe subjects (rule of 3 over
    them at zero false matches), from per-subject acquisition counts and from listed impostor pairs alike."""
    from fr_eval.stages.differentials import RowCounts
    code = np.array([0, 0, 1, 1])
    refs, probes = np.array([1.0, 1.0, 2.0, 1.0]), np.array([2.0, 1.0, 1.0, 1.0])
    fm = np.array([[0, 2, 1]])  # a reference of subject 0 falsely matched a probe of subject 2
    base = {k: np.zeros(4) for k in ("failed", "samples", "fnm", "compared", "attempts")}
    b = RowCounts(base, refs, probes, fm).between(code, 2, {"n_resamples": 200})
    # a probe is compared with every reference of the other subjects: group 0's 2 references, group 1's 3
    assert b["comparisons"] == [[2 * 1 + 1 * 1, 1 * 2 + 1 * 2], [2 * 3 + 1 * 3, 1 * 1 + 1 * 2]]
    assert b["false_matches"] == [[0, 1], [0, 0]] and b["fmr"][0][1] == 0.25 and b["subjects"] == [2, 2]
    # no false match: [0, 3 / 2 probe subjects] capped at 1, not 3 / 9 comparisons
    assert (b["low"][1][0], b["high"][1][0]) == (0.0, 1.0)
    assert 0.0 <= b["low"][0][1] <= 0.25 <= b["high"][0][1] <= 1.0
    # the same impostors listed pair by pair (reference subject, probe subject; one row per comparison)
    listed = np.array([(r, p) for p in range(4) for r in range(4) if r != p
                       for _ in range(int(probes[p] * refs[r]))])
    lb = RowCounts(base, np.zeros(4), np.zeros(4), fm, listed=listed).between(code, 2, {"n_resamples": 200})
    assert lb["comparisons"] == b["comparisons"] and lb["fmr"] == b["fmr"] and lb["high"] == b["high"]
