"""Skin tone that holds on photos taken anywhere (issue 38): synthetic skin of known L* and h* on a neutral scene
read within 2 units when the photo is fit, and each way of spoiling it (a cast, desaturation, over- and
under-exposure, too few skin pixels) rejected with its own reason; a subject's reading with its bootstrap interval
over its photos and its group kept only when the resampled medians agree; an end of the scale that is thin said
in words; GARBE's interval not degenerate when only one group has errors; the contact sheet's choice of
subjects."""

import numpy as np

from fr_eval import colour
from unit.test_skin_tone import spoil


def test_a_real_subjects_reading_barely_moves_when_one_photo_is_spoilt(lfw_small):
    """A real subject's photos (lfw_small: 4 of one person, faces found by SFace's detector), then one of them
    replaced by itself desaturated, warm-shifted or over-exposed: the spoilt photo is rejected, or the subject's
    median moves less than its interval is wide."""
    from fr_eval.images import load_image
    from fr_eval.stages.differentials import _median_bootstrap
    from fr_eval.systems import build_system
    system, _ = build_system({"name": "sface"})
    person = sorted(p for p in lfw_small.iterdir() if p.is_dir())[3]
    photos = [load_image(p) for p in sorted(person.glob("*.jpg"))]
    marks = [a.detection.landmarks for a in system.acquire(photos)]
    readings = [colour.skin_reading(p, m) for p, m in zip(photos, marks)]
    fit = np.array([r["ita"] for r in readings if r["fit"]])
    assert fit.size >= 2
    iv = _median_bootstrap(fit, {"n_resamples": 500, "confidence": 0.95, "seed": 0}).confidence_interval
    width = max(iv.high - iv.low, 1.0)
    k = next(i for i, r in enumerate(readings) if r["fit"])
    for how in ("desaturated", "colour cast", "over-exposed"):
        spoilt = colour.skin_reading(spoil(photos[k], how), marks[k])
        if spoilt["fit"]:
            moved = np.median(np.r_[np.delete(fit, 0), spoilt["ita"]]) - np.median(fit)
            assert abs(moved) < width, (how, spoilt)
        else:
            assert spoilt["reason"], how
