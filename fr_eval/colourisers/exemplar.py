"""Exemplar-based colour transfer: Welsh, Ashikhmin & Mueller, "Transferring color to
greyscale images", SIGGRAPH 2002 ([WAM02] in the paper).

For each target pixel, the exemplar pixel whose luminance and neighbourhood standard
deviation match best (after remapping the exemplar's luminance to the target's mean and
standard deviation) gives its chroma; the target's luminance is kept. CIELAB
(``skimage.color``) is the decorrelated space. The match is a nearest-neighbour search
over a jittered-grid sample of exemplar pixels (``scipy.spatial.cKDTree``).

The exemplar is a colour reference image of a *different* subject, so no identity information
leaks from the original colour image. As Welsh et al. pick a source image similar to the target,
``choice=luminance`` (the default) takes the candidate whose face region has the closest L* mean
and standard deviation to the greyscale target's (the region: the central ``face_region`` of width
and height, where aligned and face-centred crops such as LFW's hold the face; candidates' L* from
their own Rec709 greyscale, the target's conversion). ``choice=seeded`` keeps fr-eval's first rule
(sha256 of seed and subject), which ignores the image: it gave dark faces pale exemplars.
"""
from __future__ import annotations

import hashlib
import warnings

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage import color

from ..images import ImageLoadError, greyscale_rec709, load_image
from ..provenance import file_sha256
from ..settings import ExemplarSettings, defaults_of
from .base import ColourisationFailed


def local_std(lum: np.ndarray, window: int) -> np.ndarray:
    m = ndimage.uniform_filter(lum, window, mode="reflect")
    m2 = ndimage.uniform_filter(lum * lum, window, mode="reflect")
    return np.sqrt(np.maximum(m2 - m * m, 0.0))


_GREY_L = color.rgb2lab(np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 3, axis=2))[:, 0, 0]


def grey_lightness(grey: np.ndarray) -> np.ndarray:
    """CIELAB L* of a greyscale RGB image from a 256-entry table: equal to
    ``rgb2lab(grey)[..., 0]`` within 1e-13 at a fraction of the cost (written for speed)."""
    return _GREY_L[grey[:, :, 0]]


def central(img: np.ndarray, region: float) -> np.ndarray:
    """The central ``region`` fraction of an image's width and height."""
    h, w = img.shape[:2]
    dy, dx = int(round(h * (1 - region) / 2)), int(round(w * (1 - region) / 2))
    return img[dy:h - dy or None, dx:w - dx or None]


def transfer_colour(grey: np.ndarray, exemplar: np.ndarray, *, samples: int = 200, window: int = 5,
                    seed: int = 0, region: float = 1.0) -> np.ndarray:
    """Colour ``grey`` (H, W, 3 uint8, R=G=B) with chroma from ``exemplar`` (RGB uint8), whose pixels
    are sampled from its central ``region`` (1: all of it; the face region keeps a background's
    colour off the face)."""
    if not (grey[:, :, 0] == grey[:, :, 1]).all() or not (grey[:, :, 1] == grey[:, :, 2]).all():
        raise ValueError("transfer_colour expects a greyscale image (R = G = B)")
    target_l = grey_lightness(grey)
    ex_lab = color.rgb2lab(central(exemplar, region))
    ex_l = ex_lab[:, :, 0]
    # luminance remapping (WAM02 section 2): match the exemplar's L statistics to the target's
    sd_ex = ex_l.std()
    ex_l = (ex_l - ex_l.mean()) * (target_l.std() / sd_ex if sd_ex > 0 else 1.0) + target_l.mean()
    # jittered grid of about `samples` exemplar pixels
    rng = np.random.default_rng(seed)
    h, w = ex_l.shape
    step = max(1, int(np.sqrt(h * w / samples)))
    ys, xs = np.mgrid[0:h - step + 1:step, 0:w - step + 1:step]
    ys = (ys + rng.integers(0, step, ys.shape)).ravel()
    xs = (xs + rng.integers(0, step, xs.shape)).ravel()
    ex_sd = local_std(ex_l, window)
    feats = np.stack([ex_l[ys, xs], ex_sd[ys, xs]], axis=1) * 0.5  # equal weights, as WAM02
    tgt = np.stack([target_l.ravel(), local_std(target_l, window).ravel()], axis=1) * 0.5
    _, nearest = cKDTree(feats).query(tgt, k=1, workers=-1)
    ab = ex_lab[ys[nearest], xs[nearest], 1:].reshape(target_l.shape + (2,))
    lab = np.concatenate([target_l[:, :, None], ab], axis=2)
    with warnings.catch_warnings():
        # out-of-gamut Lab colours are clipped to sRGB, which skimage reports as a warning
        warnings.simplefilter("ignore", UserWarning)
        rgb = color.lab2rgb(lab)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


_D = defaults_of(ExemplarSettings)  # the keyword defaults are the config's (fr_eval.settings)


def region_stats(grey: np.ndarray, region: float) -> tuple[float, float]:
    """(mean, std) of CIELAB L* over the central ``region`` fraction of a greyscale image's width and height."""
    lum = grey_lightness(central(grey, region))
    return float(lum.mean()), float(lum.std())


class ExemplarColouriser:
    #: said wherever its rows appear: this is not one of the paper's generative colourisers
    description = "exemplar colour transfer [WAM02], a weight-free stand-in, not DeOldify"
    #: what the headline's question calls it
    stand_in = "exemplar colour transfer (a stand-in for DeOldify)"

    def __init__(self, name: str = "exemplar", seed: int = _D["seed"], samples: int = _D["samples"],
                 window: int = _D["window"], choice: str = _D["choice"], face_region: float = _D["face_region"]):
        self.name, self.seed, self.samples, self.window = name, int(seed), int(samples), int(window)
        self.choice, self.face_region = str(choice), float(face_region)
        self._pool: dict[str, list] = {}
        self._subjects: list[str] = []
        self._index: dict[str, int] = {}
        self._candidates: list = []  # choice=luminance: the readable reference images, by (subject, rel)
        self._stats = np.zeros((0, 2))
        self._pool_digest = ""
        self.unreadable: list[str] = []  # candidates left out of the luminance pool

    def settings(self) -> dict:
        rule = ("the reference image of another subject whose central {:g} of width and height has the closest "
                "L* mean and std (Euclidean) to the target's".format(self.face_region) if self.choice == "luminance"
                else "a reference image of another subject, chosen by sha256(seed, subject)")
        # every setting that changes an output is here: the store's key is made of them
        return {"type": "exemplar", "method": "Welsh-Ashikhmin-Mueller 2002, CIELAB", "seed": self.seed,
                "samples": self.samples, "window": self.window, "choice": self.choice,
                **({"face_region": self.face_region} if self.choice == "luminance" else {}), "exemplar_rule": rule,
                "exemplar_pixels": (f"sampled from the exemplar's central {self.face_region:g} of width and height"
                                    if self.choice == "luminance" else "sampled from the whole exemplar")}

    def prepare(self, dataset) -> None:
        self._pool = {}
        for s in dataset.references:
            self._pool.setdefault(s.subject, []).append(s)
        self._subjects = sorted(self._pool)
        self._index = {s: i for i, s in enumerate(self._subjects)}
        if self.choice == "luminance":
            self._prepare_luminance()

    def _prepare_luminance(self) -> None:
        """Each candidate's face-region L* statistics, and a digest of the pool for the store's keys."""
        cands, stats, shas, self.unreadable = [], [], [], []
        for subject in self._subjects:
            for s in sorted(self._pool[subject], key=lambda x: x.rel):
                try:
                    stats.append(region_stats(greyscale_rec709(load_image(s.path)), self.face_region))
                    shas.append(f"{subject}:{file_sha256(s.path)}")
                except (ImageLoadError, OSError):  # not a candidate; its own acquisition reports it
                    self.unreadable.append(s.rel)
                    continue
                cands.append(s)
        self._candidates, self._stats = cands, np.array(stats, float).reshape(-1, 2)
        self._pool_digest = hashlib.sha256("\n".join(shas).encode()).hexdigest()[:24]

    def exemplar_for(self, sample, grey: np.ndarray | None = None):
        """The exemplar sample, never of the sample's own subject: the closest in face-region L*
        statistics to ``grey`` (loaded from the sample when not given) with choice=luminance, else
        deterministic in (seed, subject)."""
        if self.choice == "luminance":
            return self._closest(sample, grey)
        own = self._index.get(sample.subject)
        n_other = len(self._subjects) - (own is not None)
        if n_other < 1:
            raise ColourisationFailed("no other subject to take an exemplar from")
        h = int.from_bytes(hashlib.sha256(f"{self.seed}:{sample.subject}".encode()).digest()[:8], "big")
        k = h % n_other  # the k-th subject in sorted order, skipping the sample's own
        k += own is not None and k >= own
        pool = self._pool[self._subjects[k]]
        return pool[(h // n_other) % len(pool)]

    def _closest(self, sample, grey):
        other = np.array([c.subject != sample.subject for c in self._candidates], bool)
        if not other.any():
            raise ColourisationFailed("no other subject's readable reference image to take an exemplar from")
        if grey is None:
            grey = greyscale_rec709(load_image(sample.path))
        mean, std = region_stats(grey, self.face_region)
        d = np.hypot(self._stats[:, 0] - mean, self._stats[:, 1] - std)
        d[~other] = np.inf
        return self._candidates[int(np.argmin(d))]  # ties: the first by (subject, path)

    def sample_key(self, sample) -> str:
        if self.choice == "luminance":  # the choice is a function of the image (in the key) and of the pool
            return f"exemplar-luminance:{self._pool_digest}:{sample.subject}"
        ex = self.exemplar_for(sample)
        try:
            return "exemplar:" + file_sha256(ex.path)
        except OSError:
            return f"exemplar-missing:{ex.rel}"

    def colourise(self, grey, sample):
        ex = self.exemplar_for(sample, grey)
        try:
            exemplar = load_image(ex.path)
        except ImageLoadError as exc:
            raise ColourisationFailed(f"exemplar {ex.rel} unreadable: {exc}", cacheable=False) from exc
        return transfer_colour(grey, exemplar, samples=self.samples, window=self.window, seed=self.seed,
                               region=self.face_region if self.choice == "luminance" else 1.0)
