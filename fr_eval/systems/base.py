"""The face-system interface: detect -> select one face -> align -> embed.

A system turns an RGB image into one embedding, or into a failure to acquire with a
reason. Scores between embeddings are cosine similarities (higher = more alike).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from ..settings import FACE_SELECTION, with_values  # the choices, defined with the config


@dataclass
class Detection:
    bbox: np.ndarray  # (4,) x1, y1, x2, y2 in image pixels
    score: float
    landmarks: np.ndarray  # (5, 2): right eye, left eye, nose, right and left mouth corner (image left to right)
    n_faces: int = 1  # faces found in the image (the kept one included)


@dataclass
class Acquisition:
    """The outcome of presenting one image to a face system."""

    embedding: np.ndarray | None = None  # float32, not normalised
    reason: str | None = None  # why it failed; None when acquired
    detection: Detection | None = None
    cacheable: bool = True  # False for failures that depend on files that may appear later
    #: an error of the machine (a library crash, out of memory), not a property of the image:
    #: never stored, retried on the next run, and reported apart from the failures to acquire
    transient: bool = False

    @property
    def ok(self) -> bool:
        return self.embedding is not None

    @property
    def kind(self) -> str:
        """``acquired``, ``failure`` (a property of the image, stored) or ``error`` (of the machine)."""
        return "acquired" if self.ok else ("error" if self.transient else "failure")

    @classmethod
    def failure(cls, reason: str, cacheable: bool = True, detection=None) -> "Acquisition":
        return cls(embedding=None, reason=reason, detection=detection, cacheable=cacheable)

    @classmethod
    def error(cls, reason: str, detection=None) -> "Acquisition":
        """A failure caused by the machine, not the image: not stored, retried next run."""
        return cls(embedding=None, reason=reason, detection=detection, cacheable=False, transient=True)


def error_text(exc: BaseException) -> str:
    """``Type: message`` on one line (library messages such as OpenCV's span several)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}".rstrip(": ")


#: images whose shorter side is below this many pixels hold no detectable face; they fail with
#: "image too small" before any model sees them (OpenCV asserts on images of a pixel or two)
MIN_IMAGE_SIDE = 16


@runtime_checkable
class FaceSystem(Protocol):
    name: str

    def describe(self) -> dict:
        """Models (path, bytes, sha256) and every setting that changes the output."""

    def acquire(self, images: list[np.ndarray]) -> list[Acquisition]:
        """One acquisition per RGB uint8 image, in order; never raises for a bad image."""


def metric_of(description: dict) -> str:
    """How a system's embeddings are compared (its ``describe()["score"]["metric"]``; cosine when unsaid)."""
    return str((description.get("score") or {}).get("metric", "cosine"))


def fingerprint(description: dict) -> str:
    """A short stable hash of what determines a system's output (models' sha256 + settings)."""
    core = {"name": description["name"],
            "models": sorted((m["role"], m["sha256"]) for m in description["models"]),
            "settings": description["settings"]}
    return hashlib.sha256(json.dumps(core, sort_keys=True, default=str).encode()).hexdigest()[:16]


def select_face(bboxes: np.ndarray, scores: np.ndarray, image_shape, rule: str) -> int:
    """Index of the face to keep among several detections."""
    if rule == "largest":
        area = (bboxes[:, 2] - bboxes[:, 0]) * (bboxes[:, 3] - bboxes[:, 1])
        return int(np.argmax(area))
    if rule == "score":
        return int(np.argmax(scores))
    if rule == "centre":  # closest box centre to the image centre
        h, w = image_shape[:2]
        cx = (bboxes[:, 0] + bboxes[:, 2]) / 2 - w / 2
        cy = (bboxes[:, 1] + bboxes[:, 3]) / 2 - h / 2
        return int(np.argmin(cx ** 2 + cy ** 2))
    raise ValueError(f"face_selection={rule} is not known; choose from {', '.join(FACE_SELECTION)}")


#: no retry on images smaller than this (pixels, shorter side): too small to hold a face the first
#: pass missed for being too large
MIN_RETRY_SIDE = 64


def _plausible(bboxes, scores, lmk, shape):
    """Drop detections that cannot be a face in this image: a non-finite value, an empty box, or
    a box centre outside the image. (OpenCV's YuNet returned boxes at 1e11 px with score 1 for a
    black 32 x 32 image after a larger one; such output must not count as an acquisition.)"""
    bboxes, scores, lmk = np.asarray(bboxes, np.float64), np.asarray(scores, np.float64), np.asarray(lmk, np.float64)
    if bboxes.size == 0:
        return bboxes.reshape(0, 4), scores.reshape(0), lmk.reshape(0, 5, 2)
    h, w = shape[:2]
    cx, cy = (bboxes[:, 0] + bboxes[:, 2]) / 2, (bboxes[:, 1] + bboxes[:, 3]) / 2
    keep = (np.isfinite(bboxes).all(1) & np.isfinite(scores) & np.isfinite(lmk.reshape(len(lmk), -1)).all(1)
            & (bboxes[:, 2] > bboxes[:, 0]) & (bboxes[:, 3] > bboxes[:, 1])
            & (cx >= 0) & (cx <= w) & (cy >= 0) & (cy <= h))
    return bboxes[keep], scores[keep], lmk[keep]


def _rebuild(cls, kwargs):
    return cls(**kwargs)


def _jsonable(value):
    return list(value) if isinstance(value, (list, tuple)) else value


class TwoStageSystem:
    """Shared acquisition loop; subclasses provide ``_detect``, ``_align`` and ``_embed``
    and set ``name``, ``det_thresh``, ``face_selection`` and ``min_face_size`` (the shorter
    side of the kept box in pixels below which the sample fails).

    ``_detect`` and ``_align`` receive the image in BGR order (OpenCV's and insightface's
    convention), converted once per image. ``acquire`` must be safe to call from several
    threads at once (the engine runs one chunk of images per worker thread).
    """

    name = "base"
    det_thresh = 0.5
    face_selection = "largest"
    min_face_size = 0.0
    #: when no face is found, detection is tried again on the image scaled by each factor in
    #: turn: detectors with a fixed largest anchor (SCRFD at 640 px) miss faces that fill the
    #: frame, as in tightly cropped generated portraits
    retry_scales: tuple = ()
    #: constructor arguments; a system pickles as this recipe and is rebuilt (models reloaded)
    #: in a worker process, so no ONNX session or OpenCV object crosses a process boundary
    _init_kwargs: dict = {}
    #: the system's settings (a dataclass of :mod:`fr_eval.settings`: every parameter is its field,
    #: written once there with its default and parser); None for a plug-in that keeps its own
    settings = None
    #: the settings fields that change the output: ``describe()["settings"]``, and so the store's
    #: fingerprint, are read from them (:meth:`output_settings`)
    output_keys: tuple = ("det_thresh", "nms_thresh", "max_det_size", "face_selection", "min_face_size",
                          "retry_scales")

    def _settle(self, settings_class, settings, overrides: dict, **recipe):
        """Take the system's settings (``settings``, else the defaults, with keyword ``overrides``
        parsed by each field's parser), keep them as the pickle recipe, and set the detection
        settings every two-stage system shares."""
        s = with_values(settings if settings is not None else settings_class(), **overrides)
        self.settings, self._init_kwargs = s, {"settings": s, **recipe}
        self.det_thresh, self.nms_thresh, self.max_det_size = s.det_thresh, s.nms_thresh, s.max_det_size
        self.face_selection, self.min_face_size = s.face_selection, s.min_face_size
        self.retry_scales = tuple(s.retry_scales or ())
        return s

    def output_settings(self) -> dict:
        """The settings that change the output, as ``describe()`` records them."""
        return {k: _jsonable(getattr(self.settings, k)) for k in self.output_keys}

    def __reduce__(self):
        return (_rebuild, (type(self), self._init_kwargs))

    def _detect(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bboxes (N,4), scores (N,), landmarks (N,5,2)) in image coordinates."""
        raise NotImplementedError

    def _align(self, bgr: np.ndarray, det: Detection) -> np.ndarray:
        raise NotImplementedError

    def detection_scale(self, shape) -> float:
        """The scale at which the detector sees an image of this shape on its first pass."""
        return 1.0

    def _retry_image(self, bgr: np.ndarray, factor: float) -> tuple[np.ndarray, float, float]:
        """The image for a retry in which faces look ``factor`` times as large to the detector
        as on the first pass, and the (x, y) factors that map its coordinates back."""
        f = factor * self.detection_scale(bgr.shape)
        small = cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        return small, bgr.shape[1] / small.shape[1], bgr.shape[0] / small.shape[0]  # exact, after rounding

    def _embed(self, crops: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def embed_perturbed(self, rgb: np.ndarray, det: Detection, perturb) -> np.ndarray:
        """Embeddings (not normalised) of the aligned face and of ``perturb(crop)``'s crops, in
        that order: for quality estimators that probe how stable the embedding is."""
        bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
        crop = self._align(bgr, det)
        crops = [crop, *perturb(crop)]
        return np.asarray(self._embed(crops), np.float64).reshape(len(crops), -1)

    def detect_one(self, bgr: np.ndarray) -> Detection | str:
        """The kept face in a BGR image, or the reason why there is none."""
        bboxes, scores, lmk = _plausible(*self._detect(bgr), bgr.shape)
        for f in self.retry_scales:
            if len(bboxes) or min(bgr.shape[:2]) * f * self.detection_scale(bgr.shape) < MIN_RETRY_SIDE:
                break
            small, sx, sy = self._retry_image(bgr, f)
            if min(small.shape[:2]) < MIN_RETRY_SIDE:
                break
            bboxes, scores, lmk = _plausible(*self._detect(small), small.shape)
            bboxes = bboxes * [sx, sy, sx, sy]
            lmk = lmk * [sx, sy]
        if len(bboxes) == 0:
            retried = f"; also at scale {', '.join(f'{f:g}' for f in self.retry_scales)}" if self.retry_scales else ""
            return f"no face detected (detection threshold {self.det_thresh}{retried})"
        i = select_face(bboxes, scores, bgr.shape, self.face_selection)
        det = Detection(bbox=np.asarray(bboxes[i], np.float32), score=float(scores[i]),
                        landmarks=np.asarray(lmk[i], np.float32), n_faces=len(bboxes))
        side = min(det.bbox[2] - det.bbox[0], det.bbox[3] - det.bbox[1])
        if side < self.min_face_size:
            return f"face too small ({side:.0f} px < min_face_size {self.min_face_size:g})"
        return det

    def acquire_all_faces(self, rgb: np.ndarray) -> list[Acquisition] | str:
        """Every face of one image, left to right (by box centre), each aligned and embedded as :meth:`acquire`
        embeds the kept one; faces under min_face_size are left out (as :meth:`detect_one` refuses them). The
        reason, as a string, where the image has none. For images that show several people (the audit's
        multi-person rows); a crash of a model is raised, the caller's to count as an error of the machine."""
        h, w = rgb.shape[:2]
        if min(h, w) < MIN_IMAGE_SIDE:
            return f"image too small ({w}\u00d7{h} px; at least {MIN_IMAGE_SIDE} px on each side)"
        bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
        bboxes, scores, lmk = _plausible(*self._detect(bgr), bgr.shape)
        side = np.minimum(bboxes[:, 2] - bboxes[:, 0], bboxes[:, 3] - bboxes[:, 1]) if len(bboxes) else np.zeros(0)
        keep = np.flatnonzero(side >= self.min_face_size)
        if keep.size == 0:
            return (f"no face detected (detection threshold {self.det_thresh})" if len(bboxes) == 0 else
                    f"every face too small (< min_face_size {self.min_face_size:g} px)")
        keep = keep[np.argsort((bboxes[keep, 0] + bboxes[keep, 2]) / 2, kind="stable")]
        dets = [Detection(bbox=np.asarray(bboxes[i], np.float32), score=float(scores[i]),
                          landmarks=np.asarray(lmk[i], np.float32), n_faces=int(keep.size)) for i in keep]
        feats = np.asarray(self._embed([self._align(bgr, d) for d in dets]), np.float32).reshape(len(dets), -1)
        return [Acquisition(embedding=f, detection=d) if np.all(np.isfinite(f)) and np.any(f) else
                Acquisition.failure("embedding is not finite or all zero", detection=d) for f, d in zip(feats, dets)]

    def acquire(self, images: list[np.ndarray]) -> list[Acquisition]:
        out: list[Acquisition | None] = [None] * len(images)
        crops, idx, dets = [], [], []
        for i, rgb in enumerate(images):
            h, w = rgb.shape[:2]
            if min(h, w) < MIN_IMAGE_SIDE:
                out[i] = Acquisition.failure(f"image too small ({w}\u00d7{h} px; at least {MIN_IMAGE_SIDE} px "
                                             f"on each side)")
                continue
            # cv2's vectorised channel swap: a copy through a reversed-stride view costs ~0.3 ms
            bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
            try:
                det = self.detect_one(bgr)
            except Exception as exc:  # a model's crash is the machine's error, not the image's: retried next run
                out[i] = Acquisition.error(f"detector error: {error_text(exc)}")
                continue
            if isinstance(det, str):
                out[i] = Acquisition.failure(det)
                continue
            try:
                crops.append(self._align(bgr, det))
            except Exception as exc:
                out[i] = Acquisition.error(f"alignment error: {error_text(exc)}", detection=det)
                continue
            idx.append(i)
            dets.append(det)
        if crops:
            try:
                feats = list(np.asarray(self._embed(crops), dtype=np.float32).reshape(len(crops), -1))
            except Exception:  # find the crop(s) the recogniser fails on; the others still count
                feats = []
                for c in crops:
                    try:
                        feats.append(np.asarray(self._embed([c]), dtype=np.float32).ravel())
                    except Exception as exc:
                        feats.append(f"recogniser error: {error_text(exc)}")
            for i, det, f in zip(idx, dets, feats):
                if isinstance(f, str):
                    out[i] = Acquisition.error(f, detection=det)
                    continue
                if not np.all(np.isfinite(f)) or not np.any(f):
                    out[i] = Acquisition.failure("embedding is not finite or all zero", detection=det)
                else:
                    out[i] = Acquisition(embedding=f, detection=det)
        return out  # type: ignore[return-value]
