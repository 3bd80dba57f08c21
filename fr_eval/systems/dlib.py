"""dlib: its face detector (HOG, or the CNN ``mmod`` model), its shape predictors and its ResNet
recogniser (128-d), from ``dlib-bin`` and ``face_recognition_models`` on PyPI (``pip install -e ".[dlib]"``).

The pipeline is dlib's own, as ``face_recognition.face_encodings`` runs it: detection on the RGB
image upsampled ``upsample`` times, the 5-point shape predictor, ``dlib.get_face_chip`` (150 x 150,
padding 0.25) and ``compute_face_descriptor``. The 68-point predictor gives the five landmarks the
rest of fr-eval uses (eye centres, nose tip, mouth corners: quality measures and the audit's SSIM
crops); it does not touch the descriptor.

dlib compares descriptors by Euclidean distance (same person when d <= 0.6). fr-eval reports a
similarity, ``s = 1 - d^2 / 2``: a strictly decreasing function of dlib's own distance (so every
threshold, FMR, FNMR and DET point is dlib's), equal to the cosine similarity for unit vectors,
and ``s >= 0.82`` is dlib's ``d <= 0.6``. dlib's descriptors are not unit vectors (norms 1.29 to
1.59 on ``deepfunneled_small``), so this is not their cosine; it is computed exactly by
:func:`fr_eval.evaluation.euclidean_sides` as one dot product of augmented vectors.
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import cv2
import numpy as np

from ..devices import cpu_only
from ..errors import ModelFilesMissing
from ..provenance import model_file_record
from ..settings import DlibSettings
from .base import Detection, TwoStageSystem

#: the files of face_recognition_models 0.3.0, by role, with their sha256 (checked when loaded)
MODELS = {
    "detector_cnn": ("mmod_human_face_detector.dat",
                     "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6"),
    "landmarks_5": ("shape_predictor_5_face_landmarks.dat",
                    "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"),
    "landmarks_68": ("shape_predictor_68_face_landmarks.dat",
                     "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f"),
    "recogniser": ("dlib_face_recognition_resnet_model_v1.dat",
                   "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"),
}

#: dlib's same-person distance, and the similarity 1 - d^2/2 it becomes
DLIB_DISTANCE = 0.6
CHIP_SIZE, CHIP_PADDING = 150, 0.25

def models_dir() -> Path:
    """The folder of face_recognition_models' files, found without importing the package (it
    imports pkg_resources, which recent setuptools no longer has)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesMissing("the dlib system needs dlib's model files: pip install face_recognition_models "
                                "(or pip install -e \".[dlib]\")")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def model_file(role: str, path: str | None = None) -> Path:
    p = Path(path).expanduser() if path else models_dir() / MODELS[role][0]
    if not p.is_file():
        raise ModelFilesMissing(f"dlib model file not found: {p}")
    return p


def similarity_of_distance(d):
    """fr-eval's similarity for dlib's Euclidean distance ``d``: ``1 - d^2 / 2``."""
    return 1.0 - np.square(d) / 2.0


class DlibSystem(TwoStageSystem):
    name = "dlib"
    #: how this system's embeddings are compared (see the module's docstring)
    metric = "euclidean"

    output_keys = ("det_thresh", "upsample", "jitters", "max_det_size", "face_selection", "min_face_size",
                   "retry_scales")
    #: what describe() records beside the settings: facts of this system that no setting changes
    facts = {"alignment": f"dlib.get_face_chip from the 5-point shape ({CHIP_SIZE} px, padding {CHIP_PADDING})",
             "landmarks": "68-point predictor: eye centres, nose tip (30), mouth corners (48, 54)"}

    def __init__(self, settings: DlibSettings | None = None, **overrides):
        """Built from its settings (:class:`fr_eval.settings.DlibSettings`; keyword ``overrides``
        replace fields, parsed as the config's keys are)."""
        try:
            import dlib  # optional heavy dependency (dlib), loaded only when used
        except ImportError as exc:
            raise ModelFilesMissing("the dlib system needs dlib: pip install dlib-bin face_recognition_models "
                                    "(or pip install -e \".[dlib]\")") from exc
        s = self._settle(DlibSettings, settings, overrides)
        self._dlib = dlib
        # a dlib built with CUDA runs its CNN parts there by itself; dlib-bin is built without
        self.device_note = "" if getattr(dlib, "DLIB_USE_CUDA", False) else cpu_only(
            s.device, f"dlib {dlib.__version__} (built without CUDA)")
        self.detector_kind = "hog" if s.detector in (None, "hog") else "cnn"
        self.paths = {"landmarks_5": model_file("landmarks_5"), "landmarks_68": model_file("landmarks_68"),
                      "recogniser": model_file("recogniser", s.recogniser)}
        if self.detector_kind == "cnn":
            self.paths["detector"] = model_file("detector_cnn", None if s.detector == "cnn" else s.detector)
        self.upsample, self.jitters = s.upsample, s.jitters
        self._records = {role: model_file_record(p, role) for role, p in self.paths.items()}
        self._check_shipped()
        self._local = threading.local()
        self._models()  # load once here so that bad files fail at construction

    def _check_shipped(self) -> None:
        """The files taken from face_recognition_models must be the ones it ships (sha256)."""
        for role, rec in self._records.items():
            key = "detector_cnn" if role == "detector" else role
            shipped = models_dir() / MODELS[key][0]
            if Path(rec["path"]).resolve() == shipped.resolve() and rec["sha256"] != MODELS[key][1]:
                raise ModelFilesMissing(f"{shipped} has sha256 {rec['sha256']}, not face_recognition_models 0.3.0's "
                                        f"{MODELS[key][1]}: reinstall face_recognition_models")

    def _models(self):
        """This thread's dlib objects (not shared between threads)."""
        m = getattr(self._local, "models", None)
        if m is None:
            dlib = self._dlib
            det = (dlib.get_frontal_face_detector() if self.detector_kind == "hog"
                   else dlib.cnn_face_detection_model_v1(str(self.paths["detector"])))
            m = (det, dlib.shape_predictor(str(self.paths["landmarks_5"])),
                 dlib.shape_predictor(str(self.paths["landmarks_68"])),
                 dlib.face_recognition_model_v1(str(self.paths["recogniser"])))
            self._local.models = m
        return m

    def describe(self) -> dict:
        return {
            "name": self.name,
            "models": list(self._records.values()),
            "settings": {"detector": self.detector_kind, **self.output_settings(), **self.facts},
            "score": {"metric": self.metric, "similarity": "1 - d^2/2, d = dlib's Euclidean distance between the "
                                                           "128-d descriptors (face_recognition.face_distance)",
                      "dlib_threshold": {"distance": DLIB_DISTANCE,
                                         "similarity": float(similarity_of_distance(DLIB_DISTANCE))}},
            "runtime": {"backend": f"dlib {self._dlib.__version__}"
                                   + (" (CUDA)" if getattr(self._dlib, "DLIB_USE_CUDA", False) else " (CPU)"),
                        "recogniser_batched": True, "device_note": self.device_note},
        }

    def detection_scale(self, shape) -> float:
        return min(1.0, self.max_det_size / max(shape[:2]))

    def _detect(self, bgr):
        det, _, lm68, _ = self._models()
        s = self.detection_scale(bgr.shape)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        small = rgb if s >= 1.0 else cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        if self.detector_kind == "hog":
            rects, scores, _ = det.run(small, self.upsample, self.det_thresh)
        else:
            found = [d for d in det(small, self.upsample) if d.confidence >= self.det_thresh]
            rects, scores = [d.rect for d in found], [d.confidence for d in found]
        if not rects:
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        boxes = np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], np.float64) / s
        lmk = []
        for r in rects:  # five landmarks from the 68-point shape, on the scaled image
            p = np.array([[q.x, q.y] for q in lm68(small, r).parts()], np.float64) / s
            lmk.append([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])
        return boxes, np.asarray(scores, np.float64), np.asarray(lmk)

    def _align(self, bgr, det: Detection):
        dlib = self._dlib
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        b = det.bbox
        rect = dlib.rectangle(int(round(b[0])), int(round(b[1])), int(round(b[2])) - 1, int(round(b[3])) - 1)
        shape = self._models()[1](rgb, rect)
        return dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING)

    def _embed(self, crops):
        rec = self._models()[3]
        chips = [np.ascontiguousarray(c) for c in crops]
        return np.array(rec.compute_face_descriptor(chips, self.jitters), np.float64)
