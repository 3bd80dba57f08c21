"""Breakdowns and pairs accuracy on a case small enough to count by hand."""
import numpy as np
import pytest

from fr_eval.evaluation import SideData, breakdown, pairs_accuracy
from fr_eval.protocol import Comparisons


def side(vectors, ok):
    emb = np.array(vectors, dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return SideData(ok=np.array(ok), emb=emb * np.array(ok)[:, None])


def angle(deg):  # unit vectors at an angle: cosine similarity to [1, 0] is cos(deg)
    return [np.cos(np.radians(deg)), np.sin(np.radians(deg))]


def test_breakdown_by_a_field_counts_by_hand():
    ref = side([angle(0), angle(0), angle(0)], [True, True, True])  # subjects 0, 1, 2
    # probes: cosine to their reference 1.0, 0.5, 0.9, (failed), 0.2
    probe = side([angle(0), angle(60), angle(25.84), angle(0), angle(78.46)], [True, True, True, False, True])
    gen = np.array([[0, 0], [0, 1], [1, 2], [1, 3], [2, 4]])
    subj = np.array([0, 0, 1, 1, 2])
    values = np.array(["controlled", "uncontrolled", "controlled", "uncontrolled", "uncontrolled"], dtype=object)
    out = breakdown(values=values, ref=ref, probe=probe, genuine_pairs=gen, threshold=0.6,
                    probe_subject_idx=subj, n_subjects=3, bootstrap={"n_resamples": 200, "seed": 0})
    c, u = out
    assert (c["value"], c["n_attempts"], c["n_subjects"], c["n_compared"]) == ("controlled", 2, 2, 2)
    assert c["fnmr"] == 0 and c["frr_transaction"] == 0
    assert c["intervals"]["fnmr"] == {"low": 0.0, "high": 1.0, "method": "rule_of_3"}  # 3/2, capped at 1
    # uncontrolled: 3 attempts, one failed to acquire, two compared of which both (0.5, 0.2) < 0.6
    assert (u["n_attempts"], u["n_compared"], u["n_failed_to_acquire"], u["n_false_non_matches"]) == (3, 2, 1, 2)
    assert u["fta_transaction"] == pytest.approx(1 / 3) and u["fnmr"] == 1.0 and u["frr_transaction"] == 1.0
    assert u["intervals"]["fnmr"] == {"low": 0.0, "high": 1.0, "method": "rule_of_3"}  # all wrong, N = 2
    assert u["intervals"]["fta_transaction"]["method"] == "subject_bootstrap"
    # every attempt rejected: the rule of 3 for the complement (N = 3 attempts), not a bootstrap's [1, 1]
    assert u["intervals"]["frr_transaction"] == {"low": 0.0, "high": 1.0, "method": "rule_of_3"}
    nums = breakdown(values=np.array(["10", "2", "", "2", "10"], dtype=object), ref=ref, probe=probe,
                     genuine_pairs=gen, threshold=0.6, probe_subject_idx=subj, n_subjects=3, bootstrap={})
    assert [g["value"] for g in nums] == ["2", "10", "(none)"]  # numeric order, missing values last


def test_pairs_accuracy_by_hand():
    ref = side([angle(0)] * 4, [True] * 4)
    probe = side([angle(10), angle(80), angle(20), angle(85)], [True, True, False, True])
    # fold 0: matched (0,0) cos 0.98, mismatched (1,1) cos 0.17; fold 1: matched (2,2) failed, mismatched (3,3) 0.09
    comps = Comparisons(genuine=np.array([[0, 0], [2, 2]]), impostor=np.array([[1, 1], [3, 3]]),
                        impostor_rule="protocol pairs", impostor_total=2, seed=0,
                        genuine_folds=np.array([0, 1]), impostor_folds=np.array([0, 1]),
                        impostor_filled=np.array([False, True]))
    a = pairs_accuracy(ref, probe, comps)
    assert (a["n_pairs"], a["n_failed_pairs"], a["n_mismatched_filled"]) == (4, 1, 1)
    # fold 0 is tested with fold 1's threshold (midway... any t <= 0.09 is best there: the failed
    # matched pair is lost whatever t), fold 1 with fold 0's (between 0.17 and 0.98)
    t0, t1 = a["fold_threshold"]
    assert np.cos(np.radians(80)) < t1 < np.cos(np.radians(10))
    assert a["fold_accuracy"][1] == 0.5  # the failed matched pair is an error, the mismatched one is right
    assert a["fold_accuracy"][0] == (0.5 if t0 <= np.cos(np.radians(80)) else 1.0)
    none = pairs_accuracy(ref, probe, Comparisons(genuine=np.array([[0, 0]]), impostor=np.zeros((0, 2), int),
                                                  impostor_rule="protocol pairs", impostor_total=0, seed=0,
                                                  genuine_folds=np.array([0]), impostor_folds=np.zeros(0, int)))
    assert not none["available"] and "1 matched, 0 mismatched" in none["reason"]
