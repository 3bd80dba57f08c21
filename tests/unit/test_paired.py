"""Paired comparison of rows: the permutation test over subjects, paired bootstrap differences, the paper's
FRR, d' difference, by hand."""
import numpy as np
import pytest

from fr_eval import metrics
from fr_eval.paired import compare_rows, paired_d_prime_difference, paired_rate_difference


def test_permutation_test_by_hand():
    """Three subjects whose error counts differ between the rows: 2^3 = 8 swaps, the p-value counted by hand."""
    a = {"e": np.array([0, 1, 0, 5.0]), "t": np.array([4, 4, 4, 4.0])}
    b = {"e": np.array([2, 1, 1, 5.0]), "t": np.array([4, 4, 4, 4.0])}
    r = metrics.paired_permutation_test(a, b, lambda e, t: e / t)
    # subject 1 and 3 are equal in both rows: 2 informative subjects (0: +2 errors in b, 2: +1)
    assert r["n_informative"] == 2 and r["exact"] and r["n_permutations"] == 4
    assert r["observed"] == pytest.approx(3 / 16)
    # the swaps give b - a of +3, +1, -1, -3 errors (/16): two of four are at least as extreme as +3
    assert r["p_value"] == pytest.approx(2 / 4)
    same = metrics.paired_permutation_test(a, a, lambda e, t: e / t)
    assert same["p_value"] == 1.0 and same["n_informative"] == 0


def brute_force_permutation_p(ea, ta, eb, tb):
    """An independent implementation: every assignment of the subjects' two rows, one at a time."""
    import itertools
    obs = eb.sum() / tb.sum() - ea.sum() / ta.sum()
    count = total = 0
    for flips in itertools.product([False, True], repeat=len(ea)):
        f = np.array(flips)
        xa, xb = np.where(f, eb, ea), np.where(f, ea, eb)
        ya, yb = np.where(f, tb, ta), np.where(f, ta, tb)
        d = xb.sum() / yb.sum() - xa.sum() / ya.sum()
        count += abs(d) >= abs(obs) - 1e-12
        total += 1
    return count / total


def test_permutation_test_matches_a_brute_force_one_and_its_monte_carlo():
    rng = np.random.default_rng(3)
    n = 12
    ta = rng.integers(3, 9, n).astype(float)
    ea = rng.binomial(ta.astype(int), 0.1).astype(float)
    eb = np.minimum(ta, ea + rng.binomial(1, 0.5, n))
    r = metrics.paired_permutation_test({"e": ea, "t": ta}, {"e": eb, "t": ta}, lambda e, t: e / t)
    assert r["exact"] and r["p_value"] == pytest.approx(brute_force_permutation_p(ea, ta, eb, ta))
    mc = metrics.paired_permutation_test({"e": ea, "t": ta}, {"e": eb, "t": ta}, lambda e, t: e / t, exact_max=4,
                                   n_resamples=20000, seed=1)
    assert not mc["exact"] and abs(mc["p_value"] - r["p_value"]) < 0.02


def test_clustered_test_is_not_fooled_by_many_attempts_per_subject():
    """Two subjects carry every discordant attempt: McNemar on attempts would call p ~ 1e-12 (40 of 40
    discordant attempts one way); over subjects the smallest p possible is 2 / 4."""
    from scipy import stats
    a = {"e": np.r_[0.0, 0.0, np.zeros(8)], "t": np.full(10, 50.0)}
    b = {"e": np.r_[20.0, 20.0, np.zeros(8)], "t": np.full(10, 50.0)}
    assert stats.binomtest(40, 40, 0.5).pvalue < 1e-11
    r = metrics.paired_permutation_test(a, b, lambda e, t: e / t)
    assert r["n_informative"] == 2 and r["p_value"] == pytest.approx(0.5)


def test_paired_rate_difference():
    rng = np.random.default_rng(0)
    subject = np.repeat(np.arange(50), 4)
    a = rng.random(200) < 0.10
    b = a | (rng.random(200) < 0.08)  # b rejects what a rejects, and more
    d, iv = paired_rate_difference(a, b, subject, 50, n_resamples=400)
    assert d == pytest.approx(b.mean() - a.mean()) and d > 0
    assert iv.method == "paired_subject_bootstrap" and 0 < iv.low <= d <= iv.high
    d0, iv0 = paired_rate_difference(a, a, subject, 50)
    assert d0 == 0.0 and (iv0.low, iv0.high, iv0.method) == (0.0, 0.0, "no discordant attempts")


def test_d_prime_difference_is_the_difference_of_the_rows_d_prime():
    rng = np.random.default_rng(1)
    imp = rng.normal(0.05, 0.1, 20000)
    subject = np.repeat(np.arange(40), 5)
    ga, gb = rng.normal(0.6, 0.12, 200), rng.normal(0.5, 0.15, 200)
    m = (imp.mean(), imp.var())
    d, iv = paired_d_prime_difference(ga, gb, subject, subject, 40, m, m, n_resamples=300)
    assert d == pytest.approx(metrics.d_prime(gb, imp) - metrics.d_prime(ga, imp), rel=1e-9)
    assert iv.low < d < iv.high < 0


def test_compare_rows_counts_failed_attempts_as_rejections():
    thr = 0.5
    a = np.array([0.9, 0.8, 0.4, np.nan, 0.7, 0.6])
    b = np.array([0.9, 0.3, 0.4, 0.8, np.nan, 0.2])
    c = compare_rows("3", "4 [x]", a, b, np.array([0, 0, 1, 1, 2, 2]), 3, thr, (0.0, 0.01), (0.0, 0.01),
                     bootstrap={"n_resamples": 200})
    # FRR (transaction): a rejects attempts 2 (low) and 3 (failed); b rejects 1, 2, 4 (failed), 5
    assert c.frr_definition == "transaction" and (c.frr_a, c.frr_b) == (2 / 6, 4 / 6)
    assert c.frr_difference == pytest.approx(2 / 6) and (c.discordant["a_only"], c.discordant["b_only"]) == (1, 3)
    # FNMR over attempts compared in both rows: 0, 1, 2, 5
    assert c.n_compared_both == 4 and (c.fnmr_a, c.fnmr_b) == (1 / 4, 3 / 4)
    # 3 subjects < report.min_subjects: shown, flagged, no conclusion
    assert c.small_sample and c.sentence.startswith("scenario 4 [x] against scenario 3: n too small (3 subjects < "
                                                    "report.min_subjects=10), no conclusion")
    big = compare_rows("3", "4 [x]", a, b, np.array([0, 0, 1, 1, 2, 2]), 3, thr, (0.0, 0.01), (0.0, 0.01),
                       bootstrap={"n_resamples": 200}, min_subjects=3)
    assert not big.small_sample and big.sentence.startswith("no clear difference between scenario 4 [x] and scenario 3")


def test_compare_rows_paper_frr_folds_the_sample_fta():
    """With the rows' samples known, the FRR compared is Table 3's: FTA over samples + FNMR (1 - FTA)."""
    rng = np.random.default_rng(5)
    n_subj, per = 30, 6
    subject = np.repeat(np.arange(n_subj), per)
    ga = rng.normal(0.7, 0.15, subject.size)
    gb = ga - rng.normal(0.15, 0.05, subject.size)  # b is worse on every attempt
    gb[subject == 4] = np.nan  # subject 4's reference failed in b: all its attempts are lost
    samples_a = (np.zeros(n_subj), np.full(n_subj, per + 1.0))
    samples_b = (np.where(np.arange(n_subj) == 4, 1.0, 0.0), np.full(n_subj, per + 1.0))
    c = compare_rows("3", "4", ga, gb, subject, n_subj, 0.5, (0.0, 0.01), (0.0, 0.01), bootstrap={"n_resamples": 300},
                     samples_a=samples_a, samples_b=samples_b)
    fta_b = 1 / (n_subj * (per + 1))
    ok = np.isfinite(gb)
    fnmr_b = np.mean(gb[ok] < 0.5)
    assert c.frr_definition == "paper" and c.frr_b == pytest.approx(fta_b + fnmr_b * (1 - fta_b))
    assert c.frr_a == pytest.approx(np.mean(ga < 0.5))
    assert c.frr_transaction_b == pytest.approx(np.mean(~ok | (np.where(ok, gb, 0) < 0.5)))
    assert c.frr_interval["low"] > 0 and c.frr_test["p_value"] < 0.01 and c.n_subjects == n_subj
    assert c.sentence.startswith("scenario 4 rejects") and "FRR at the fixed threshold" in c.sentence


def test_compare_methods_pairs_by_identity():
    from scipy import stats

    from fr_eval.paired import compare_methods

    # method a: 3 images of each of identities 0..5; method b: 1 image of identities 2..7 (4 shared)
    ia = np.repeat(np.arange(6), 3)
    va = np.tile([True, True, False], 6)
    sa = np.where(va, 0.6, 0.1)
    ib = np.arange(2, 8)
    vb = np.array([True, False, False, True, True, True])
    sb = np.array([0.5, 0.2, 0.0, 0.7, 0.4, 0.3])
    small = compare_methods("a", "b", ia, va, sa, ib, vb, sb, bootstrap={"n_resamples": 300, "seed": 0})
    assert small.small_sample and small.sentence.startswith("method b against method a: n too small (4 identities < "
                                                            "report.min_subjects=10), no conclusion")
    c = compare_methods("a", "b", ia, va, sa, ib, vb, sb, bootstrap={"n_resamples": 300, "seed": 0}, min_identities=4)
    assert c.n_identities == 4 and (c.n_images_a, c.n_images_b) == (12, 4)  # identities 2..5 only
    assert c.verified_a == pytest.approx(8 / 12) and c.verified_b == pytest.approx(2 / 4)
    assert c.verified_difference == pytest.approx(2 / 4 - 8 / 12)
    assert c.verified_interval["low"] <= c.verified_difference <= c.verified_interval["high"]
    per_a = np.full(4, (0.6 + 0.6 + 0.1) / 3)  # each shared identity's mean similarity under a
    d = sb[:4] - per_a
    assert c.wilcoxon["p_value"] == pytest.approx(stats.wilcoxon(d).pvalue) and c.wilcoxon["n_nonzero"] == 4
    assert c.similarity_difference == pytest.approx(sb[:4].mean() - per_a.mean())
    # the interval holds 0: no direction is stated
    assert c.sentence.startswith("no clear difference between method b and method a (4 identities both generated "
                                 "(12 and 4 images), verified b - a = -16.7 points")
    none = compare_methods("a", "b", ia, va, sa, ib + 100, vb, sb, bootstrap={})
    assert none.n_identities == 0 and none.sentence == "method b and method a share no identity"


def test_holm_adjustment():
    holm = metrics.holm
    assert holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0] and holm([]).size == 0
    out = holm([0.01, np.nan, 0.04])  # a comparison without a test is not counted in the family
    assert out[0] == pytest.approx(0.02) and np.isnan(out[1]) and out[2] == pytest.approx(0.04)
