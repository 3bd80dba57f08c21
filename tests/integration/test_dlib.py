"""system=dlib: dlib's own pipeline, its distance made a similarity, and its figures on LFW."""
import json

import numpy as np
import pytest

from conftest import LFW_SMALL, SHARED, need

dlib = pytest.importorskip("dlib", reason="dlib is not installed (pip install -e '.[dlib]')")
PAIRS = SHARED / "data/lfw/protocol/pairs.txt"


@pytest.fixture(scope="module")
def system():
    from fr_eval.systems import build_system
    try:
        s, note = build_system({"name": "dlib"})
    except Exception as exc:  # face_recognition_models missing
        pytest.skip(f"the dlib system could not be built: {exc}")
    return s


def test_embeddings_and_scores_are_dlibs_own(system):
    """The descriptors are those of dlib's API called as face_recognition does (HOG, upsample 1,
    the 5-point shape, compute_face_descriptor), and a reference x probe score is exactly
    1 - d^2/2 for face_recognition.face_distance's d (numpy's norm of the difference)."""
    from fr_eval.evaluation import SideData
    from fr_eval.images import load_image
    from fr_eval.systems.dlib import model_file

    people = sorted(p for p in need(LFW_SMALL).iterdir() if p.is_dir())[:3]
    files = [f for p in people for f in sorted(p.glob("*.jpg"))[:2]]
    images = [load_image(f) for f in files]
    acqs = system.acquire(images)
    assert all(a.ok for a in acqs), [a.reason for a in acqs]
    det = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(str(model_file("landmarks_5")))
    rec = dlib.face_recognition_model_v1(str(model_file("recogniser")))
    ref = []
    for img in images:
        box = det(img, 1)[0]
        ref.append(np.array(rec.compute_face_descriptor(img, sp(img, box))))
    ref = np.array(ref)
    ours = np.array([a.embedding for a in acqs], np.float64)
    assert np.allclose(ours, ref, atol=1e-5)
    r = SideData.from_acquisitions(acqs, "euclidean", "reference")
    p = SideData.from_acquisitions(acqs, "euclidean", "probe")
    scores = r.emb.astype(np.float64) @ p.emb.astype(np.float64).T
    d = np.linalg.norm(ref[:, None] - ref[None], axis=2)
    assert np.allclose(scores, 1 - d ** 2 / 2, atol=2e-5)
    assert np.allclose(np.diag(scores), 1.0, atol=2e-5)
    same = np.equal.outer(np.repeat(np.arange(3), 2), np.repeat(np.arange(3), 2))
    assert (d[same & ~np.eye(6, dtype=bool)] < 0.6).all() and (d[~same] > 0.6).all()  # dlib's own rule holds here
    desc = system.describe()
    assert {m["role"] for m in desc["models"]} == {"landmarks_5", "landmarks_68", "recogniser"}
    assert desc["score"]["metric"] == "euclidean" and desc["score"]["dlib_threshold"]["similarity"] == pytest.approx(0.82)
    lmk = acqs[0].detection.landmarks
    assert lmk.shape == (5, 2) and lmk[0, 0] < lmk[1, 0] and lmk[3, 0] < lmk[4, 0]  # eyes and mouth, left to right


def test_dlib_on_the_lfw_view2_pairs(tmp_path):
    """10-fold verification accuracy on the View-2 pairs whose images are in deepfunneled_small (48 matched
    pairs; as many mismatched drawn among its images), and Table 3 stated in dlib's terms."""
    from fr_eval.cli import main

    out = tmp_path / "r"
    assert main(["dataset=lfw", "dataset.mode=pairs", f"dataset.root={need(LFW_SMALL)}", f"dataset.pairs={need(PAIRS)}",
                 "dataset.fill_mismatched=balanced", "scenario=[1]", "system=dlib", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=50"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    acc = m["rows"][0]["pairs_accuracy"]
    assert acc["n_matched"] == 48 and acc["n_mismatched"] == 48 and acc["n_mismatched_filled"] == 48
    assert acc["mean"] >= 0.95  # dlib publishes 99.38% on all of View 2
    assert "dlib's Euclidean distance" in m["units"]
    t3 = (out / "table3.md").read_text()
    assert "Threshold (1 - d\u00b2/2)" in t3 and "similarity 1 - d\u00b2/2 of dlib's Euclidean distance" in t3
    assert m["system"]["score"]["similarity"].startswith("1 - d^2/2")


def test_cnn_detector_finds_the_same_faces(system):
    """detector=cnn (dlib's mmod model from face_recognition_models): the same faces as HOG on LFW, named
    with its sha256 in the description, descriptors close to HOG's (the chip comes from the 5-point shape)."""
    from fr_eval.images import load_image
    from fr_eval.systems.dlib import MODELS, DlibSystem

    files = sorted(need(LFW_SMALL).glob("*/*.jpg"))[:3]
    images = [load_image(f) for f in files]
    cnn = DlibSystem(detector="cnn")
    a, b = cnn.acquire(images), system.acquire(images)
    assert all(x.ok for x in a) and all(x.detection.score > 0.5 for x in a)
    for x, y in zip(a, b):
        iou_box = np.r_[np.maximum(x.detection.bbox[:2], y.detection.bbox[:2]), np.minimum(x.detection.bbox[2:], y.detection.bbox[2:])]
        inter = np.prod(np.clip(iou_box[2:] - iou_box[:2], 0, None))
        assert inter > 0  # the same face
        assert np.linalg.norm(x.embedding - y.embedding) < 0.1  # far below dlib's 0.6
    det = next(m for m in cnn.describe()["models"] if m["role"] == "detector")
    assert det["sha256"] == MODELS["detector_cnn"][1] and cnn.describe()["settings"]["detector"] == "cnn"


def test_dlib_embeddings_read_back_are_scored_as_dlib_scores_them(tmp_path):
    """report.export_embeddings records the metric; embeddings= of that file gives the run's figures."""
    from fr_eval.cli import main

    args = ["scenario=[1,2]", f"dataset.root={need(LFW_SMALL)}", "dataset.limit_subjects=6", "progress=false",
            f"store_dir={tmp_path / 's'}", "bootstrap.n_resamples=50"]
    assert main([*args, "system=dlib", "report.export_embeddings=true", f"out_dir={tmp_path / 'a'}"]) == 0
    with np.load(tmp_path / "a" / "embeddings.npz") as z:
        assert str(z["metric"]) == "euclidean"
    assert main([*args, f"embeddings={tmp_path / 'a' / 'embeddings.npz'}", f"out_dir={tmp_path / 'b'}"]) == 0
    a, b = (json.loads((tmp_path / x / "metrics.json").read_text()) for x in ("a", "b"))
    keys = ("threshold", "fnmr", "d_prime", "n_genuine_compared")
    assert [[r[k] for k in keys] for r in a["rows"]] == [[pytest.approx(r[k], abs=1e-6) for k in keys] for r in b["rows"]]
    assert b["system"]["score"]["metric"] == "euclidean"
