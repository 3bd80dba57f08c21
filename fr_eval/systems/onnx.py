"""``system=onnx``: any ONNX face recogniser, its preprocessing declared in config, behind an
insightface SCRFD/RetinaFace detector (as in insightface's ``model_zoo``: one small class per model
file; only the recogniser differs from :class:`~fr_eval.systems.arcface.ArcFaceSystem`).

Declared preprocessing (``system.preprocess``): ``input_size`` [w, h]; ``channels`` ``rgb`` | ``bgr``;
``mean`` and ``std`` per channel on 0..255 values (``(x - mean) / std``); ``layout`` ``nchw`` |
``nhwc``; ``crop`` the side of the square aligned crop (insightface's ArcFace template scaled to it,
as ``norm_crop`` does: 112 for ArcFace-style models, 128 uses its 8-pixel margin), resized to
``input_size`` when they differ; ``output`` the output's name or index; ``flip`` true adds the
embedding of the horizontally flipped crop (AdaFace's and MagFace's test-time habit).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from ..errors import ConfigError
from ..settings import OnnxSettings, Preprocess, with_values
from .align import norm_crop
from .arcface import ArcFaceSystem


def check_preprocess(p: dict | None) -> dict:
    """The declared preprocessing over the defaults of :class:`fr_eval.settings.Preprocess`, checked."""
    defaults = dataclasses.asdict(Preprocess())
    out = {**defaults, **(p or {})}
    unknown = sorted(set(out) - set(defaults))
    if unknown:
        raise ConfigError(f"system.preprocess: unknown key(s) {', '.join(unknown)}; "
                          f"valid: {', '.join(defaults)}")
    try:
        out["input_size"] = [int(v) for v in out["input_size"]]
        out["mean"], out["std"] = [float(v) for v in out["mean"]], [float(v) for v in out["std"]]
        out["crop"] = int(out["crop"])
    except (TypeError, ValueError):
        raise ConfigError("system.preprocess: input_size and crop must be integers, mean and std numbers") from None
    if len(out["input_size"]) != 2 or len(out["mean"]) != 3 or len(out["std"]) != 3 or 0.0 in out["std"]:
        raise ConfigError("system.preprocess: input_size is [w, h]; mean and std have 3 values (std not 0)")
    for key, options in (("channels", ("rgb", "bgr")), ("layout", ("nchw", "nhwc"))):
        if out[key] not in options:
            raise ConfigError(f"system.preprocess.{key}={out[key]} is not valid: choose from {', '.join(options)}")
    out["flip"] = bool(out["flip"])
    return out


class OnnxSystem(ArcFaceSystem):
    name = "onnx"
    settings_class = OnnxSettings

    def __init__(self, settings: OnnxSettings | None = None, *, files: tuple | None = None, **overrides):
        s = with_values(settings if settings is not None else OnnxSettings(), **overrides)
        if not s.recogniser or s.recogniser == "???":
            raise ConfigError("system=onnx needs system.recogniser=<model.onnx> (and its system.preprocess)")
        self.preprocess = check_preprocess(dataclasses.asdict(s.preprocess))
        super().__init__(s, files=files)

    def _load_recogniser(self, recogniser, opts) -> None:

        if not Path(recogniser).is_file():
            raise ConfigError(f"system.recogniser={recogniser} is not a file")
        self.session = ort.InferenceSession(str(recogniser), sess_options=opts, providers=self.providers)
        self.input_name = self.session.get_inputs()[0].name
        outs = [o.name for o in self.session.get_outputs()]
        want = self.preprocess["output"]
        if isinstance(want, int) and not 0 <= want < len(outs) or isinstance(want, str) and want not in outs:
            raise ConfigError(f"system.preprocess.output={want}: the model's outputs are {', '.join(outs)}")
        self.output_name = outs[want] if isinstance(want, int) else want
        batch = self.session.get_inputs()[0].shape[0]
        self.rec_batched = not isinstance(batch, int) or batch <= 0

    def recogniser_settings(self) -> dict:
        return {"recogniser_preprocess": dict(self.preprocess), "recogniser_output": self.output_name}

    def _align(self, bgr, det):
        crop = norm_crop(bgr, det.landmarks, self.preprocess["crop"])
        w, h = self.preprocess["input_size"]
        return crop if crop.shape[:2] == (h, w) else cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)

    def blob(self, crops: list[np.ndarray]) -> np.ndarray:
        """The recogniser's input for aligned BGR crops, as declared."""
        p = self.preprocess
        x = np.stack(crops).astype(np.float32)
        if p["channels"] == "rgb":
            x = x[..., ::-1]
        x = (x - np.float32(p["mean"])) / np.float32(p["std"])
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2) if p["layout"] == "nchw" else x)

    def _run(self, crops):
        if self.rec_batched:
            return self.session.run([self.output_name], {self.input_name: self.blob(crops)})[0]
        return np.concatenate([self.session.run([self.output_name], {self.input_name: self.blob([c])})[0]
                               for c in crops], axis=0)

    def _embed(self, crops):
        feats = np.asarray(self._run(crops), np.float32).reshape(len(crops), -1)
        if self.preprocess["flip"]:
            feats = feats + np.asarray(self._run([c[:, ::-1] for c in crops]), np.float32).reshape(len(crops), -1)
        return feats
