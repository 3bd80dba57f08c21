"""Head pose and expression from 68 landmarks (issue 39, first part): a generic face projected at known angles is
read back within 2°; a real photo and its mirror read opposite yaws; the expression ratios on hand-placed eyes and
lips."""
import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from fr_eval import pose as fr_pose


W, H = 640, 480


def projected(yaw, pitch, roll, distance=1500.0):
    """68 landmarks of the generic face turned by (yaw, pitch, roll), 1.5 m from the camera; the points the pose
    does not use sit at the face's centre."""
    R = Rotation.from_euler("YXZ", [yaw, pitch, roll], degrees=True).as_matrix()
    rvec, _ = cv2.Rodrigues(R)
    img, _ = cv2.projectPoints(fr_pose.MODEL, rvec, np.array([0.0, 0.0, distance]), fr_pose.camera(W, H), np.zeros(4))
    pts = np.tile(img.reshape(-1, 2).mean(axis=0), (68, 1))
    pts[list(fr_pose.POSE_POINTS.values())] = img.reshape(-1, 2)
    return pts


@pytest.mark.parametrize("yaw,pitch,roll", [(0, 0, 0), (30, 0, 0), (-25, 10, 0), (15, -12, 8), (-40, 5, -15)])
def test_a_known_rotation_is_read_back_within_two_degrees(yaw, pitch, roll):
    got = fr_pose.head_pose(projected(yaw, pitch, roll), W, H)
    assert got["ok"] and got["reason"] == ""
    assert (got["yaw"], got["pitch"], got["roll"]) == (pytest.approx(yaw, abs=2), pytest.approx(pitch, abs=2),
                                                       pytest.approx(roll, abs=2))


def test_signs_and_the_distance_between_poses():
    def nose_from_eyes(pts):  # the nose tip (nearest the camera) against the eyes' midpoint
        return pts[30] - (pts[36] + pts[45]) / 2

    right = fr_pose.head_pose(projected(30, 0, 0), W, H)
    front = nose_from_eyes(projected(0, 0, 0))
    assert nose_from_eyes(projected(30, 0, 0))[0] < front[0] - 20  # yaw > 0: turned towards the image's left
    down = fr_pose.head_pose(projected(0, 15, 0), W, H)
    assert nose_from_eyes(projected(0, 15, 0))[1] > front[1] + 10 and down["pitch"] == pytest.approx(15, abs=2)
    assert fr_pose.pose_distance(right, fr_pose.head_pose(projected(-30, 0, 0), W, H)) == pytest.approx(60, abs=2)
    assert fr_pose.pose_distance(right, right) == pytest.approx(0, abs=1e-6)


def test_a_failed_fit_is_a_reason_not_a_crash():
    assert fr_pose.head_pose(np.zeros((5, 2)), W, H) == {"yaw": pytest.approx(np.nan, nan_ok=True),
                                                   "pitch": pytest.approx(np.nan, nan_ok=True),
                                                   "roll": pytest.approx(np.nan, nan_ok=True), "ok": False,
                                                   "reason": "5 landmarks (68 needed)"}
    bad = projected(0, 0, 0)
    bad[8] = np.nan
    assert not fr_pose.head_pose(bad, W, H)["ok"]


def test_expression_on_hand_placed_eyes_and_lips():
    p = np.zeros((68, 2))
    for a, x0 in ((36, 100.0), (42, 200.0)):  # each eye 40 px wide, opened 12 px: EAR = (12 + 12) / (2 * 40)
        p[a], p[a + 3] = (x0, 100), (x0 + 40, 100)
        p[a + 1], p[a + 2] = (x0 + 13, 94), (x0 + 27, 94)
        p[a + 5], p[a + 4] = (x0 + 13, 106), (x0 + 27, 106)
    p[48], p[54] = (120, 200), (220, 200)  # mouth 100 px wide, eyes' outer corners 140 px apart
    p[60], p[64] = (130, 200), (210, 200)  # inner mouth 80 px; lips 20 px apart
    p[62], p[66] = (170, 190), (170, 210)
    e = fr_pose.expression(p)
    assert e["eye_aspect_ratio"] == pytest.approx(0.3) and e["mouth_opening"] == pytest.approx(0.25)
    assert e["mouth_width"] == pytest.approx(100 / 140)


# -- pose, expression and scene copying (the audit's copy table) ------------------------------------------------------
def _plan(tmp_path, n_ids=4, photos=4):
    """Each identity: ``photos`` real photos, each its own link group, and one generated image per photo linked to
    it (files written so that every photo has its own sha256)."""
    from types import SimpleNamespace

    from fr_eval.datasets.base import Sample
    refs, gen = [], []
    for i in range(n_ids):
        for k in range(photos):
            p = tmp_path / f"id{i}_ref{k}.bin"
            p.write_bytes(f"{i}-{k}".encode())
            refs.append(Sample(p, p.name, f"id{i}", "reference", (("group", f"g{i}{k}"),)))
            gen.append(Sample(p, f"id{i}_gen{k}", f"id{i}", "generated", (("group", f"g{i}{k}"),)))
    return SimpleNamespace(refs=refs, gen=gen, gset=SimpleNamespace(columns=["group"]))


def _face(yaw, pitch=0.0, roll=0.0, ear=0.3, mouth=0.2, width=0.7):
    return {"yaw": yaw, "pitch": pitch, "roll": roll, "ok": True, "reason": "", "eye_aspect_ratio": ear,
            "mouth_opening": mouth, "mouth_width": width}


def test_images_in_their_inputs_pose_are_flagged_new_poses_are_not(tmp_path):
    from fr_eval.stages.audit_score import pose_copy
    plan = _plan(tmp_path)
    rng = np.random.default_rng(0)
    refs = [_face(rng.uniform(-40, 40), rng.uniform(-15, 15), rng.uniform(-10, 10), rng.uniform(0.2, 0.35),
                  rng.uniform(0.0, 0.4), rng.uniform(0.5, 0.8)) for _ in plan.refs]
    copies = pose_copy(plan, {"available": True, "refs": refs, "gen": [dict(r) for r in refs]}, 5.0)
    assert copies["available"] and copies["pose_copied"].all() and copies["expression_copied"].all()
    assert np.allclose(copies["pose_to_inputs"], 0, atol=1e-6) and copies["n_real_pairs"] == 4 * 6
    # the same people drawn in new poses: some 20-60 degrees from every input
    new = [_face(r["yaw"] + rng.choice([-1, 1]) * rng.uniform(20, 60), r["pitch"], r["roll"],
                 r["eye_aspect_ratio"] + 0.1, r["mouth_opening"] + 0.3, r["mouth_width"]) for r in refs]
    fresh = pose_copy(plan, {"available": True, "refs": refs, "gen": new}, 5.0)
    assert fresh["pose_copied"].mean() <= 0.1 and fresh["expression_copied"].mean() <= 0.1
    assert np.all(fresh["pose_to_inputs"] >= 19)
    # without dlib (or without a link column) the reason is kept, never a crash
    assert pose_copy(plan, {"available": False, "reason": "dlib is not installed"}, 5.0)["reason"] == \
        "dlib is not installed"


def test_scene_similarity_and_framing_on_synthetic_thumbnails():
    from fr_eval.stages.audit_score import SCENE_SIZE, framing_shift, scene_similarity
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:SCENE_SIZE, 0:SCENE_SIZE]
    wall = (120 + 60 * np.sin(xx / 2.0) + 40 * np.cos(yy / 3.0)).clip(0, 255)  # a background with a layout
    other = rng.uniform(0, 255, (SCENE_SIZE, SCENE_SIZE))
    box = np.zeros((SCENE_SIZE, SCENE_SIZE), bool)
    box[4:12, 5:11] = True
    where = np.array([5, 4, 11, 12]) / SCENE_SIZE
    same = scene_similarity((wall, box, where), (wall, box, where))
    assert same == pytest.approx(1.0)
    assert scene_similarity((wall, box, where), (other, box, where)) < 0.3
    # one photo in two files (re-encoded: a little noise) is one photo; another scene is not
    from fr_eval.stages.audit_score import one_photo
    noisy = (wall + rng.normal(0, 2, wall.shape)).clip(0, 255)
    assert one_photo((wall, box, where), (noisy, box, where)) and not one_photo((wall, box, where), (other, box, where))
    moved = where + np.array([0.1, 0, 0.1, 0])
    assert framing_shift((wall, box, where), (wall, box, moved)) == pytest.approx(0.1)
    assert framing_shift((wall, box, where), (wall, box, where)) == 0.0


def test_the_spread_of_a_method_that_always_draws_one_pose():
    """A method that always draws its reference's pose has no spread within an identity; real photos have some."""
    from fr_eval.pose import spread
    same = [_face(10.0, 5.0, 0.0)] * 4
    assert spread(same, [0.05, 0.1, 0.05]) == (0.0, 0.0)
    varied = [_face(y, 0.0, 0.0, 0.3, m) for y, m in ((-30, 0.0), (0, 0.2), (30, 0.4))]
    pose, expr = spread(varied, [0.05, 0.1, 0.05])
    assert pose == pytest.approx(30.0, abs=1e-6) and expr == pytest.approx(2.0)  # median of 30, 30, 60; 2, 2, 4
    assert np.isnan(spread(varied[:1], [1, 1, 1])[0])  # one face: no spread
    assert np.isnan(spread([{**_face(0), "ok": False}, _face(1)], [1, 1, 1])[1])


def test_failed_fits_are_counted_by_reason():
    """Every acquired face is an attempt of the landmark fit: the failures are counted by reason, never dropped;
    an image with no acquired face is not an attempt."""
    from fr_eval.report.audit import _fits_note
    from fr_eval.stages.audit_figures import pose_fits
    fits = pose_fits({"refs": [_face(0), {"ok": False, "reason": "no face acquired"}],
                      "gen": [_face(5), {"ok": False, "reason": "the fit did not converge"},
                              {"ok": False, "reason": "the fit did not converge"}, {"ok": False, "reason": "unreadable"}]})
    assert fits == {"references": {"faces": 1, "measured": 1, "failed": {}},
                    "generated": {"faces": 4, "measured": 1, "failed": {"the fit did not converge": 2, "unreadable": 1}}}
    assert _fits_note(fits) == ("Head pose measured on 1 of 1 acquired reference faces and 1 of 4 acquired generated "
                                "faces (not measured: 2 the fit did not converge; 1 unreadable); per image: pose_reason "
                                "in generated_images.csv.")
