"""Head pose and expression from 68 landmarks (issue 39, first part): a generic face projected at known angles is
read back within 2°; a real photo and its mirror read opposite yaws; the expression ratios on hand-placed eyes and
lips."""
import numpy as np
import pytest

from fr_eval import pose


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
        return pose.head_pose(pts, rgb.shape[1], rgb.shape[0])

    photos = [load_image(p) for p in sorted(lfw_small.rglob("*.jpg"))[:12]]
    poses = [pose_of(p) for p in photos]
    k = int(np.argmax([abs(x["yaw"]) for x in poses]))  # the most turned of twelve
    mirrored = pose_of(np.ascontiguousarray(photos[k][:, ::-1]))
    assert abs(poses[k]["yaw"]) > 5 and np.sign(mirrored["yaw"]) == -np.sign(poses[k]["yaw"])
    assert mirrored["yaw"] == pytest.approx(-poses[k]["yaw"], abs=6)
