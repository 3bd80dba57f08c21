"""Head pose and expression from 68 landmarks (issue 39, first part): a generic face projected at known angles is
read back within 2°; a real photo and its mirror read opposite yaws; the expression ratios on hand-placed eyes and
lips."""
import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from fr_eval import pose as P

W, H = 640, 480


def projected(yaw, pitch, roll, distance=1500.0):
    """68 landmarks of the generic face turned by (yaw, pitch, roll), 1.5 m from the camera; the points the pose
    does not use sit at the face's centre."""
    R = Rotation.from_euler("YXZ", [yaw, pitch, roll], degrees=True).as_matrix()
    rvec, _ = cv2.Rodrigues(R)
    img, _ = cv2.projectPoints(P.MODEL, rvec, np.array([0.0, 0.0, distance]), P.camera(W, H), np.zeros(4))
    pts = np.tile(img.reshape(-1, 2).mean(axis=0), (68, 1))
    pts[list(P.POSE_POINTS.values())] = img.reshape(-1, 2)
    return pts


@pytest.mark.parametrize("yaw,pitch,roll", [(0, 0, 0), (30, 0, 0), (-25, 10, 0), (15, -12, 8), (-40, 5, -15)])
def test_a_known_rotation_is_read_back_within_two_degrees(yaw, pitch, roll):
    got = P.head_pose(projected(yaw, pitch, roll), W, H)
    assert got["ok"] and got["reason"] == ""
    assert (got["yaw"], got["pitch"], got["roll"]) == (pytest.approx(yaw, abs=2), pytest.approx(pitch, abs=2),
                                                       pytest.approx(roll, abs=2))


def test_signs_and_the_distance_between_poses():
    def nose_from_eyes(pts):  # the nose tip (nearest the camera) against the eyes' midpoint
        return pts[30] - (pts[36] + pts[45]) / 2

    right = P.head_pose(projected(30, 0, 0), W, H)
    front = nose_from_eyes(projected(0, 0, 0))
    assert nose_from_eyes(projected(30, 0, 0))[0] < front[0] - 20  # yaw > 0: turned towards the image's left
    down = P.head_pose(projected(0, 15, 0), W, H)
    assert nose_from_eyes(projected(0, 15, 0))[1] > front[1] + 10 and down["pitch"] == pytest.approx(15, abs=2)
    assert P.pose_distance(right, P.head_pose(projected(-30, 0, 0), W, H)) == pytest.approx(60, abs=2)
    assert P.pose_distance(right, right) == pytest.approx(0, abs=1e-6)


def test_a_failed_fit_is_a_reason_not_a_crash():
    assert P.head_pose(np.zeros((5, 2)), W, H) == {"yaw": pytest.approx(np.nan, nan_ok=True),
                                                   "pitch": pytest.approx(np.nan, nan_ok=True),
                                                   "roll": pytest.approx(np.nan, nan_ok=True), "ok": False,
                                                   "reason": "5 landmarks (68 needed)"}
    bad = projected(0, 0, 0)
    bad[8] = np.nan
    assert not P.head_pose(bad, W, H)["ok"]


def test_expression_on_hand_placed_eyes_and_lips():
    p = np.zeros((68, 2))
    for a, x0 in ((36, 100.0), (42, 200.0)):  # each eye 40 px wide, opened 12 px: EAR = (12 + 12) / (2 * 40)
        p[a], p[a + 3] = (x0, 100), (x0 + 40, 100)
        p[a + 1], p[a + 2] = (x0 + 13, 94), (x0 + 27, 94)
        p[a + 5], p[a + 4] = (x0 + 13, 106), (x0 + 27, 106)
    p[48], p[54] = (120, 200), (220, 200)  # mouth 100 px wide, eyes' outer corners 140 px apart
    p[60], p[64] = (130, 200), (210, 200)  # inner mouth 80 px; lips 20 px apart
    p[62], p[66] = (170, 190), (170, 210)
    e = P.expression(p)
    assert e["eye_aspect_ratio"] == pytest.approx(0.3) and e["mouth_opening"] == pytest.approx(0.25)
    assert e["mouth_width"] == pytest.approx(100 / 140)


def test_a_real_photo_and_its_mirror_read_opposite_yaws(lfw_small):
    dlib = pytest.importorskip("dlib", reason="dlib is not installed (pip install -e '.[dlib]')")
    from fr_eval.images import load_image
    from fr_eval.systems.dlib import model_file
    detector, predictor = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(model_file("landmarks_68")))

    def pose_of(rgb):
        found = detector(rgb, 1)
        if not found:
            return {"yaw": 0.0}
        box = max(found, key=lambda r: r.area())
        shape = predictor(rgb, box)
        pts = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], float)
        return P.head_pose(pts, rgb.shape[1], rgb.shape[0])

    photos = [load_image(p) for p in sorted(lfw_small.rglob("*.jpg"))[:12]]
    poses = [pose_of(p) for p in photos]
    k = int(np.argmax([abs(x["yaw"]) for x in poses]))  # the most turned of twelve
    mirrored = pose_of(np.ascontiguousarray(photos[k][:, ::-1]))
    assert abs(poses[k]["yaw"]) > 5 and np.sign(mirrored["yaw"]) == -np.sign(poses[k]["yaw"])
    assert mirrored["yaw"] == pytest.approx(-poses[k]["yaw"], abs=6)
