"""Skin tone that holds on photos taken anywhere (issue 38): synthetic skin of known L* and h* on a neutral scene
read within 2 units when the photo is fit, and each way of spoiling it (a cast, desaturation, over- and
under-exposure, too few skin pixels) rejected with its own reason; a subject's reading with its bootstrap interval
over its photos and its group kept only when the resampled medians agree; an end of the scale that is thin said
in words; GARBE's interval not degenerate when only one group has errors; the contact sheet's choice of
subjects."""
from types import SimpleNamespace

import numpy as np
import pytest
from skimage.color import lab2rgb

from fr_eval import colour
from fr_eval import differentials
from fr_eval.systems.align import ARCFACE_TEMPLATE


SCALE, SIZE = 2.0, 224


def scene(L, hue, chroma, background=(70.0, 0.0, 0.0)):
    """A 224 x 224 photo: a neutral background (L* 70; a white patch for exposure) and a face whose cheeks and
    forehead are skin of the given L*, hue angle (degrees) and chroma, aligned as the ArcFace template x 2."""
    def rgb(lab):
        return (np.clip(lab2rgb(np.array([[lab]], float)), 0, 1) * 255).round().astype(np.uint8)[0, 0]
    img = np.empty((SIZE, SIZE, 3), np.uint8)
    img[:] = rgb(background)
    img[:12, :12] = 255  # something white in the scene, as a real photo has
    skin = rgb((L, chroma * np.cos(np.radians(hue)), chroma * np.sin(np.radians(hue))))
    for x0, y0, x1, y1 in colour.REGIONS.values():
        img[int(SCALE * y0):int(SCALE * y1), int(SCALE * x0):int(SCALE * x1)] = skin
    return img


LANDMARKS = ARCFACE_TEMPLATE * SCALE


@pytest.mark.parametrize("L,hue,chroma", [(70, 55, 20), (45, 60, 22), (30, 50, 18), (62, 40, 26)])
def test_a_fit_photo_reads_its_lightness_and_hue_within_two_units(L, hue, chroma):
    r = colour.skin_reading(scene(L, hue, chroma), LANDMARKS)
    assert r["fit"] and r["reason"] == "" and r["kind"] == ""
    assert r["L"] == pytest.approx(L, abs=2) and r["hue"] == pytest.approx(hue, abs=2)
    assert r["chroma"] == pytest.approx(chroma, abs=2)
    assert r["ita"] == pytest.approx(np.degrees(np.arctan((L - 50) / (chroma * np.sin(np.radians(hue))))), abs=2)


def spoil(img, how):
    x = img.astype(float)
    if how == "colour cast":  # warm light over the whole scene
        x = x * np.array([1.0, 0.8, 0.5]) + np.array([30, 8, 0])
    elif how == "desaturated":  # 85% of the way to grey
        x = 0.15 * x + 0.85 * x.mean(axis=-1, keepdims=True)
    elif how == "over-exposed":
        x = x * 1.6
    elif how == "under-exposed":
        x = x * 0.35
    return np.clip(x, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("how,kinds", [("colour cast", {"colour cast", "skin hue outside skin"}),
                                       ("desaturated", {"desaturated skin"}),
                                       ("over-exposed", {"highlights clipped"}),
                                       ("under-exposed", {"under-exposed"})])
def test_a_spoilt_photo_is_rejected_with_its_reason(how, kinds):
    r = colour.skin_reading(spoil(scene(62, 55, 20), how), LANDMARKS)
    assert not r["fit"] and r["kind"] in kinds and r["reason"]


def test_a_grey_photo_and_a_face_without_skin_pixels_are_rejected():
    grey = np.full((SIZE, SIZE, 3), 128, np.uint8)
    assert colour.skin_reading(grey, LANDMARKS)["kind"] == "greyscale"
    blue = scene(50, 250, 30)  # a 'skin' of hue 250°: outside the skin range of a* > 0, b* > 0
    r = colour.skin_reading(blue, LANDMARKS)
    assert r["kind"] == "too few skin pixels" and r["pixels"] < colour.MIN_PIXELS and np.isnan(r["L"])


# -- a subject's reading and group -------------------------------------------------------------------------------------
def skin_of(per_subject_ita: dict, n_resamples=400):
    """A Skin measured on synthetic readings: each subject's photos with the given ITA (and L* = 50 + ITA/2)."""
    from fr_eval.stages.differentials import Skin, _median_bootstrap
    kw = {"n_resamples": n_resamples, "confidence": 0.95, "seed": 0}
    per, res = {}, {}
    for s, v in per_subject_ita.items():
        v = np.asarray(v, float)
        per[s] = {"n_photos": v.size, "n_fit": v.size, "ita": float(np.median(v)), "L": float(np.median(50 + v / 2)),
                  "status": "measured", "group": "", "reason": ""}
        res[s] = {"ita": _median_bootstrap(v, kw).bootstrap_distribution,
                  "L": _median_bootstrap(50 + v / 2, kw).bootstrap_distribution}
    return Skin([], per, res, {}, "none")


def settings(**kw):
    base = {"ita_groups": "chardon", "skin_scale": "ita", "min_group_confidence": 0.6, "contact_sheet": 6}
    return SimpleNamespace(**{**base, **kw})


def test_a_subject_whose_photos_straddle_a_bin_edge_is_set_aside_and_counted_in_its_bin():
    from fr_eval.stages.differentials import skin_groups
    rng = np.random.default_rng(1)
    spread = np.abs(rng.normal(0, 12, 20))
    skin = skin_of({"steady": rng.normal(35, 3, 40),          # well inside intermediate (28-41)
                    "edge": np.concatenate([28 + spread, 28 - spread]),  # its median on the intermediate/tan edge
                    "dark": rng.normal(-40, 4, 30)})          # dark (<= -30)
    values, names, source = skin_groups(["steady", "edge", "dark", "absent"], skin, settings())
    assert names[0] == "very light" and names[-1] == "dark" and "Chardon" in source
    assert values[0] == "intermediate" and values[2] == "dark" and values[1] == "" and values[3] == ""
    edge = skin.per_subject["edge"]
    assert edge["status"] == "uncertain" and 0 < edge["confidence"] < 0.6 and edge["bin"] in ("intermediate", "tan")
    assert skin.per_subject["steady"]["confidence"] == 1.0
    counts = {b["bin"]: (b["measured"], b["uncertain"]) for b in skin.bins}
    assert counts["dark"] == (1, 0) and counts[edge["bin"]][1] == 1 and sum(m for m, _ in counts.values()) == 2


def test_lightness_quantile_groups_and_the_one_line_error_with_chardon():
    from fr_eval.errors import ConfigError
    from fr_eval.stages.differentials import skin_groups
    rng = np.random.default_rng(2)
    skin = skin_of({f"s{k}": rng.normal(-40 + 10 * k, 2, 30) for k in range(9)})
    values, names, _ = skin_groups([f"s{k}" for k in range(9)], skin, settings(ita_groups=3, skin_scale="lightness"))
    assert len(names) == 3 and names[0].startswith("Q3 L*") and names[-1].startswith("Q1 L*")
    assert values[0] == names[-1] and values[8] == names[0]  # the darkest in Q1, listed last
    with pytest.raises(ConfigError, match="skin_scale=lightness groups subjects by quantiles of L"):
        skin_groups(["s0"], skin, settings(skin_scale="lightness"))


def test_an_empty_end_of_the_scale_is_said_in_words():
    from fr_eval.report.differentials import skin_ends
    bins = [{"bin": "very light", "range": "ITA > 55°", "measured": 0, "uncertain": 0},
            {"bin": "light", "range": "ITA 41° to 55°", "measured": 12, "uncertain": 2},
            {"bin": "brown", "range": "ITA -30° to 10°", "measured": 3, "uncertain": 2},
            {"bin": "dark", "range": "ITA <= -30°", "measured": 0, "uncertain": 0}]
    said = skin_ends(SimpleNamespace(skin={"bins": bins}), 10)
    assert said[0] == ("No conclusion about darker skin: dark (ITA <= -30°): 0 measured, 0 set aside; brown (ITA -30° "
                       "to 10°): 3 measured, 2 set aside (fewer than report.min_subjects=10 subjects measured in each "
                       "bin at the darker end of the scale).")
    assert said[1].startswith("No conclusion about lighter skin: very light (ITA > 55°): 0 measured, 0 set aside (")
    bins[0]["measured"] = bins[-1]["measured"] = bins[-2]["measured"] = 10
    assert skin_ends(SimpleNamespace(skin={"bins": bins}), 10) == []


def test_the_contact_sheet_shows_typical_extreme_and_uncertain_subjects():
    from fr_eval.stages.differentials import sheet_subjects, skin_groups
    rng = np.random.default_rng(3)
    skin = skin_of({"a": rng.normal(36, 1, 20), "b": rng.normal(34, 1, 20), "c": rng.normal(38, 1, 20),
                    "d": rng.normal(48, 1, 20), "e": np.concatenate([28 + np.arange(1, 11), 28 - np.arange(1, 11)]),
                    "f": rng.normal(-35, 1, 20)})
    skin_groups(list("abcdef"), skin, settings())
    chosen = dict(sheet_subjects(skin, "ita"))
    assert chosen["a"] == "typical of intermediate"  # a, b, c in intermediate: a's median is their median's
    assert chosen["d"] == "typical of light" and chosen["f"] == "typical of dark"  # one-subject groups
    assert chosen["e"] == "uncertain" and "b" not in chosen and "c" not in chosen
    assert list(chosen).count("d") == 1  # the lightest read is d, already shown (first reason kept)


# -- honest intervals for the fairness figures --------------------------------------------------------------------------
def test_garbe_interval_is_not_degenerate_when_one_group_holds_every_error():
    """Three groups of 12 subjects, 30 genuine attempts and 300 impostor comparisons each; five false non-matches,
    all in group 0, and no false match anywhere: GARBE = 0.5 G(FNMR) = 0.5 exactly, and the subject bootstrap
    alone could never give another value; the Jeffreys draws do."""
    n = 36
    group = np.repeat([0, 1, 2], 12)
    counts = {"failed": np.zeros(n), "samples": np.full(n, 30.0), "fnm": np.zeros(n), "compared": np.full(n, 30.0),
              "attempts": np.full(n, 30.0), "fm": np.zeros(n), "impostor": np.full(n, 300.0)}
    counts["fnm"][:5] = 1.0
    out = differentials.summary_indices(counts, group, ["g0", "g1", "g2"], bootstrap={"n_resamples": 500})
    assert out["garbe"] == pytest.approx(0.5) and out["errors"] == {"fnm": 5, "fm": 0}
    iv = out["intervals"]["garbe"]
    assert iv["high"] - iv["low"] > 0.05 and iv["low"] < 0.5 and iv["method"] == "pooled_subject_bootstrap_jeffreys"
    f = out["intervals"]["fdr"]
    assert f["low"] < f["high"] < 1.0  # some draws put errors in other groups: FDR below 1


def test_a_group_with_zero_errors_has_an_interval_whose_upper_bound_is_positive():
    from fr_eval.metrics import rate_interval
    iv = rate_interval(np.zeros(12), np.full(12, 30.0))
    assert iv.low == 0.0 and iv.high == pytest.approx(3 / 12) and iv.method == "rule_of_3"


def test_the_contact_sheet_labels_do_not_overlap(monkeypatch):
    """Each subject's label in its own column, each photo's caption (a reading, or a long reason) above it."""
    from unit.test_report_rules import overlapping_texts

    import fr_eval.report.differentials as report_differentials
    figures = []
    monkeypatch.setattr(report_differentials, "save", lambda fig, path, **kw: figures.append(fig))
    face = np.zeros((112, 112, 3), np.uint8)
    label = ("Serena_Williams: the darkest read; measured (brown); ITA -9° [-15, -4], L* 46; 48 of 52 photos fit; "
             "100% in its bin")
    tiles = [("ITA -41°, L* 37", face)] * 4 + [("not used: skin hue h* 83° outside 25-80° (a cast on the face)", face),
                                               ("not used: under-exposed: the brightest 1% of the photo below L* 53 "
                                                "(< 60)", face)]
    report_differentials._plot_sheet([{"label": label, "tiles": tiles}] * 7, None)
    assert len(figures) == 1 and overlapping_texts(figures[0]) == []
    assert sum(t.get_text().startswith("Serena") for ax in figures[0].axes for t in ax.texts) == 7
