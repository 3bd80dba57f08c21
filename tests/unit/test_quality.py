"""Quality estimators, FaceQnet's loading and preprocessing (with small stand-in models in the
authors' input/output signature), error-versus-discard curves, and quality through a run."""

import cv2
import numpy as np
import pytest

from fr_eval import metrics
from fr_eval.errors import ConfigError
from fr_eval.quality import build_estimators
from fr_eval.systems.base import Acquisition, Detection


def acq(landmarks, bbox=(0, 0, 10, 10), emb=(3.0, 4.0)):
    det = Detection(bbox=np.array(bbox, np.float32), score=0.9, landmarks=np.array(landmarks, np.float32))
    return Acquisition(embedding=np.array(emb, np.float32), detection=det)


def test_landmark_and_embedding_estimators_by_hand():
    est = {e.name: e for e in build_estimators(["embedding_norm", "inter_eye_distance", "roll", "yaw_proxy"])}
    # eyes 40 px apart along a line rising 30 degrees; the nose 10 px along the eye line from their midpoint
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    e0, e1 = np.array([100.0, 100.0]), np.array([100 + 40 * c, 100 + 40 * s])
    nose = (e0 + e1) / 2 + 10 * np.array([c, s]) + 15 * np.array([-s, c])
    a = acq([e0, e1, nose, [100, 140], [130, 140]])
    assert est["embedding_norm"].value(None, a, None) == pytest.approx(5.0)
    assert est["inter_eye_distance"].value(None, a, None) == pytest.approx(40.0, abs=1e-4)
    assert est["roll"].value(None, a, None) == pytest.approx(30.0, abs=1e-4)
    assert est["yaw_proxy"].value(None, a, None) == pytest.approx(0.5, abs=1e-4)  # 10 px / (40 / 2)
    # utility: lower roll is better; exposure is best at mid-grey
    assert list(est["roll"].utility([1.0, 5.0])) == [-1.0, -5.0]
    (exposure,) = build_estimators(["exposure"])
    assert list(exposure.utility([127.5, 27.5, 227.5])) == [0.0, -100.0, -100.0]
    with pytest.raises(ConfigError, match="quality=brisque is not known"):
        build_estimators(["brisque"])


def test_image_estimators_on_flat_and_textured_faces():
    est = {e.name: e for e in build_estimators(["sharpness", "exposure", "dynamic_range"])}
    lmk = [[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]]  # the template itself
    flat = np.full((112, 112, 3), 90, np.uint8)
    a = acq(lmk)
    assert est["sharpness"].value(flat, a, None) == pytest.approx(0.0, abs=1e-6)
    assert est["exposure"].value(flat, a, None) == pytest.approx(90.0, abs=0.01)
    assert est["dynamic_range"].value(flat, a, None) == pytest.approx(0.0)
    halves = flat.copy()
    halves[:, 56:] = 200  # two grey levels in equal parts of the central region: 1 bit
    assert est["dynamic_range"].value(halves, a, None) == pytest.approx(1.0, abs=0.02)
    noisy = np.random.default_rng(0).integers(0, 256, (112, 112, 3)).astype(np.uint8)
    assert est["sharpness"].value(noisy, a, None) > est["sharpness"].value(cv2.GaussianBlur(noisy, (0, 0), 2), a, None)


def test_edc_by_hand():
    # qualities 1..5; scores below the threshold 0.5 at qualities 1 and 2 (one of the two tied)
    d, f = metrics.error_versus_discard([0.1, 0.9, 0.2, 0.8, 0.95], [1, 5, 2, 2, 3], 0.5)
    assert d.tolist() == pytest.approx([0, 0.2, 0.6, 0.8]) and f.tolist() == pytest.approx([0.4, 0.25, 0, 0])
    assert metrics.edc_area(d, f, 0.5) == pytest.approx(0.4 * 0.2 + 0.25 * 0.3)
    assert metrics.edc_area(d, f, 0.1) == pytest.approx(0.4 * 0.1)
    # NaN quality is discarded first
    d2, f2 = metrics.error_versus_discard([0.1, 0.9], [np.nan, 0.0], 0.5)
    assert f2.tolist() == [0.5, 0.0]


def test_kept_after_discard_matches_the_curve():
    q = [1, 5, 2, 2, 3]
    assert metrics.kept_after_discard(q, 0.1).tolist() == [True] * 5
    assert metrics.kept_after_discard(q, 0.5).tolist() == [False, True, True, True, True]  # the tie at 2 stays whole
    assert metrics.kept_after_discard(q, 0.6).tolist() == [False, True, False, False, True]
    assert metrics.kept_after_discard([np.nan, 0.0], 0.5).tolist() == [False, True]
    rng = np.random.default_rng(3)
    s, pq = rng.normal(size=400), rng.integers(0, 40, 400).astype(float)
    d, f = metrics.error_versus_discard(s, pq, -0.5)
    for frac in (0.0, 0.05, 0.13, 0.2, 0.5, 0.9):
        kept = metrics.kept_after_discard(pq, frac)
        at = np.searchsorted(d, frac, side="right") - 1
        assert kept.sum() == round(400 * (1 - d[at])) and np.mean(s[kept] < -0.5) == pytest.approx(f[at])


def test_kept_fnmr_interval():
    from fr_eval.stages.quality import kept_fnmr_interval
    g = np.array([0.1, 0.9, 0.8, 0.2, 0.9, 0.95, 0.7, 0.3])
    subj = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    kept = g > 0.35  # no error left among the kept: the rule of 3 over the 4 subjects with a kept comparison
    assert kept_fnmr_interval(g, subj, kept, 0.5, {"n_resamples": 200}) == {"low": 0.0, "high": 0.75,
                                                                            "method": "rule_of_3"}
    iv = kept_fnmr_interval(g, subj, None, 0.5, {"n_resamples": 200})
    assert iv["method"] == "subject_bootstrap" and 0 <= iv["low"] < 3 / 8 < iv["high"] <= 1
    assert kept_fnmr_interval(g, None, None, 0.5, None)["method"] == "none"


def test_edc_area_interval():
    rng = np.random.default_rng(0)
    subj = np.repeat(np.arange(60), 20)
    q = rng.normal(size=subj.size)
    g = 0.5 + 0.3 * q + rng.normal(0, 0.3, subj.size)  # the quality predicts the score
    d, f = metrics.error_versus_discard(g, q, 0.2)
    area = metrics.edc_area(d, f, 0.2)
    # on counts per quality level, a subject counted twice is that subject's comparisons written twice
    _, level = np.unique(q, return_inverse=True)
    w = np.where(subj == 7, 2.0, 1.0)
    cnt, err = np.bincount(level, weights=w), np.bincount(level, weights=w * (g < 0.2))
    twice = np.r_[np.arange(g.size), np.flatnonzero(subj == 7)]
    d2, f2 = metrics.error_versus_discard(g[twice], q[twice], 0.2)
    assert metrics._edc_areas(err, cnt, 0.2) == pytest.approx([metrics.edc_area(d2, f2, 0.2), metrics.edc_area(d2, f2, 0.2) - f2[0] * 0.2])
    iv = metrics.edc_area_interval(g, q, 0.2, subj, 0.2, n_resamples=300)
    assert iv["area"].low < area < iv["area"].high and iv["area_minus_random"].high < 0  # better than chance
    q_blind = rng.normal(size=subj.size)  # a quality that knows nothing: near random discarding, far above
    d_b, f_b = metrics.error_versus_discard(g, q_blind, 0.2)
    blind = metrics.edc_area_interval(g, q_blind, 0.2, subj, 0.2, n_resamples=300)["area_minus_random"]
    assert blind.low < metrics.edc_area(d_b, f_b, 0.2) - f_b[0] * 0.2 < blind.high and abs(blind.low) < 0.005
    assert iv["area_minus_random"].high < blind.low
    assert metrics.edc_area_interval(g, q, -9.0, subj, 0.2)["area"].method == "none"  # no false non-match
