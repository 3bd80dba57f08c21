"""Differentials in the audit (issue 39): the audit's figures per group of identities (skin tone of their
reference photos, a manifest column) equal an audit of that group's identities alone at the same threshold; the
differences between groups with their tests; every identity either in a group or counted as set aside."""

import numpy as np
import pytest

from fr_eval.differentials import group_differences


def test_group_differences_by_hand():
    # four identities a group; group 1 verifies every image, group 0 half of them
    hits, trials = np.array([1, 1, 1, 1, 2, 2, 2, 2.]), np.full(8, 2.)
    group = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    (d,) = group_differences(hits, trials, group, ["a", "b"], bootstrap={"n_resamples": 200, "seed": 0},
                             n_permutations=2000)
    assert (d["value_i"], d["value_j"], d["difference"]) == (0.5, 1.0, 0.5)
    # every identity of a group alike: no spread within groups, and only one labelling of 70 is as extreme (x2)
    assert d["interval"]["low"] == d["interval"]["high"] == 0.5
    assert d["p_value"] == pytest.approx(2 / 70, abs=0.01) and d["p_holm"] == d["p_value"]
    # a group of one identity is never compared
    assert group_differences(hits, trials, np.array([0, 1, 1, 1, 1, 1, 1, 1]), ["a", "b"]) == []
