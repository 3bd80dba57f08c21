"""Skin tone (ITA) and colour fidelity on synthetic images of known CIELAB values, and CIEDE2000 on the
published test pairs of Sharma, Wu and Dalal (2005)."""
import numpy as np
import pytest
from skimage.color import deltaE_ciede2000, lab2rgb, rgb2lab

from fr_eval import colour
from fr_eval.systems.align import ARCFACE_TEMPLATE

# (L1, a1, b1), (L2, a2, b2), published ΔE00 (Sharma et al., 2005, Table 1: pairs 1-4, 7, 17-20, 27, 31, 32, 34)
SHARMA = [((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425), ((50, 3.1571, -77.2803), (50, 0, -82.7485), 2.8615),
          ((50, 2.8361, -74.0200), (50, 0, -82.7485), 3.4412), ((50, -1.3802, -84.2814), (50, 0, -82.7485), 1.0000),
          ((50, 0, 0), (50, -1, 2), 2.3669), ((50, 2.5, 0), (73, 25, -18), 27.1492),
          ((50, 2.5, 0), (61, -5, 29), 22.8977), ((50, 2.5, 0), (56, -27, -3), 31.9030),
          ((50, 2.5, 0), (58, 24, 15), 19.4535), ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
          ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
          ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441)]


def lab_image(L, a, b, size=224):
    """A uniform image of one CIELAB colour (8-bit RGB), and that colour as the 8-bit image holds it."""
    rgb = (np.clip(lab2rgb(np.array([[[L, a, b]]], float)), 0, 1) * 255).round().astype(np.uint8)
    return np.broadcast_to(rgb, (size, size, 3)).copy(), rgb2lab(rgb)[0, 0]


def landmarks(scale=2.0, shift=(0.0, 0.0)):
    return ARCFACE_TEMPLATE * scale + np.array(shift, np.float32)


@pytest.mark.parametrize("lab1,lab2,expected", SHARMA)
def test_ciede2000_on_sharmas_pairs(lab1, lab2, expected):
    assert float(deltaE_ciede2000(np.array(lab1, float), np.array(lab2, float))) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize("L,b,angle,category", [(65, 18, np.degrees(np.arctan(15 / 18)), "intermediate"),
                                                (80, 12, np.degrees(np.arctan(30 / 12)), "very light"),
                                                (45, 20, np.degrees(np.arctan(-5 / 20)), "brown"),
                                                (25, 12, np.degrees(np.arctan(-25 / 12)), "dark")])
def test_ita_of_a_uniform_patch(L, b, angle, category):
    img, held = lab_image(L, 10, b)
    r = colour.face_ita(img, landmarks())
    # the region is every pixel of the cheeks and forehead: (18 x 22) x 2 + 32 x 16 in the 112 crop
    assert r["pixels"] == 18 * 22 * 2 + 32 * 16
    assert r["ita"] == pytest.approx(float(colour.ita(held[0], held[2])), abs=1e-6)
    assert r["ita"] == pytest.approx(angle, abs=1.5) and colour.chardon(r["ita"]) == category


def test_chardon_bounds():
    assert [colour.chardon(x) for x in (55.01, 55.0, 41.0, 28.0, 10.0, -30.0, -30.01)] == [
        "very light", "light", "intermediate", "tan", "brown", "dark", "dark"]
    assert colour.chardon(float("nan")) == "" and colour.chardon_order()[0] == "very light"


def test_skin_region_on_a_face_with_known_landmarks():
    # a face 2x the template's size, shifted and in a larger image: skin in the cheeks and forehead, but hair
    # (L* 8) over the top 4 rows of the forehead and a blue background everywhere else
    img, _ = lab_image(60, 12, 18, size=300)
    blue, _ = lab_image(50, 0, -40, size=300)
    hair, _ = lab_image(8, 2, 2, size=300)
    out = blue.copy()
    sx, sy = 30, 40
    for x0, y0, x1, y1 in colour.REGIONS.values():
        out[sy + 2 * y0:sy + 2 * y1, sx + 2 * x0:sx + 2 * x1] = img[0, 0]
    fx0, fy0, fx1, _ = colour.REGIONS["forehead"]
    out[sy + 2 * fy0:sy + 2 * (fy0 + 4), sx + 2 * fx0:sx + 2 * fx1] = hair[0, 0]
    lab, mask = colour.face_skin(out, landmarks(2.0, (sx, sy)))
    full = 18 * 22 * 2 + 32 * 16
    # the hair rows leave the forehead (4 of its 16 rows); bilinear edges may take a row of pixels either way
    assert full - 4 * 32 - 2 * (18 * 2 + 22 * 2 + 32 * 2) <= mask.sum() <= full - 4 * 32 + 2 * 32
    assert not mask[:colour.REGIONS["forehead"][1]].any() and not mask[90:].any()  # nothing outside the regions
    assert (lab[mask][:, 2] > 0).all()


def test_fidelity_of_a_known_hue_shift():
    # the original skin at L* 60, C* 25, hue 50 deg; the "colouriser" turns the hue by 30 deg at the same L*, C*
    L, cc, h, turn = 60.0, 25.0, np.radians(50), np.radians(30)
    orig, lab_o = lab_image(L, cc * np.cos(h), cc * np.sin(h))
    col, lab_c = lab_image(L, cc * np.cos(h + turn), cc * np.sin(h + turn))
    f = colour.fidelity(orig, col, landmarks())
    expected = float(deltaE_ciede2000(lab_o, lab_c))  # the 8-bit colours' ΔE, worked out on the pair
    assert f["delta_e_skin"] == pytest.approx(expected, abs=1e-6) and f["delta_e_image"] == pytest.approx(expected, abs=1e-6)
    assert 10 < expected < 30
    # ITA: arctan(10 / b*) before and after; b* rises from 25 sin 50 = 19.2 to 25 sin 80 = 24.6 (8-bit values)
    assert f["ita_shift"] == pytest.approx(float(colour.ita(lab_c[0], lab_c[2]) - colour.ita(lab_o[0], lab_o[2])), abs=1e-6)
    assert f["ita_shift"] < 0  # a larger b* at the same L* gives a smaller ITA
    assert f["chroma_skin_original"] == pytest.approx(np.hypot(*lab_o[1:]), abs=1e-6)
    # uniform images: SSIM is its luminance term alone, (2 x y + C1) / (x² + y² + C1) with C1 = (0.01 · 255)²,
    # averaged over a* and b*; PSNR = 10 log10(255² / mean squared a*b* difference)
    c1 = (0.01 * 255) ** 2
    ssim = np.mean([(2 * x * y + c1) / (x * x + y * y + c1) for x, y in zip(lab_o[1:], lab_c[1:])])
    assert f["ssim_ab"] == pytest.approx(ssim, abs=1e-6)
    assert f["psnr_ab"] == pytest.approx(10 * np.log10(255 ** 2 / np.mean((lab_o[1:] - lab_c[1:]) ** 2)), abs=1e-6)
    same = colour.fidelity(orig, orig, landmarks())
    assert same["delta_e_image"] == 0.0 and same["ita_shift"] == 0.0 and same["psnr_ab"] == float("inf")


def test_colourfulness_by_hand():
    grey = np.full((10, 10, 3), 128, np.uint8)
    red = np.zeros((10, 10, 3), np.uint8)
    red[..., 0] = 255
    assert colour.colourfulness(grey) == 0.0
    assert colour.colourfulness(red) == pytest.approx(0.3 * np.hypot(255, 127.5))  # rg = 255, yb = 127.5, no spread
    half = red.copy()
    half[:5] = 0  # rg: 0 or 255 (std 127.5, mean 127.5); yb: 0 or 127.5 (std 63.75, mean 63.75)
    assert colour.colourfulness(half) == pytest.approx(np.hypot(127.5, 63.75) * 1.3)


def test_grey_world_balances_a_cast():
    img, _ = lab_image(60, 12, 18)
    cast = np.clip(img * np.array([1.0, 1.0, 0.6]), 0, 255).astype(np.uint8)
    out = colour.grey_world(cast)
    means = out.reshape(-1, 3).mean(axis=0)
    assert np.ptp(means) <= 1.0  # the channel means equal (to the 8-bit rounding)
    with pytest.raises(ValueError, match="white_balance=auto"):
        colour.face_ita(img, landmarks(), "auto")
