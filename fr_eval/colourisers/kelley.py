"""Kelley's DeOldify ([Ke19], github.com/dana-kelley/DeOldify): the paper's second colouriser.

Runs :class:`~fr_eval.colourisers.kelley_net.KelleyUnet34` with the fork's own inference steps
(``fasterai/filters.py``: ``Colorizer34.filter`` as its notebooks call it, ``map_to_orig=True``),
all on float32 images in [0, 1] as fastai 0.7's ``open_image`` gives them:

1. the image is stretched to a square of ``16 * render_factor`` pixels with OpenCV's
   ``INTER_AREA`` (``_scale_to_square``), made grey by ``BlackAndWhiteTransform`` (OpenCV's
   BGR2GRAY applied to RGB data, then back to three channels; our input is already grey) and
   normalised with fastai 0.7's ``inception_stats`` (mean 0.5, std 0.5);
2. run through the generator (Tanh: [-1, 1]) and de-normalised (x 0.5 + 0.5, not clipped);
3. stretched back to the input's size (``INTER_AREA``, ``_unsquare``) and merged in YUV with the
   grey input: its Y, the generator's U and V, with OpenCV's BGR formulas on RGB data
   (``merge=legacy``, the fork's code; ``merge=rgb`` is offered for comparison with Antic's since 2023);
4. written to 8 bits as the notebooks save their results (``_save_result_image``:
   ``np.clip(result, 0, 1)``, then ``scipy.misc.imsave``, whose ``bytescale`` stretches the image's
   own minimum..maximum to 0..255): ``output=bytescale``; ``output=clip`` rounds the clipped image
   without that stretch.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import ConfigError
from ..settings import KelleySettings, defaults_of
from .deoldify import RENDER_BASE, GeneratorColouriser, deoldify_postprocess

OUTPUTS = ("bytescale", "clip")
_D = defaults_of(KelleySettings)  # the keyword defaults are the config's (fr_eval.settings)


def black_and_white(img: np.ndarray) -> np.ndarray:
    """The fork's ``BlackAndWhiteTransform``: OpenCV's BGR2GRAY on the RGB data, back to 3 channels."""
    return cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2RGB)


def bytescale(img: np.ndarray) -> np.ndarray:
    """SciPy < 1.2's ``bytescale`` with its defaults, as ``scipy.misc.imsave`` applied it to a float
    image: the image's minimum..maximum to 0..255, ``+ 0.5`` and truncated. Written out here because
    SciPy removed it (1.2) and its arithmetic decides every output pixel."""
    lo, hi = img.min(), img.max()
    scale = 255.0 / ((hi - lo) or 1)
    return (((img - lo) * scale).clip(0, 255) + 0.5).astype(np.uint8)


class KelleyColouriser(GeneratorColouriser):
    kind = "deoldify_kelley"
    models = ("kelley",)
    implementation = "fr_eval.colourisers.kelley_net (plain PyTorch, the fork's Unet34 key layout)"

    def __init__(self, name: str = "deoldify-kelley", model: str = _D["model"], weights: str | None = None,
                 render_factor: int = _D["render_factor"], device: str = _D["device"], cache_dir: str | None = None,
                 download: bool = _D["download"], sha256: str | None = None, threads: int | None = _D["threads"],
                 merge: str = _D["merge"], output: str = _D["output"]):

        if output not in OUTPUTS:
            raise ConfigError(f"colourisers.{name}.output={output} is not known; choose from {', '.join(OUTPUTS)}")
        super().__init__(name, model, weights, render_factor, device, cache_dir, download, sha256, threads, merge)
        self.output = output
        if output == "clip":
            self.description += "; output clipped, without the notebooks' min-max stretch"

    def settings(self) -> dict:
        return {**super().settings(), "output": self.output}

    def colourise(self, grey: np.ndarray, sample=None) -> np.ndarray:

        orig = grey.astype(np.float32) / 255.0
        sz = self.render_factor * RENDER_BASE
        square = cv2.resize(orig, (sz, sz), interpolation=cv2.INTER_AREA)
        y = self.infer((black_and_white(square) - 0.5) / 0.5) * 0.5 + 0.5
        raw = cv2.resize(y, (orig.shape[1], orig.shape[0]), interpolation=cv2.INTER_AREA)
        merged = deoldify_postprocess(raw, black_and_white(orig), self.merge)
        clipped = np.clip(merged, 0.0, 1.0)
        if self.output == "bytescale":
            return bytescale(clipped)
        return (clipped * 255.0 + 0.5).astype(np.uint8)
