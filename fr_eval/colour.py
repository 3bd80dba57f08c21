"""Skin tone and colour fidelity, as pure functions of images and landmarks.

* **ITA** (Individual Typology Angle, Chardon et al. 1991): ITA° = arctan((L* - 50) / b*) · 180/π on
  CIELAB (D65) skin pixels. A face's ITA is the median of its skin pixels' ITA over a landmark-defined
  region: both cheeks and the forehead of the face aligned by its 5 landmarks onto insightface's
  112 x 112 ArcFace template (:func:`skin_mask`), eyes, brows, nose and mouth left out, and only the
  pixels in a plausible skin range kept (:data:`SKIN_RANGE`). Binned in Chardon's six categories
  (:func:`chardon`).
* **Colour fidelity** of a colourised image against its original (:func:`fidelity`): CIEDE2000 ΔE
  (scikit-image) on the skin region and on the whole image, the ITA shift, the chroma C* and the
  Hasler–Süsstrunk colourfulness of both, and PSNR/SSIM of the a*b* channels.
"""
from __future__ import annotations

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from .systems.align import norm_crop

#: Chardon's categories, lower bounds in degrees (an ITA at a bound belongs to the lighter category above it
#: only when strictly greater: very light > 55, light 41-55, intermediate 28-41, tan 10-28, brown -30-10,
#: dark < -30)
CHARDON = (("very light", 55.0), ("light", 41.0), ("intermediate", 28.0), ("tan", 10.0), ("brown", -30.0),
           ("dark", -np.inf))
#: skin pixels: L* in [15, 95] (no black hair or shadow, no specular highlight), 0 < a* <= 45 and
#: 0 < b* <= 50 (skin is red-yellow; a blue or green pixel is background, clothing or a cast, and b* near 0
#: would make ITA's quotient explode)
SKIN_RANGE = {"L": (15.0, 95.0), "a": (0.0, 45.0), "b": (0.0, 50.0)}
#: the skin region in the 112 x 112 aligned face (ArcFace template: eyes at y 51.6, nose tip at (56, 71.7),
#: mouth corners at y 92.3): rectangles (x0, y0, x1, y1), half-open, on both cheeks (below the eyes, beside
#: the nose, above the mouth) and the forehead (above the brows)
REGIONS = {"left cheek": (27, 62, 45, 84), "right cheek": (67, 62, 85, 84), "forehead": (40, 22, 72, 38)}
SIZE = 112
MIN_PIXELS = 40
WHITE_BALANCE = ("none", "grey_world")
#: a photo fit to read skin tone from. ITA from uncontrolled photos moves with the light and the camera
#: (Krishnapriya et al., WACV workshops 2022); these checks set aside the photos whose colour says more about
#: the light or the file than about the skin, each with its reason. Thresholds fixed on lfw_min20's 3,022 photos
#: (each rejects the tail of about 1 % where a photo's reading left its subject's by 40° or more):
#: ``min_chroma`` (median C* of the skin: a nearly grey or desaturated photo; a whole-image colourfulness cut
#: was tried and dropped, since a dark face on a neutral background is less colourful in RGB), ``hue`` (median h* of the skin outside it: a colour cast on the face),
#: ``max_clipped`` (share of the region's pixels with a channel >= 250, or every channel <= 15), ``min_top_L``
#: (the whole image's 99th-percentile L* below it: under-exposed, nothing near white; kept low so that a dark
#: face on a dark background is not what it rejects) and ``max_cast`` (the whole image's mean a*b* chroma, the
#: grey-world deviation).
FIT = {"min_chroma": 12.0, "hue": (25.0, 80.0), "max_clipped": 0.25, "min_top_L": 60.0,
       "max_cast": 30.0}


def is_grey(rgb: np.ndarray) -> bool:
    """A photo without colour: its three channels differ by at most 2 levels everywhere."""
    x = np.asarray(rgb).astype(np.int16)
    return bool(np.abs(x[..., 0] - x[..., 1]).max() <= 2 and np.abs(x[..., 1] - x[..., 2]).max() <= 2)


def ita(L, b) -> np.ndarray:
    """ITA in degrees: arctan((L* - 50) / b*) · 180/π (b* = 0 gives ±90)."""
    L, b = np.asarray(L, np.float64), np.asarray(b, np.float64)
    with np.errstate(divide="ignore"):
        return np.degrees(np.arctan((L - 50.0) / b))


def chardon(angle: float) -> str:
    """Chardon's category of an ITA (degrees); "" for nan."""
    if not np.isfinite(angle):
        return ""
    return next(name for name, low in CHARDON if angle > low)


def chardon_order() -> list[str]:
    """The categories from the lightest to the darkest."""
    return [name for name, _ in CHARDON]


def region_mask(size: int = SIZE) -> np.ndarray:
    """(size, size) bool: the cheeks and forehead of :data:`REGIONS` in the aligned face."""
    m = np.zeros((size, size), bool)
    s = size / SIZE
    for x0, y0, x1, y1 in REGIONS.values():
        m[int(round(y0 * s)):int(round(y1 * s)), int(round(x0 * s)):int(round(x1 * s))] = True
    return m


def skin_pixels(lab: np.ndarray) -> np.ndarray:
    """(h, w) bool: the pixels of a CIELAB image within :data:`SKIN_RANGE`."""
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    (l0, l1), (a0, a1), (b0, b1) = SKIN_RANGE["L"], SKIN_RANGE["a"], SKIN_RANGE["b"]
    return (L >= l0) & (L <= l1) & (a > a0) & (a <= a1) & (b > b0) & (b <= b1)


def grey_world(rgb: np.ndarray) -> np.ndarray:
    """Grey-world white balance: each channel scaled so that its mean equals the mean of the three
    (written here: a three-line rule; the libraries that offer it bring far more than it needs)."""
    x = np.asarray(rgb, np.float64)
    means = x.reshape(-1, 3).mean(axis=0)
    gain = means.mean() / np.where(means > 0, means, 1.0)
    return np.clip(x * gain, 0, 255).astype(np.uint8)


def aligned_lab(rgb: np.ndarray, landmarks, white_balance: str = "none") -> np.ndarray:
    """The face aligned onto the 112 x 112 template by its 5 landmarks, in CIELAB (D65); ``white_balance``
    (``none`` | ``grey_world``) is applied to the whole image first."""
    if white_balance not in WHITE_BALANCE:
        raise ValueError(f"white_balance={white_balance}: choose from {', '.join(WHITE_BALANCE)}")
    img = grey_world(rgb) if white_balance == "grey_world" else np.asarray(rgb, np.uint8)
    return rgb2lab(norm_crop(img, np.asarray(landmarks, np.float32).reshape(5, 2)))


def face_skin(rgb: np.ndarray, landmarks, white_balance: str = "none") -> tuple[np.ndarray, np.ndarray]:
    """(the aligned face in CIELAB, the mask of its skin pixels: region and skin range)."""
    lab = aligned_lab(rgb, landmarks, white_balance)
    return lab, region_mask() & skin_pixels(lab)


def face_ita(rgb: np.ndarray, landmarks, white_balance: str = "none") -> dict:
    """A face's ITA: the median of its skin pixels' ITA, with the pixel count (nan below :data:`MIN_PIXELS`,
    with the reason)."""
    return ita_of(*face_skin(rgb, landmarks, white_balance))


def ita_of(lab: np.ndarray, mask: np.ndarray) -> dict:
    """:func:`face_ita` of an aligned face already in CIELAB and its skin mask."""
    n = int(mask.sum())
    if n < MIN_PIXELS:
        return {"ita": float("nan"), "pixels": n,
                "reason": f"{n} skin pixels in the cheeks and forehead (at least {MIN_PIXELS} needed)"}
    values = ita(lab[..., 0][mask], lab[..., 2][mask])
    return {"ita": float(np.median(values)), "pixels": n, "L": float(np.median(lab[..., 0][mask])),
            "b": float(np.median(lab[..., 2][mask])), "reason": ""}


def skin_reading(rgb: np.ndarray, landmarks, white_balance: str = "none") -> dict:
    """One colour photo's skin, as Thong, Joniak and Xiang (ICCV 2023) read it, beside the ITA: perceptual
    lightness ``L`` (median L* of the skin pixels), hue angle ``hue`` (median h* = atan2(b*, a*), degrees),
    chroma ``chroma`` (median C*) and ``ita`` (median of the pixels' ITA); ``pixels``; ``fit``, ``kind`` and
    ``reason``: why the photo is not fit to measure (:data:`FIT`; ``kind`` names the check), "" when it is. The readings stay where they could be
    taken (a reader sees what an unfit photo would have said); nan where they could not."""
    x = np.asarray(rgb, np.uint8)
    nan = {"ita": float("nan"), "L": float("nan"), "hue": float("nan"), "chroma": float("nan"), "pixels": 0}
    if is_grey(x):
        return {**nan, "fit": False, "kind": "greyscale", "reason": "a greyscale photo (no colour to measure)"}
    whole = rgb2lab(x)  # the cast and the exposure of the photo as taken, before any white balance
    cast = float(np.hypot(whole[..., 1].mean(), whole[..., 2].mean()))
    top = float(np.percentile(whole[..., 0], 99))
    img = grey_world(x) if white_balance == "grey_world" else x
    face = norm_crop(img, np.asarray(landmarks, np.float32).reshape(5, 2))
    lab, region = rgb2lab(face), region_mask()
    mask = region & skin_pixels(lab)
    n = int(mask.sum())
    if n < MIN_PIXELS:
        return {**nan, "pixels": n, "fit": False, "kind": "too few skin pixels",
                "reason": f"{n} skin pixels in the cheeks and forehead (at least {MIN_PIXELS} needed)"}
    L, a, b = lab[..., 0][mask], lab[..., 1][mask], lab[..., 2][mask]
    out = {"ita": float(np.median(ita(L, b))), "L": float(np.median(L)),
           "hue": float(np.median(np.degrees(np.arctan2(b, a)))), "chroma": float(np.median(np.hypot(a, b))),
           "pixels": n}
    peak = face[region].max(axis=-1)
    high, low = float(np.mean(peak >= 250)), float(np.mean(peak <= 15))
    reasons = [
        (high > FIT["max_clipped"], "highlights clipped", f"highlights clipped on {100 * high:.0f}% of the skin region"),
        (low > FIT["max_clipped"], "shadows clipped", f"shadows clipped on {100 * low:.0f}% of the skin region"),
        (top < FIT["min_top_L"], "under-exposed", f"under-exposed: the brightest 1% of the photo below L* {top:.0f} "
                                                  f"(< {FIT['min_top_L']:g})"),
        (cast > FIT["max_cast"], "colour cast",
         f"a colour cast: the photo's mean a*b* chroma {cast:.0f} (> {FIT['max_cast']:g})"),
        (out["chroma"] < FIT["min_chroma"], "desaturated skin",
         f"desaturated skin: C* {out['chroma']:.1f} (< {FIT['min_chroma']:g})"),
        (not FIT["hue"][0] <= out["hue"] <= FIT["hue"][1], "skin hue outside skin",
         f"skin hue h* {out['hue']:.0f}° outside {FIT['hue'][0]:g}-{FIT['hue'][1]:g}° (a cast on the face)"),
    ]
    kind, why = next(((k, text) for bad, k, text in reasons if bad), ("", ""))
    return {**out, "fit": not why, "kind": kind, "reason": why}


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Süsstrunk's (2003) colourfulness M = σ_rgyb + 0.3 μ_rgyb, with rg = R - G and
    yb = (R + G)/2 - B (0 for a grey image; about 33 'moderately', 59 'quite', 82 'highly colourful').
    Written here: the formula is two moments, and no maintained library ships it."""
    x = np.asarray(rgb, np.float64).reshape(-1, 3)
    rg, yb = x[:, 0] - x[:, 1], 0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def chroma(lab: np.ndarray) -> np.ndarray:
    """C* = sqrt(a*² + b*²)."""
    return np.hypot(lab[..., 1], lab[..., 2])


def fidelity(original: np.ndarray, colourised: np.ndarray, landmarks, white_balance: str = "none") -> dict:
    """How far a colourised image's colours are from its original's (same size, same geometry): CIEDE2000
    ΔE (mean) on the skin region of the original face and on the whole image, the ITA of both and the shift
    (colourised - original), mean chroma of both on the skin, colourfulness of both whole images, and PSNR
    and SSIM of the whole images' a*b* channels (data range 255). ``landmarks``: the original face's 5 points."""
    o, c = np.asarray(original, np.uint8), np.asarray(colourised, np.uint8)
    if o.shape != c.shape:
        raise ValueError(f"the colourised image is {c.shape}, its original {o.shape}: they must match")
    lab_o, lab_c = rgb2lab(o), rgb2lab(c)
    face_o, mask = face_skin(o, landmarks, white_balance)
    face_c = aligned_lab(c, landmarks, white_balance)
    ita_o, ita_c = ita_of(face_o, mask), ita_of(face_c, region_mask() & skin_pixels(face_c))
    skin = int(mask.sum())
    ab_o, ab_c = lab_o[..., 1:], lab_c[..., 1:]
    return {
        "delta_e_skin": float(deltaE_ciede2000(face_o[mask], face_c[mask]).mean()) if skin else float("nan"),
        "delta_e_image": float(deltaE_ciede2000(lab_o, lab_c).mean()),
        "skin_pixels": skin,
        "ita_original": ita_o["ita"], "ita_colourised": ita_c["ita"], "ita_shift": ita_c["ita"] - ita_o["ita"],
        "chroma_skin_original": float(chroma(face_o)[mask].mean()) if skin else float("nan"),
        "chroma_skin_colourised": float(chroma(face_c)[mask].mean()) if skin else float("nan"),
        "colourfulness_original": colourfulness(o), "colourfulness_colourised": colourfulness(c),
        "psnr_ab": float(peak_signal_noise_ratio(ab_o, ab_c, data_range=255.0)) if not np.array_equal(ab_o, ab_c)
        else float("inf"),
        "ssim_ab": float(structural_similarity(ab_o, ab_c, channel_axis=-1, data_range=255.0)),
    }
