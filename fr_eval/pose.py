"""Head pose and expression from 68 facial landmarks (dlib's iBUG 300-W layout), as pure functions.

* **Pose**: yaw, pitch and roll (degrees) of a generic 3-D face fitted to six of the landmarks (nose tip, chin,
  the eyes' outer corners, the mouth's corners) by ``cv2.solvePnP`` under a pinhole camera whose focal length is
  the image's width and whose centre is the image's (no distortion). Six points and a generic face rather than a
  dense 3-D morphable model: dlib's 68-point predictor ships with ``face_recognition_models`` (offline, no extra
  weights), and the audit needs pose *differences* between photos of one person, which the generic face's error
  (a few degrees, the same for both photos) largely cancels. The model is in camera axes (x to the image's right,
  y down, z away from the camera), so a face looking into the camera has the identity rotation; the rotation is
  read as R = Ry(yaw) Rx(pitch) Rz(roll) (``scipy.spatial.transform.Rotation``, intrinsic "YXZ"): yaw > 0 turns
  the face towards the image's left side, pitch > 0 tilts the chin down, roll > 0 turns it clockwise on the
  image. A mirrored photo has the opposite yaw and roll.
* **Expression**: the eye aspect ratio (Soukupová and Čech, 2016: the eye's two vertical openings over twice its
  width, both eyes averaged; about 0.3 open, under 0.2 closed), the mouth's opening (inner lips' gap over the
  inner mouth width) and its width over the distance between the eyes' outer corners (a smile widens it).
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

#: the landmarks the pose is fitted to (iBUG 300-W indices) and the generic face's points for them, in mm
#: (a common anthropometric six-point face; camera axes: x right, y down, z away from the camera)
POSE_POINTS = {"nose tip": 30, "chin": 8, "left eye outer corner": 36, "right eye outer corner": 45,
               "left mouth corner": 48, "right mouth corner": 54}
MODEL = np.array([(0.0, 0.0, 0.0), (0.0, 330.0, 65.0), (-225.0, -170.0, 135.0), (225.0, -170.0, 135.0),
                  (-150.0, 150.0, 125.0), (150.0, 150.0, 125.0)], np.float64)


def camera(width: int, height: int) -> np.ndarray:
    """The pinhole camera assumed for a photo: focal length = the image's width, centre = its centre."""
    return np.array([[width, 0.0, width / 2.0], [0.0, width, height / 2.0], [0.0, 0.0, 1.0]])


def head_pose(landmarks: np.ndarray, width: int, height: int) -> dict:
    """Yaw, pitch and roll (degrees) of a face from its 68 landmarks ((68, 2) pixels) in a ``width`` x
    ``height`` photo; ``ok`` False with the ``reason`` where the fit fails (then the angles are nan)."""
    pts = np.asarray(landmarks, np.float64).reshape(-1, 2)
    nan = {"yaw": float("nan"), "pitch": float("nan"), "roll": float("nan")}
    if pts.shape[0] != 68 or not np.isfinite(pts).all():
        return {**nan, "ok": False, "reason": f"{pts.shape[0]} landmarks (68 needed)"}
    image = pts[list(POSE_POINTS.values())]
    ok, rvec, tvec = cv2.solvePnP(MODEL, image, camera(width, height), np.zeros(4), flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok or tvec[2, 0] <= 0:
        return {**nan, "ok": False, "reason": "the pose fit failed (cv2.solvePnP)"}
    R, _ = cv2.Rodrigues(rvec)
    yaw, pitch, roll = Rotation.from_matrix(R).as_euler("YXZ", degrees=True)
    return {"yaw": float(yaw), "pitch": float(pitch), "roll": float(roll), "ok": True, "reason": ""}


def pose_distance(a: dict, b: dict) -> float:
    """The angle (degrees) of the rotation between two head poses (geodesic distance on SO(3))."""
    ra = Rotation.from_euler("YXZ", [a["yaw"], a["pitch"], a["roll"]], degrees=True)
    rb = Rotation.from_euler("YXZ", [b["yaw"], b["pitch"], b["roll"]], degrees=True)
    return float(np.degrees((ra.inv() * rb).magnitude()))


def expression(landmarks: np.ndarray) -> dict:
    """Eye aspect ratio (both eyes), mouth opening and mouth width (see the module's docstring)."""
    p = np.asarray(landmarks, np.float64).reshape(-1, 2)

    def d(i, j):
        return float(np.hypot(*(p[i] - p[j])))

    def ear(a):  # the six points of one eye, a..a+5, corners at a and a+3
        return (d(a + 1, a + 5) + d(a + 2, a + 4)) / (2.0 * d(a, a + 3))
    eyes = d(36, 45)
    return {"eye_aspect_ratio": (ear(36) + ear(42)) / 2.0, "mouth_opening": d(62, 66) / d(60, 64),
            "mouth_width": d(48, 54) / eyes}


#: the expression descriptors a distance between expressions is taken over
EXPRESSION_KEYS = ("eye_aspect_ratio", "mouth_opening", "mouth_width")


def expression_distance(a: dict, b: dict, scale) -> float:
    """The Euclidean distance between two faces' expression descriptors, each divided by its ``scale`` (its
    spread among real photos, so that no descriptor dominates by its units)."""
    return float(np.linalg.norm([(a[k] - b[k]) / s for k, s in zip(EXPRESSION_KEYS, scale)]))


def spread(faces: list[dict], scale) -> tuple[float, float]:
    """(pose, expression) spread of one identity's faces: the median pose distance (degrees) and the median
    expression distance over every pair of its faces with a fit; NaN with fewer than two. A generator that
    always draws its reference's pose and expression has almost none."""
    ok = [f for f in faces if f.get("ok")]
    if len(ok) < 2:
        return float("nan"), float("nan")
    pairs = [(a, b) for i, a in enumerate(ok) for b in ok[i + 1:]]
    return (float(np.median([pose_distance(a, b) for a, b in pairs])),
            float(np.median([expression_distance(a, b, scale) for a, b in pairs])))
