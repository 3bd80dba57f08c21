"""How many identities a claimed difference between two methods needs (issue 39): the smallest resolvable
difference from the identity-bootstrap spread, checked by hand and against a simulation with a known effect."""
import math

import numpy as np
import pytest
from scipy import stats

from fr_eval.paired import compare_methods, power_sentence, resolvable_difference


def test_resolvable_difference_by_hand():
    p = resolvable_difference(0.03, 20, 0.03)
    z80, z95 = 1.959964 + 0.841621, 1.959964 + 1.644854
    assert p["mde"] == pytest.approx([z80 * 0.03, z95 * 0.03], rel=1e-5)
    # se shrinks as 1/sqrt(n): the observed 3 points need 20 (z se / 0.03)^2 identities
    assert p["units_needed"] == [math.ceil(20 * z80 ** 2), math.ceil(20 * z95 ** 2)] == [157, 260]
    text = power_sentence(p)
    assert text.startswith("with 20 identities, differences under 8.4 points in verified rate cannot be told apart")
    assert "10.8 points at 95% power" in text and "would need about 157 at 80% power, 260 at 95% power" in text
    # an observed difference above the bar: said so; no difference at all: no finite number; no spread: no figure
    assert "above that bar" in power_sentence(resolvable_difference(0.03, 20, 0.12))
    assert resolvable_difference(0.03, 20, 0.0)["units_needed"] == [None, None]
    assert "no number of identities" in power_sentence(resolvable_difference(0.03, 20, 0.0))
    flat = resolvable_difference(0.0, 20, 0.0)
    assert math.isnan(flat["mde"][0]) and "has no spread from which to say" in power_sentence(flat)


def _simulate(rng, n_ids, delta, per_image=4):
    """Two methods on the same identities: each identity has its own ease (a Beta draw shared by both methods,
    so the identity is the unit), method b verifies with that probability plus ``delta``."""
    ease = rng.beta(6, 4, n_ids)  # mean 0.6, spread across identities
    ids = np.repeat(np.arange(n_ids), per_image)
    va = rng.random(ids.size) < ease[ids]
    vb = rng.random(ids.size) < np.clip(ease[ids] + delta, 0, 1)
    sa = np.where(va, 0.6, 0.2)
    sb = np.where(vb, 0.6, 0.2)
    return compare_methods("a", "b", ids, va, sa, ids, vb, sb, bootstrap={"n_resamples": 300, "seed": 0},
                           min_identities=2)


def test_power_against_simulation():
    """The resolvable difference at 80% power, worked out from pilot samples, is detected (the identity-bootstrap
    interval excludes 0) in about 80% of simulated studies with that true effect; a zero effect in about 5%."""
    rng = np.random.default_rng(7)
    n = 40
    pilot = [_simulate(rng, n, 0.0) for _ in range(30)]
    mde80 = float(np.mean([c.power["mde"][0] for c in pilot]))
    assert 0.05 < mde80 < 0.3  # a plausible resolution for 40 identities of 4 images

    def detected(c):
        iv = c.verified_interval
        return iv["low"] > 0 or iv["high"] < 0

    sims = 200
    hit = np.mean([detected(_simulate(rng, n, mde80)) for _ in range(sims)])
    null = np.mean([detected(_simulate(rng, n, 0.0)) for _ in range(sims)])
    # binomial spread of 200 studies: about +-0.028 at 0.8; the bootstrap's own noise adds a little
    assert abs(hit - 0.80) < 0.09, hit
    assert null < 0.11, null
    # the identities needed: at a third of the resolvable effect, about 9 times as many identities
    third = _simulate(np.random.default_rng(1), n, mde80 / 3)
    expected = n * (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2 * (third.power["se"] / third.power["observed"]) ** 2
    assert third.power["units_needed"][0] == math.ceil(expected)
    assert third.power_sentence.startswith(f"with {n} identities, differences under")
