"""DeOldify (Antic 2019, [An19]): the stable, artistic and video generators. (Kelley's older version
[Ke19] is another network with other steps: :mod:`fr_eval.colourisers.kelley`.)

Runs the generator of :mod:`fr_eval.colourisers.deoldify_net` (plain PyTorch; the
``deoldify`` package needs fastai v1 and old PyTorch) with DeOldify's own inference steps:

1. the image is stretched to a square of ``16 * render_factor`` pixels (bilinear) and made
   grey with Pillow's ``LA`` conversion (our input is already greyscale),
2. normalised with the ImageNet statistics, run through the generator, de-normalised,
   clamped to [0, 1] and truncated to 8 bits,
3. stretched back to the input's size (bilinear) and merged with the input in YUV: the
   input's Y, the generator's U and V: with ``merge=legacy`` OpenCV's BGR<->YUV formulas on RGB
   data, exactly as DeOldify's ``ColorizerFilter._post_process`` applied them until 2023-03; with
   ``merge=rgb`` the RGB formulas, as it does since. So the input's luminance is
   kept exactly wherever the merged colour fits in RGB (where a channel clips at 0 or 255,
   it moves; ``tests/integration/test_deoldify.py``). DeOldify's watermark is never added.

Importing ``deoldify`` itself is avoided: it blanks ``CUDA_VISIBLE_DEVICES`` for the whole
process (hiding the GPU from onnxruntime too) and adds a root logging handler.
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..devices import torch_device_for
from ..errors import ConfigError
from ..provenance import file_sha256
from ..settings import DeOldifySettings, defaults_of
from .base import ColourisationFailed
from .weights import PUBLISHED, load_into, resolve_weights

log = logging.getLogger(__name__)

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
RENDER_BASE = 16


def load_generator(path: str | Path, model: str, device: str = "cpu"):
    """Build the generator for ``model`` and load the file strictly (``weights_only=True``)."""
    if model == "kelley":
        from .kelley_net import KelleyUnet34  # optional heavy dependency (torch), loaded only when used
        net = KelleyUnet34()
    else:
        from .deoldify_net import DeOldifyGenerator  # optional heavy dependency (torch), loaded only when used
        net = DeOldifyGenerator(model)
    for note in load_into(net, path, model):
        log.info("%s: %s", path, note)
    return net.to(device).eval()


#: the two YUV merges DeOldify has used (see DeOldifySettings.merge)
MERGES = ("legacy", "rgb")


def deoldify_postprocess(raw_color: np.ndarray, orig: np.ndarray, merge: str = "legacy") -> np.ndarray:
    """DeOldify's YUV merge: the original's Y with the colour image's U, V (both RGB, uint8 as
    Antic's DeOldify has them or float32 in [0, 1] as Kelley's; OpenCV offsets U, V by 128 or 0.5).
    ``legacy``: OpenCV's BGR<->YUV formulas applied to RGB data, as DeOldify did until its commit
    4ff02e5 (2023-03-29; the paper's era); ``rgb``: the RGB formulas, as DeOldify does since."""
    if merge not in MERGES:
        raise ValueError(f"merge={merge}: choose from {', '.join(MERGES)}")
    to_yuv, from_yuv = ((cv2.COLOR_BGR2YUV, cv2.COLOR_YUV2BGR) if merge == "legacy"
                        else (cv2.COLOR_RGB2YUV, cv2.COLOR_YUV2RGB))
    color_yuv = cv2.cvtColor(raw_color, to_yuv)
    orig_yuv = cv2.cvtColor(orig, to_yuv)
    hires = orig_yuv.copy()
    hires[:, :, 1:3] = color_yuv[:, :, 1:3]
    return cv2.cvtColor(hires, from_yuv)


def merge_note(merge: str) -> str:
    return ("2019 merge (OpenCV's BGR YUV formulas on RGB, as the paper ran it)" if merge == "legacy"
            else "RGB merge (as Antic's DeOldify since 2023-03)")


_D = defaults_of(DeOldifySettings)  # the keyword defaults are the config's (fr_eval.settings)


class GeneratorColouriser:
    """What both DeOldify versions share: the weights (found, downloaded, hashed), the device and
    threads, the network loaded once per process, and the inference call."""
    kind = "deoldify"
    models: tuple = ()
    implementation = ""

    def __init__(self, name: str, model: str, weights: str | None, render_factor: int, device: str,
                 cache_dir: str | None, download: bool, sha256: str | None, threads: int | None, merge: str):
        if model not in self.models:
            raise ConfigError(f"colourisers.{name}.model={model} is not known; choose from {', '.join(self.models)}")
        if not 1 <= int(render_factor) <= 100:
            raise ConfigError(f"colourisers.{name}.render_factor={render_factor} must be in 1..100")
        if merge not in MERGES:
            raise ConfigError(f"colourisers.{name}.merge={merge} is not known; choose from {', '.join(MERGES)}")
        self.name, self.model, self.render_factor, self.merge = name, model, int(render_factor), merge
        #: said wherever its rows appear: which DeOldify, with which merge
        self.description = f"{PUBLISHED[model].label}, {merge_note(merge)}"
        self.device_choice, self.threads = device, threads
        if device not in ("auto", "cpu"):  # cuda without one, or no device at all: refused here, not at an image
            import torch  # optional heavy dependency (torch), loaded only when used

            torch_device_for(device, torch.cuda.is_available(), f"colourisers.{name}.device")
        self.weights = resolve_weights(model, weights, cache_dir, download, sha256)
        self.sha256 = file_sha256(self.weights)
        self.sha256_verified = bool(sha256)
        self._net = None

    def __getstate__(self):  # worker processes load the network themselves, once
        state = dict(self.__dict__)
        state["_net"] = None
        return state

    def settings(self) -> dict:
        return {"type": self.kind, "model": self.model, "weights": str(self.weights), "sha256": self.sha256,
                "sha256_verified": self.sha256_verified, "render_factor": self.render_factor, "merge": self.merge,
                "implementation": self.implementation, "memory_format": "channels_last"}

    def prepare(self, dataset) -> None:
        pass

    def sample_key(self, sample) -> str:
        return ""

    def _device(self) -> str:
        import torch  # optional heavy dependency (torch), loaded only when used

        return torch_device_for(self.device_choice, torch.cuda.is_available(), f"colourisers.{self.name}.device")[0]

    def net(self):
        if self._net is None:
            import torch  # optional heavy dependency (torch), loaded only when used

            if self.threads:
                torch.set_num_threads(int(self.threads))
            # channels-last (NHWC): oneDNN's convolutions on a CPU skip their layout reorders (stable at render
            # factor 35: 20.1 -> 15.8 s an image on 2 threads, 0.54 -> 0.67 of the bound; the network's output moves
            # by at most 1.2e-6, so a rare pixel may move one level: the store key says channels_last)
            self._net = load_generator(self.weights, self.model, self._device()).to(memory_format=torch.channels_last)
        return self._net

    def infer(self, x: np.ndarray) -> np.ndarray:
        """The generator on one normalised (H, W, 3) float32 image; (H', W', 3) float32 out. An
        error of the machine (out of memory on a large render factor...) is transient: retried next run."""
        import torch  # optional heavy dependency (torch), loaded only when used

        net = self.net()
        xt = torch.from_numpy(x.transpose(2, 0, 1).copy())[None].to(next(net.parameters()).device)
        xt = xt.contiguous(memory_format=torch.channels_last)
        try:
            with torch.inference_mode():
                return net(xt)[0].float().cpu().numpy().transpose(1, 2, 0)
        except RuntimeError as exc:
            raise ColourisationFailed(f"{PUBLISHED[self.model].label} failed: {' '.join(str(exc).split())}",
                                      transient=True) from exc


class DeOldifyColouriser(GeneratorColouriser):
    models = ("stable", "artistic", "video")
    implementation = "fr_eval.colourisers.deoldify_net (plain PyTorch, official key layout)"

    def __init__(self, name: str = "deoldify-stable", model: str = _D["model"], weights: str | None = None,
                 render_factor: int = _D["render_factor"], device: str = _D["device"], cache_dir: str | None = None,
                 download: bool = _D["download"], sha256: str | None = None, threads: int | None = _D["threads"],
                 merge: str = _D["merge"]):
        super().__init__(name, model, weights, render_factor, device, cache_dir, download, sha256, threads, merge)

    def colourise(self, grey: np.ndarray, sample=None) -> np.ndarray:
        orig = Image.fromarray(grey)
        sz = self.render_factor * RENDER_BASE
        small = orig.resize((sz, sz), resample=Image.BILINEAR).convert("LA").convert("RGB")
        y = self.infer((np.asarray(small, np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD)
        y = np.clip(y * IMAGENET_STD + IMAGENET_MEAN, 0.0, 1.0)
        raw = (y * 255.0).astype(np.uint8)  # truncation, as fastai's image2np(...).astype(uint8)
        raw = np.asarray(Image.fromarray(raw).resize(orig.size, resample=Image.BILINEAR))
        return deoldify_postprocess(raw, np.asarray(orig), self.merge)
