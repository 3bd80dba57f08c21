import numpy as np
import pytest
from sklearn.metrics import det_curve, roc_curve

from fr_eval import metrics
from fr_eval.evaluation import SideData, evaluate_row


def test_threshold_hand_cases():
    imp = np.arange(1000) / 1000.0  # 0.000 ... 0.999
    # FMR 0.1% of 1000 allows one false match: the threshold is the top impostor score
    assert metrics.threshold_at_fmr(imp, 0.001) == pytest.approx(0.999)
    assert metrics.fmr_at(imp, 0.999) == pytest.approx(0.001)
    # FMR 1% allows 10: scores >= 0.990
    assert metrics.threshold_at_fmr(imp, 0.01) == pytest.approx(0.990)
    # fewer impostors than 1/FMR: nothing may match, the threshold goes just above the maximum
    t = metrics.threshold_at_fmr(imp[:500], 0.001)
    assert t > 0.499 and metrics.fmr_at(imp[:500], t) == 0.0
    # ties at the top cannot be split: with two equal maxima and one allowed, both are excluded
    tied = np.array([0.1, 0.2, 0.9, 0.9] + [0.0] * 996)
    t = metrics.threshold_at_fmr(tied, 0.001)
    assert t > 0.9 and metrics.fmr_at(tied, t) == 0.0
    with pytest.raises(ValueError):
        metrics.threshold_at_fmr([], 0.001)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("fmr", [0.1, 0.01, 0.001])
def test_threshold_is_conservative_and_lowest(seed, fmr):
    rng = np.random.default_rng(seed)
    imp = np.round(rng.normal(0, 1, 5000), 2)  # rounding creates ties
    t = metrics.threshold_at_fmr(imp, fmr)
    assert metrics.fmr_at(imp, t) <= fmr
    lower = imp[imp < t]
    if lower.size:  # the next lower observed score would exceed the target
        assert metrics.fmr_at(imp, lower.max()) > fmr


def test_rates_agree_with_sklearn():
    rng = np.random.default_rng(3)
    gen, imp = rng.normal(2, 1, 700), rng.normal(0, 1, 3000)
    y = np.r_[np.ones(gen.size), np.zeros(imp.size)]
    s = np.r_[gen, imp]
    fpr, tpr, thr = roc_curve(y, s)
    for f, t, th in list(zip(fpr, tpr, thr))[1:]:
        assert metrics.fmr_at(imp, th) == pytest.approx(f)
        assert metrics.fnmr_at(gen, th) == pytest.approx(1 - t)
    a, b, c = metrics.det_points(gen, imp)
    a2, b2, c2 = det_curve(y, s)
    np.testing.assert_allclose(a, a2)
    np.testing.assert_allclose(b, b2)
    np.testing.assert_allclose(c, c2)


def test_eer_hand_and_symmetric():
    # genuine 0.6..0.9, impostor 0.1..0.4 and one impostor at 0.7: perfectly crossing at 1 error
    gen = np.array([0.6, 0.65, 0.8, 0.9])
    imp = np.array([0.1, 0.2, 0.3, 0.7])
    e, _ = metrics.eer(gen, imp)
    assert e == pytest.approx(0.25)
    rng = np.random.default_rng(0)
    e, t = metrics.eer(rng.normal(1, 1, 200000), rng.normal(-1, 1, 200000))
    from scipy.stats import norm
    assert e == pytest.approx(norm.cdf(-1), abs=0.003)  # analytic EER of N(1,1) vs N(-1,1)
    assert t == pytest.approx(0.0, abs=0.02)


def test_d_prime_and_frr_far():
    assert metrics.d_prime([1, 3], [0, 2]) == pytest.approx(1 / 1.0)  # means 2 and 1, both sd 1
    assert metrics.d_prime([2, 2], [2, 2]) != metrics.d_prime([2, 2], [2, 2])  # NaN when nothing separates
    assert metrics.frr(0.1, 0.2) == pytest.approx(0.1 + 0.2 * 0.9)
    assert metrics.far(0.001, 0.1) == pytest.approx(0.0009)


def test_paper_arithmetic_frgc_scenario_1():
    # Table 3, FRGCv2 scenario 1: FTA 0.037%, FNMR 0.310% -> FRR 0.347%
    assert round(100 * metrics.frr(0.00037, 0.00310), 3) == 0.347


def _side(n, failed, dim=4, seed=0):
    rng = np.random.default_rng(seed)
    ok = np.ones(n, bool)
    ok[failed] = False
    emb = rng.normal(size=(n, dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    emb[~ok] = 0
    return SideData(ok=ok, emb=emb)


def test_paper_arithmetic_feret_scenario_3_fta():
    # Table 3, FERET scenario 3: 17 failed of 529 references + 791 probes = 1.288 %
    ref = _side(529, [0, 5, 9])
    probe = _side(791, list(range(100, 114)))
    gen = np.array([[i % 529, i] for i in range(791)])
    row, _ = evaluate_row(ref=ref, probe=probe, genuine_pairs=gen, impostor_scores=np.linspace(-1, 0.3, 1000),
                          thresholds={0.001: 0.3}, fmr_target=0.001, ref_subject_idx=np.arange(529),
                          probe_subject_idx=np.arange(791) % 529, n_subjects=529, bootstrap={"n_resamples": 50})
    assert row["n_samples"] == 1320 and row["n_failed"] == 17
    assert round(100 * row["fta"], 3) == 1.288
    # transaction-level FTA: genuine pairs touching a failed reference or probe
    failed_tx = sum(1 for r, p in gen if r in (0, 5, 9) or 100 <= p < 114)
    assert row["fta_transaction"] == pytest.approx(failed_tx / 791)
    assert row["n_genuine_compared"] == 791 - failed_tx


def test_intervals():
    iv = metrics.rate_interval(np.zeros(10), np.full(10, 30))
    # the rule of 3's N is the 10 subjects (the independent units), not their 300 trials
    assert iv.method == "rule_of_3" and iv.low == 0 and iv.high == pytest.approx(3 / 10)
    errors = np.array([0, 1, 0, 3, 0, 0, 2, 0, 0, 1], float)
    trials = np.full(10, 20.0)
    iv = metrics.rate_interval(errors, trials, n_resamples=500, seed=1)
    assert iv.method == "subject_bootstrap"
    assert iv.low <= errors.sum() / trials.sum() <= iv.high
    assert iv == metrics.rate_interval(errors, trials, n_resamples=500, seed=1)  # seeded
    # FRR interval with no error at all: rule of 3 over the 5 subjects with genuine attempts (not the 15 attempts)
    iv = metrics.frr_interval(np.zeros(5), np.full(5, 4), np.zeros(5), np.full(5, 3), np.full(5, 3))
    assert iv.method == "rule_of_3" and iv.high == pytest.approx(3 / 5)


def test_rule_of_three_is_a_rate():
    assert metrics.rule_of_three(300) == pytest.approx(0.01)
    assert metrics.rule_of_three(2) == 1.0 and metrics.rule_of_three(3) == 1.0
    assert np.isnan(metrics.rule_of_three(0))


def test_rate_interval_when_every_trial_fails():
    iv = metrics.rate_interval(np.array([3.0, 2.0, 1.0, 1.0, 1.0, 2.0]), np.array([3.0, 2.0, 1.0, 1.0, 1.0, 2.0]))
    assert (iv.low, iv.high, iv.method) == (pytest.approx(1 - 3 / 6), 1.0, "rule_of_3")  # over 6 subjects
    # a subject with no trial is not a unit of the rule
    iv = metrics.rate_interval(np.array([0.0, 0.0, 0.0]), np.array([5.0, 0.0, 5.0]))
    assert (iv.low, iv.high) == (0.0, 1.0)  # 2 units: 3/2, capped at 1


def test_subjects_without_attempts_are_not_units_of_the_bootstrap():
    """A subject with no attempt of a figure (held out of a gallery, reference-only) is left out before
    resampling: appending such subjects leaves the interval as it is; resampling them would not."""
    from fr_eval import metrics
    rng = np.random.default_rng(3)
    trials = rng.integers(1, 9, 40).astype(float)
    errors = np.minimum(trials, rng.integers(0, 3, 40)).astype(float)
    base = metrics.rate_interval(errors, trials, n_resamples=400)
    padded = metrics.rate_interval(np.r_[errors, np.zeros(40)], np.r_[trials, np.zeros(40)], n_resamples=400)
    assert (padded.low, padded.high) == (base.low, base.high)
    stat = lambda e, t: e.sum(-1) / np.maximum(t.sum(-1), 1)  # noqa: E731
    lo, hi = metrics.subject_bootstrap({"e": np.r_[errors, np.zeros(40)], "t": np.r_[trials, np.zeros(40)]}, stat,
                                 n_resamples=400)
    assert (lo, hi) == (base.low, base.high)
