"""The audit's rank-1, rank-k and FNIR at an FPIR threshold come from the identification protocol's search
(:func:`fr_eval.identification.search_gallery`); here on hand-made embeddings whose ranks and thresholds are
worked out in the test, and against the float64 identity scores."""
from types import SimpleNamespace

import numpy as np
import pytest

from fr_eval.evaluation import SideData
from fr_eval.identity import enrolment_impostor_scores, identity_scores
from fr_eval.stages.audit_score import audit_searches


def unit(deg):
    a = np.radians(np.asarray(deg, float))
    return np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)


def plan(template="mean", rank_k=2, fpir=(0.25, 0.5)):
    return SimpleNamespace(template=template, rank_k=rank_k, fpir=fpir, min_false_alarms=1)


# identities 0, 1, 2 enrolled with two photos each, at 0/14, 92/112 and 200/240 degrees: mean templates at
# 7, 102 and 220 degrees; identity 3 has one photo that failed to acquire (not enrolled)
REF_DEG = [0, 14, 92, 112, 200, 240, 45]
REF_ID = np.array([0, 0, 1, 1, 2, 2, 3])
REF_OK = np.array([True] * 6 + [False])


def test_ranks_and_thresholds_worked_out():
    refs = SideData(ok=REF_OK, emb=np.where(REF_OK[:, None], unit(REF_DEG), 0).astype(np.float32))
    # generated: of 0 at 20 deg (13 from its template, 82 from 1's: rank 1); of 0 at 60 deg (53 from 0's,
    # 42 from 1's: rank 2); of 2 at 130 deg (90 from 2's, 28 from 1's: rank 2); of 1, failed; of 2 at 270 deg
    # (50 from 2's, 97 from 0's, 168 from 1's: rank 1)
    ok = np.array([True, True, True, False, True])
    gen = SideData(ok=ok, emb=np.where(ok[:, None], unit([20, 60, 130, 0, 270]), 0).astype(np.float32))
    gid = np.array([0, 0, 2, 1, 2])
    rank, score, info = audit_searches(plan(), gen, refs, REF_ID, gid, "cosine")
    assert rank.tolist() == [1, 2, 2, 0, 1]
    assert score[[0, 1, 2, 4]] == pytest.approx(np.cos(np.radians([13, 53, 90, 50])), abs=1e-6)
    assert np.isnan(score[3]) and info["gallery_size"] == 3 and info["rank_k"] == 2
    # non-mated searches: each acquired enrolment photo against the other identities' templates (its own left
    # out); the nearest other template is 102 deg away for the photo at 0 (vs 220: 140), 88 for 14, 85 for 92
    # (vs 7), 105 for 112 (vs 7; vs 220: 108), 98 for 200 (vs 102) and 127 for 240 (vs 7; vs 102: 138)
    top1 = np.cos(np.radians([102, 88, 85, 105, 98, 127]))
    assert info["nonmated_searches"] == 6
    # FPIR <= 25% of 6 searches allows 1 false alarm: T above the second-highest (88 deg), at most the highest
    # (85 deg), achieved 1/6; FPIR <= 50% allows 3: T above the fourth (102 deg), at most the third (98 deg)
    lo25, hi25 = np.cos(np.radians([88, 85]))
    lo50, hi50 = np.cos(np.radians([102, 98]))
    t25, t50 = info["thresholds"][0.25], info["thresholds"][0.5]
    assert lo25 < t25["threshold"] <= hi25 + 1e-6 and t25["fpir_achieved"] == pytest.approx(1 / 6)
    assert lo50 < t50["threshold"] <= hi50 + 1e-6 and t50["fpir_achieved"] == pytest.approx(3 / 6)
    assert (t25["allowed_false_alarms"], t50["allowed_false_alarms"]) == (1, 3)
    # the same non-mated scores as the verification impostors of the enrolment (each photo's best other)
    imp = enrolment_impostor_scores(refs.emb[REF_OK], REF_ID[REF_OK], 3, "mean").reshape(6, 2).max(axis=1)
    assert imp == pytest.approx(top1, abs=1e-6)


@pytest.mark.parametrize("template", ["mean", "best"])
def test_ranks_equal_the_float64_identity_scores(template):
    rng = np.random.default_rng(4)
    n_id, d = 12, 16
    centre = rng.normal(size=(n_id, d))
    ref_id = np.repeat(np.arange(n_id), 3)
    raw = centre[ref_id] + 0.8 * rng.normal(size=(ref_id.size, d))
    refs = SideData(ok=np.ones(ref_id.size, bool), emb=(raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float32))
    gid = rng.integers(0, n_id, 200)
    g = rng.uniform(0, 1.2, (200, 1)) * centre[gid] + rng.normal(size=(200, d))
    gen = SideData(ok=np.ones(200, bool), emb=(g / np.linalg.norm(g, axis=1, keepdims=True)).astype(np.float32))
    rank, score, info = audit_searches(plan(template, rank_k=5), gen, refs, ref_id, gid, "cosine")
    S = identity_scores(gen.emb, refs.emb, ref_id, n_id, template)
    own = S[np.arange(200), gid]
    expect = (S >= own[:, None]).sum(axis=1)  # 1 + the other identities at or above its own
    assert 0 < (rank == 1).mean() < 1 and (rank > 5).any()  # a mixture of hits and misses
    assert np.array_equal(rank, expect)
    assert score == pytest.approx(own, abs=1e-6)


def test_one_identity_has_no_threshold():
    refs = SideData(ok=np.ones(2, bool), emb=unit([0, 10]))
    gen = SideData(ok=np.ones(1, bool), emb=unit([5]))
    rank, _, info = audit_searches(plan(), gen, refs, np.array([0, 0]), np.array([0]), "cosine")
    assert rank.tolist() == [1] and info["thresholds"] == {} and "one identity" in info["why_no_thresholds"]
