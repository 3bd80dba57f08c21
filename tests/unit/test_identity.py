"""The audit's figures on cases small enough to compute by hand."""
import numpy as np
import pytest

from fr_eval.identity import audit_figures, enrolment_impostor_scores, identity_scores


def unit(deg):
    return [np.cos(np.radians(deg)), np.sin(np.radians(deg))]


def test_templates_mean_and_best():
    # identity 0: references at 0 and 60 degrees (mean template at 30); identity 1: one at 90
    refs = np.array([unit(0), unit(60), unit(90)])
    rid = np.array([0, 0, 1])
    probe = np.array([unit(30), unit(80)])
    mean = identity_scores(probe, refs, rid, 3, "mean")
    assert mean[0, 0] == pytest.approx(1.0) and mean[1, 0] == pytest.approx(np.cos(np.radians(50)))
    assert mean[0, 1] == pytest.approx(np.cos(np.radians(60))) and np.isnan(mean[:, 2]).all()  # 2: no reference
    best = identity_scores(probe, refs, rid, 3, "best")
    assert best[0, 0] == pytest.approx(np.cos(np.radians(30))) and best[1, 0] == pytest.approx(np.cos(np.radians(20)))
    # impostors: each photo against the other identity only: photos of 0 vs template 1, photo of 1 vs template 0
    imp = enrolment_impostor_scores(refs, rid, 2, "mean")
    assert sorted(imp) == pytest.approx(sorted([np.cos(np.radians(90)), np.cos(np.radians(30)),
                                                np.cos(np.radians(60))]))
    with pytest.raises(ValueError, match="template=median"):
        identity_scores(probe, refs, rid, 2, "median")


def test_audit_figures_by_hand():
    # five generated images of identities a, a, b, b, c: similarities 0.8, 0.3, 0.6, (failed), 0.5;
    # threshold 0.5; the best other identity scores 0.2, 0.55, 0.1, -, 0.4
    acquired = np.array([True, True, True, False, True])
    own = np.array([0.8, 0.3, 0.6, np.nan, 0.5])
    other = np.array([0.2, 0.55, 0.1, -np.inf, 0.4])
    rank1 = own > np.nan_to_num(other, nan=-1)  # [T, F, T, F, T]
    ident = np.array(["a", "a", "b", "b", "c"])
    csim = np.array([0.9, np.nan, 0.7, np.nan, np.nan])
    f = audit_figures(acquired=acquired, own=own, other_max=other, rank1_correct=rank1, identity=ident,
                      threshold=0.5, csim=csim, bootstrap={"n_resamples": 200})
    assert (f["n"], f["n_acquired"], f["n_failed"], f["n_identities"]) == (5, 4, 1, 3)
    assert f["fta"] == pytest.approx(0.2)
    ex, zero = f["similarity_failures_excluded"], f["similarity_failures_as_zero"]
    assert ex["mean"] == pytest.approx(2.2 / 4) and ex["median"] == pytest.approx(0.55) and ex["n"] == 4
    assert zero["mean"] == pytest.approx(2.2 / 5) and zero["median"] == pytest.approx(0.5) and zero["min"] == 0.0
    # accepted: 0.8, 0.6, 0.5 (>= 0.5) -> 3 of 4 acquired, 3 of 5 in all; FRR = 0.2 + 0.25 * 0.8 = 0.4
    assert f["verified_rate"] == pytest.approx(0.75) and f["verified_rate_of_all"] == pytest.approx(0.6)
    assert f["frr"] == pytest.approx(0.4) == pytest.approx(f["fta"] + (1 - f["verified_rate"]) * (1 - f["fta"]))
    assert f["n_impersonating"] == 1 and f["impersonation_rate"] == pytest.approx(0.25)  # the 0.55
    assert f["rank1_accuracy"] == pytest.approx(0.75) and f["rank1_accuracy_of_all"] == pytest.approx(0.6)
    assert f["csim"]["n"] == 2 and f["csim"]["mean"] == pytest.approx(0.8)
    iv = f["similarity_failures_excluded"]["interval"]
    assert iv["method"] == "identity_bootstrap" and iv["low"] <= ex["mean"] <= iv["high"]
    lo, hi = f["intervals"]["verified_rate_of_all"]["low"], f["intervals"]["verified_rate_of_all"]["high"]
    assert lo <= 0.6 <= hi and f["intervals"]["frr"]["low"] == pytest.approx(1 - hi)
    # no impersonation at all: rule of 3 over the 3 identities with an acquired image (not its 4 images), capped at 1
    g = audit_figures(acquired=acquired, own=own, other_max=np.full(5, -1.0), rank1_correct=rank1,
                      identity=ident, threshold=0.5)
    assert g["intervals"]["impersonation_rate"] == {"low": 0.0, "high": 1.0, "method": "rule_of_3"}


def test_audit_search_figures_by_hand():
    # the five images above with their identity's rank in the 1:N search and its score there: ranks 1, 3, 1,
    # (failed), 2; rank-2 accuracy: 1, 1, 2 of the 4 acquired -> 3/4; FNIR(1, T=0.55): hits are rank 1 with a
    # score >= 0.55 (0.8 and 0.6) -> 3 misses of 5 (the failure is a miss); at T=0.9 every image misses
    acquired = np.array([True, True, True, False, True])
    own = np.array([0.8, 0.3, 0.6, np.nan, 0.5])
    rank = np.array([1, 3, 1, 0, 2])
    f = audit_figures(acquired=acquired, own=own, other_max=np.full(5, 0.1), rank1_correct=rank == 1,
                      identity=np.array(["a", "a", "b", "b", "c"]), threshold=0.5, mate_rank=rank, mate_score=own,
                      rank_k=2, fpir_thresholds={0.01: {"threshold": 0.55, "supported": True},
                                                 0.001: {"threshold": 0.9, "supported": False}})
    assert f["rank_k"] == 2 and f["rank_k_accuracy"] == pytest.approx(0.75)
    assert f["fnir_at_fpir"][0.01]["fnir"] == pytest.approx(0.6) and f["fnir_at_fpir"][0.01]["supported"]
    assert f["fnir_at_fpir"][0.001]["fnir"] == 1.0 and not f["fnir_at_fpir"][0.001]["supported"]
    iv = f["fnir_at_fpir"][0.01]["interval"]
    assert iv["low"] <= 0.6 <= iv["high"] and f["rank_k_interval"]["low"] <= 0.75 <= f["rank_k_interval"]["high"]
    # every image of identity b and c missed at 0.9: a rate of 1 has the rule of 3 on the hits' side only
    assert f["fnir_at_fpir"][0.001]["interval"]["high"] == 1.0
