"""Face image quality estimators, picked by name (``quality=[embedding_norm,stability,...]``).

Each estimator gives one number per acquired sample (an image in one variant, seen by one face
system), computed once and kept in the store. None pretends to be another: the weight-free
ones are named for what they measure.

- ``faceqnet_v0`` / ``faceqnet_v1``: FaceQnet (Hernandez-Ortega et al., ICB 2019; v1 2020), the
  authors' Keras ``.h5`` file (needs ``pip install -e ".[faceqnet]"``) or an ONNX conversion of it
  (onnxruntime). Preprocessing as the authors' scoring script: the face crop (here our detector's
  box, widened by ``margin`` of its size on each side and clipped to the image; they used MTCNN's),
  BGR, ``cv2.resize`` to 224 x 224 (bilinear), float32 without scaling; the output clipped to [0, 1].
- ``embedding_norm``: the L2 norm of the recogniser's embedding before normalisation (a quality
  signal of margin-loss recognisers: low-quality faces get small norms).
- ``stability``: the mean cosine similarity of the embeddings of slightly perturbed aligned crops
  (horizontal flip, a shift of ``shift_px`` pixels, a Gaussian blur of ``blur_sigma``) to the
  crop's own embedding, in the spirit of SER-FIQ (which perturbs with dropout instead).
- ISO/IEC 29794-5-style components, without a model: ``inter_eye_distance`` (pixels, in the
  image), ``roll`` (degrees of the eye line from horizontal, absolute), ``yaw_proxy`` (the nose's
  offset from the eyes' midpoint along the eye line, in half inter-eye distances, absolute),
  ``sharpness`` (variance of the Laplacian of the aligned 112 x 112 grey face), ``exposure``
  (mean luminance, 0-255, of the aligned face's central 80 x 80) and ``dynamic_range`` (entropy in
  bits of that region's 256-bin luminance histogram).

``utility`` turns a value into "higher is better" for error-versus-discard curves: roll and
yaw_proxy are negated, exposure is scored by its distance from mid-grey.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from .errors import ConfigError, ModelFilesMissing
from .plugins import available, load
from .provenance import file_sha256
from .systems.align import norm_crop

FACEQNET_URLS = {
    "faceqnet_v0": "https://github.com/uam-biometrics/FaceQnet/releases/download/v0/FaceQnet.h5",
    "faceqnet_v1": "https://github.com/uam-biometrics/FaceQnet/releases/download/v1.0/FaceQnet_v1.h5",
}


class QualityFailed(Exception):
    """The estimator cannot score this sample (the reason is recorded)."""


class Estimator:
    name = "base"
    needs_image = True  # the variant image (else only the acquisition: embedding, landmarks)
    needs_system = False  # embeds perturbed crops with the face system
    unit = ""
    higher_is_better = True

    def settings(self) -> dict:
        return {}

    def value(self, rgb: np.ndarray | None, acq, system) -> float:
        raise NotImplementedError

    def utility(self, v: np.ndarray) -> np.ndarray:
        """Values in "higher is better" order (for discarding the lowest-quality comparisons)."""
        v = np.asarray(v, float)
        return v if self.higher_is_better else -v

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps({"name": self.name, **self.settings()}, sort_keys=True,
                                         default=str).encode()).hexdigest()[:16]


def _landmarks(acq) -> np.ndarray:
    return np.asarray(acq.detection.landmarks, np.float64)


class EmbeddingNorm(Estimator):
    """The L2 norm of the face system's embedding (not normalised): a quality proxy of the recogniser itself."""

    name, needs_image, unit = "embedding_norm", False, "L2 norm"

    def value(self, rgb, acq, system):
        return float(np.linalg.norm(np.asarray(acq.embedding, np.float64)))


class InterEyeDistance(Estimator):
    """The distance between the eye centres in image pixels (ISO/IEC 29794-5's inter-eye distance)."""

    name, needs_image, unit = "inter_eye_distance", False, "pixels"

    def value(self, rgb, acq, system):
        e = _landmarks(acq)
        return float(np.linalg.norm(e[1] - e[0]))


class Roll(Estimator):
    """The absolute in-plane rotation of the eye line, degrees (0: level)."""

    name, needs_image, unit, higher_is_better = "roll", False, "degrees (absolute)", False

    def value(self, rgb, acq, system):
        e = _landmarks(acq)
        d = e[1] - e[0]  # image-left eye to image-right eye
        return float(abs(np.degrees(np.arctan2(d[1], d[0]))))


class YawProxy(Estimator):
    """A yaw proxy: the nose tip's offset from the eyes' midpoint, in half inter-eye distances."""

    name, needs_image, unit, higher_is_better = "yaw_proxy", False, "half inter-eye distances (absolute)", False

    def value(self, rgb, acq, system):
        e = _landmarks(acq)
        axis = e[1] - e[0]
        ied = np.linalg.norm(axis)
        if ied <= 0:
            raise QualityFailed("the eye landmarks coincide")
        offset = (e[2] - (e[0] + e[1]) / 2) @ (axis / ied)
        return float(abs(offset) / (ied / 2))


def _aligned_grey(rgb, acq) -> np.ndarray:
    """The face aligned to 112 x 112 (ArcFace template) as Rec. 709 luma, float."""
    face = norm_crop(rgb, _landmarks(acq), 112).astype(np.float64)
    return face @ np.array([0.2126, 0.7152, 0.0722])


class Sharpness(Estimator):
    """The variance of the Laplacian of the aligned grey face (higher: sharper)."""

    name, unit = "sharpness", "variance of the Laplacian (aligned 112 px grey face)"

    def value(self, rgb, acq, system):
        return float(cv2.Laplacian(_aligned_grey(rgb, acq), cv2.CV_64F, ksize=1).var())


class Exposure(Estimator):
    """The mean luminance of the aligned face's centre, 0-255."""

    name, unit = "exposure", "mean luminance 0-255 (aligned face, central 80 px)"

    def value(self, rgb, acq, system):
        return float(_aligned_grey(rgb, acq)[16:96, 16:96].mean())

    def utility(self, v):
        return -np.abs(np.asarray(v, float) - 127.5)  # mid-grey is best; under- and over-exposure worse


class DynamicRange(Estimator):
    """The entropy of the luminance histogram of the aligned face's centre, bits."""

    name, unit = "dynamic_range", "bits (entropy of the luminance histogram, aligned face, central 80 px)"

    def value(self, rgb, acq, system):
        y = np.clip(np.round(_aligned_grey(rgb, acq)[16:96, 16:96]), 0, 255).astype(np.int64)
        p = np.bincount(y.ravel(), minlength=256) / y.size
        p = p[p > 0]
        return float(-(p * np.log2(p)).sum())


class Stability(Estimator):
    """How stable the embedding is: the mean cosine of the embeddings of flipped, shifted and blurred crops to the original's."""

    name, needs_system, unit = "stability", True, "mean cosine similarity (perturbed vs original crop)"

    def __init__(self, shift_px: int = 2, blur_sigma: float = 1.0):
        self.shift_px, self.blur_sigma = int(shift_px), float(blur_sigma)

    def settings(self):
        return {"perturbations": ["horizontal flip", f"shift {self.shift_px} px right and down",
                                  f"Gaussian blur sigma {self.blur_sigma:g}"]}

    def perturb(self, crop: np.ndarray) -> list[np.ndarray]:
        s = self.shift_px
        m = np.float32([[1, 0, s], [0, 1, s]])
        shifted = cv2.warpAffine(crop, m, (crop.shape[1], crop.shape[0]), borderMode=cv2.BORDER_REPLICATE)
        return [cv2.flip(crop, 1), shifted, cv2.GaussianBlur(crop, (0, 0), self.blur_sigma)]

    def value(self, rgb, acq, system):
        embs = system.embed_perturbed(rgb, acq.detection, self.perturb)
        embs = embs / np.linalg.norm(embs, axis=1, keepdims=True)
        return float((embs[1:] @ embs[0]).mean())


class FaceQnet(Estimator):
    """FaceQnet v0 or v1 from a Keras ``.h5`` file or an ONNX conversion."""

    unit = "FaceQnet score in [0, 1]"

    def __init__(self, name: str, model: str | None = None, margin: float = 0.0):
        if name not in FACEQNET_URLS:
            raise ConfigError(f"{name} is not a FaceQnet version; choose from {', '.join(FACEQNET_URLS)}")
        self.name, self.margin = name, float(margin)
        if not model:
            raise ModelFilesMissing(
                f"{name} needs its model file: quality_settings.{name}.model=<{Path(FACEQNET_URLS[name]).name} or "
                f"an .onnx conversion>; the authors publish it at {FACEQNET_URLS[name]} (the README says how to "
                f"convert it to ONNX)")
        self.model_path = Path(model).expanduser()
        if not self.model_path.is_file():
            raise ModelFilesMissing(f"{name}: model file {self.model_path} not found; the authors publish it at "
                                    f"{FACEQNET_URLS[name]}")
        if self.model_path.suffix.lower() not in (".h5", ".onnx"):
            raise ConfigError(f"{name}: {self.model_path} must be a Keras .h5 file or an .onnx conversion")
        self._local = threading.local()

    def __getstate__(self):  # the model is loaded again where it is used (worker processes)
        return {k: v for k, v in self.__dict__.items() if k != "_local"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def settings(self):
        return {"model": str(self.model_path), "model_sha256": file_sha256(self.model_path), "margin": self.margin,
                "crop": "detector box widened by margin x its size per side, clipped to the image"}

    def preprocess(self, rgb: np.ndarray, bbox) -> np.ndarray:
        """(224, 224, 3) float32 BGR, unscaled: the authors' script's input, from our crop."""
        h, w = rgb.shape[:2]
        x1, y1, x2, y2 = (float(v) for v in bbox)
        mx, my = self.margin * (x2 - x1), self.margin * (y2 - y1)
        x1, y1 = max(0, int(np.floor(x1 - mx))), max(0, int(np.floor(y1 - my)))
        x2, y2 = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
        if x2 - x1 < 2 or y2 - y1 < 2:
            raise QualityFailed("the face box is empty after clipping to the image")
        bgr = cv2.cvtColor(np.ascontiguousarray(rgb[y1:y2, x1:x2]), cv2.COLOR_RGB2BGR)
        return cv2.resize(bgr, (224, 224)).astype(np.float32)

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        run = getattr(self._local, "run", None)
        if run is None:
            run = self._local.run = self._load()
        return np.asarray(run(batch), np.float64).reshape(len(batch), -1)[:, 0]

    def _load(self):
        if self.model_path.suffix.lower() == ".onnx":
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            sess = ort.InferenceSession(str(self.model_path), sess_options=opts,
                                        providers=["CPUExecutionProvider"])
            inp = sess.get_inputs()[0]
            nchw = len(inp.shape) == 4 and inp.shape[1] == 3
            return lambda x: sess.run(None, {inp.name: np.transpose(x, (0, 3, 1, 2)) if nchw else x})[0]
        try:
            from tensorflow import keras  # the authors' files are Keras 2 .h5 models
        except ImportError as exc:
            raise ModelFilesMissing(f"{self.name}: reading {self.model_path.name} needs TensorFlow: "
                                    f"pip install -e \".[faceqnet]\", or convert it to ONNX (see the README)") from exc
        model = keras.models.load_model(str(self.model_path), compile=False)
        return lambda x: model.predict(x, verbose=0)

    def value(self, rgb, acq, system):
        x = self.preprocess(rgb, acq.detection.bbox)[None]
        return float(np.clip(self._predict(x)[0], 0.0, 1.0))


ESTIMATORS = {"embedding_norm": EmbeddingNorm, "stability": Stability, "inter_eye_distance": InterEyeDistance,
              "roll": Roll, "yaw_proxy": YawProxy, "sharpness": Sharpness, "exposure": Exposure,
              "dynamic_range": DynamicRange, "faceqnet_v0": FaceQnet, "faceqnet_v1": FaceQnet}


def build_estimators(names, settings: dict | None = None) -> list[Estimator]:
    out = []
    for name in names:
        name = str(name)
        given = (settings or {}).get(name) or {}  # a settings dataclass (built-ins), or a plug-in's own node
        kw = dataclasses.asdict(given) if dataclasses.is_dataclass(given) else dict(given)
        if name not in ESTIMATORS:
            if name not in available("fr_eval.quality"):
                raise ConfigError(f"quality={name} is not known; choose from {', '.join(ESTIMATORS)} or a plug-in "
                                  f"({', '.join(sorted(available('fr_eval.quality'))) or 'none installed'})")
            try:
                out.append(load("fr_eval.quality", name, "quality")(**kw))
            except TypeError as exc:
                raise ConfigError(f"quality_settings.{name}: {exc}") from exc
            continue
        cls = ESTIMATORS[name]
        try:
            out.append(cls(name, **kw) if cls is FaceQnet else cls(**kw))
        except TypeError as exc:
            raise ConfigError(f"quality_settings.{name}: {exc}") from exc
    return out
