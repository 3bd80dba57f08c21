"""Paired comparison of rows: McNemar, paired bootstrap differences, d' difference, by hand."""
import numpy as np
import pytest

from fr_eval import metrics as M
from fr_eval.paired import compare_rows, mcnemar_exact, paired_d_prime_difference, paired_rate_difference


def test_mcnemar_by_hand():
    t = mcnemar_exact([1, 1, 0, 0, 1], [0, 1, 1, 1, 1])
    assert (t.a_only, t.b_only) == (1, 2) and t.p_value == pytest.approx(1.0)
    t = mcnemar_exact(np.zeros(12, bool), np.r_[np.ones(10, bool), False, False])
    assert (t.a_only, t.b_only) == (0, 10) and t.p_value == pytest.approx(2 * 0.5 ** 10)
    assert mcnemar_exact([0, 1], [0, 1]).p_value == 1.0
    with pytest.raises(ValueError, match="same attempts"):
        mcnemar_exact([0, 1], [0, 1, 1])


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
    assert d == pytest.approx(M.d_prime(gb, imp) - M.d_prime(ga, imp), rel=1e-9)
    assert iv.low < d < iv.high < 0


def test_compare_rows_counts_failed_attempts_as_rejections():
    thr = 0.5
    a = np.array([0.9, 0.8, 0.4, np.nan, 0.7, 0.6])
    b = np.array([0.9, 0.3, 0.4, 0.8, np.nan, 0.2])
    c = compare_rows("3", "4 [x]", a, b, np.array([0, 0, 1, 1, 2, 2]), 3, thr, (0.0, 0.01), (0.0, 0.01),
                     bootstrap={"n_resamples": 200})
    # FRR: a rejects attempts 2 (low) and 3 (failed); b rejects 1, 2, 4 (failed), 5
    assert (c.frr_a, c.frr_b) == (2 / 6, 4 / 6) and c.frr_difference == pytest.approx(2 / 6)
    assert (c.frr_mcnemar["a_only"], c.frr_mcnemar["b_only"]) == (1, 3)
    # FNMR over attempts compared in both rows: 0, 1, 2, 5
    assert c.n_compared_both == 4 and (c.fnmr_a, c.fnmr_b) == (1 / 4, 3 / 4)
    assert "scenario 4 [x] rejects 33.33 points more genuine attempts than scenario 3" in c.sentence
    assert "McNemar p = 0.62 (3 rejected by 4 [x] only, 1 by 3 only)" in c.sentence


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
    c = compare_methods("a", "b", ia, va, sa, ib, vb, sb, bootstrap={"n_resamples": 300, "seed": 0})
    assert c.n_identities == 4 and (c.n_images_a, c.n_images_b) == (12, 4)  # identities 2..5 only
    assert c.verified_a == pytest.approx(8 / 12) and c.verified_b == pytest.approx(2 / 4)
    assert c.verified_difference == pytest.approx(2 / 4 - 8 / 12)
    assert c.verified_interval["low"] <= c.verified_difference <= c.verified_interval["high"]
    per_a = np.full(4, (0.6 + 0.6 + 0.1) / 3)  # each shared identity's mean similarity under a
    d = sb[:4] - per_a
    assert c.wilcoxon["p_value"] == pytest.approx(stats.wilcoxon(d).pvalue) and c.wilcoxon["n_nonzero"] == 4
    assert c.similarity_difference == pytest.approx(sb[:4].mean() - per_a.mean())
    assert c.sentence.startswith("method b verifies 16.7 points fewer of its images than method a on the 4 "
                                 "identities both generated (12 and 4 images)")
    none = compare_methods("a", "b", ia, va, sa, ib + 100, vb, sb, bootstrap={})
    assert none.n_identities == 0 and none.sentence == "method b and method a share no identity"


def test_holm_adjustment():
    from fr_eval.auditing import holm

    assert holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0] and holm([]).size == 0
