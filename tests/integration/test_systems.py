import numpy as np
import pytest

from fr_eval.images import load_image
from fr_eval.systems import build_system
from fr_eval.systems.arcface import resolve_model_files
from fr_eval.systems.base import fingerprint


def _images(root, n=6):
    files = sorted(root.rglob("*.jpg"))[:n]
    return [load_image(f) for f in files]


def _check_system(system, lfw_small):
    imgs = _images(lfw_small)
    blank = np.zeros((120, 120, 3), np.uint8)
    res = system.acquire(imgs + [blank])
    assert all(a.ok for a in res[:-1]), [a.reason for a in res]
    assert not res[-1].ok and "no face" in res[-1].reason
    e = np.stack([a.embedding for a in res[:-1]])
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    # the first 4 LFW images are one person (sorted names), the next ones another
    same = e[0] @ e[1]
    other = e[0] @ e[4]
    assert same > other
    d = res[0].detection
    assert d.landmarks.shape == (5, 2) and d.bbox[2] > d.bbox[0] and d.n_faces >= 1
    desc = system.describe()
    assert {m["role"] for m in desc["models"]} == {"detector", "recogniser"}
    assert all(len(m["sha256"]) == 64 for m in desc["models"])
    return res


def test_sface_acquires_and_fails_cleanly(lfw_small):
    system, _ = build_system({"name": "sface"})
    res = _check_system(system, lfw_small)
    assert res[0].embedding.shape == (128,)


def test_arcface_with_shared_models(lfw_small, shared_arcface_files):
    det, rec = shared_arcface_files
    system, note = build_system({"name": "arcface", "detector": str(det), "recogniser": str(rec)})
    res = _check_system(system, lfw_small)
    assert res[0].embedding.shape == (128,)
    assert system.describe()["settings"]["det_size"] == [640, 640]  # insightface's own input, by default
    assert system.input_size_for((250, 250, 3)) == (640, 640)
    fit, _ = build_system({"name": "arcface", "detector": str(det), "recogniser": str(rec), "det_size": "fit"})
    assert fit.input_size_for((250, 250, 3)) == (256, 256)
    assert fit.input_size_for((2000, 1000, 3)) == (320, 640)


def test_arcface_pack_layout_found(tmp_path, shared_arcface_files):
    # a pack directory laid out as insightface unpacks buffalo_s (files linked from ../shared)
    det, rec = shared_arcface_files
    d = tmp_path / "models" / "buffalo_s"
    d.mkdir(parents=True)
    (d / "det_500m.onnx").symlink_to(det)
    (d / "w600k_mbf.onnx").symlink_to(rec)
    assert resolve_model_files("buffalo_s", root=tmp_path) == (d / "det_500m.onnx", d / "w600k_mbf.onnx")
    # auto takes arcface when the files are present
    system, note = build_system({"name": "auto", "arcface": {"name": "arcface", "pack": "buffalo_s",
                                                             "root": str(tmp_path)}, "sface": {"name": "sface"}})
    assert system.name == "arcface" and "chose arcface" in note


def test_auto_falls_back_to_sface(tmp_path):
    system, note = build_system({"name": "auto", "arcface": {"name": "arcface", "pack": "buffalo_l",
                                                             "root": str(tmp_path)}, "sface": {"name": "sface"}})
    assert system.name == "sface" and "buffalo_l" in note


@pytest.mark.parametrize("parallel", ["thread", "process"])
@pytest.mark.parametrize("name", ["sface", "arcface"])
def test_parallel_workers_give_identical_results(name, parallel, lfw_small, tmp_path):
    """Worker threads share one system, worker processes rebuild it from its pickle: the
    results must equal a sequential run's."""
    from fr_eval.datasets import load_dataset
    from fr_eval.engine import acquire_all
    from fr_eval.store import Store
    from fr_eval.variants import GREYSCALE, ORIGINAL

    from conftest import DET_500M, MOBILEFACENET, need

    cfg = {"name": name}
    if name == "arcface":
        cfg.update(detector=str(need(DET_500M)), recogniser=str(need(MOBILEFACENET)))
    system, _ = build_system(cfg)
    ds = load_dataset({"type": "folder", "root": str(lfw_small)})
    reqs = [(s, v) for v in (ORIGINAL, GREYSCALE) for s in (ds.references + ds.probes)[:24]]
    one, _ = acquire_all(reqs, system, Store(tmp_path / "a"), batch_size=4, workers=1, progress=False)
    two, st = acquire_all(reqs, system, Store(tmp_path / "b"), batch_size=4, workers=2, parallel=parallel,
                          progress=False)
    assert st.computed == len(reqs) and one.keys() == two.keys()
    assert st.workers == 2 and st.parallel == parallel
    for k in one:
        assert one[k].ok == two[k].ok
        if one[k].ok:
            np.testing.assert_array_equal(one[k].embedding, two[k].embedding)


@pytest.mark.parametrize("name,det_size", [("arcface", "fit"), ("arcface", [640, 640]), ("sface", None)])
def test_retry_finds_faces_that_fill_the_frame(name, det_size, lfw_small, shared_arcface_files):
    """A face enlarged to fill a 600 px frame is missed on the first pass (the detectors' largest
    anchors are smaller); the retry at half scale finds it, in the original image's coordinates."""
    import cv2
    src = sorted(lfw_small.rglob("*.jpg"))[:4]
    imgs = [cv2.resize(load_image(p)[70:180, 70:180], (600, 600), interpolation=cv2.INTER_CUBIC) for p in src]
    cfg = {"name": name}
    if name == "arcface":
        det, rec = shared_arcface_files
        cfg.update(detector=str(det), recogniser=str(rec), det_size=det_size)
    single, _ = build_system({**cfg, "retry_scales": []})
    retry, _ = build_system({**cfg, "retry_scales": [0.5]})
    assert not any(a.ok for a in single.acquire(imgs))
    assert "also at scale 0.5" in retry.acquire([np.zeros((64, 64, 3), np.uint8)])[0].reason
    got = retry.acquire(imgs)
    assert all(a.ok for a in got)
    # the same face found directly on the half-size image, mapped back by hand
    half = single.acquire([cv2.resize(im, (300, 300), interpolation=cv2.INTER_AREA) for im in imgs])
    for a, h in zip(got, half):
        if h.ok:
            assert np.abs(a.detection.landmarks - 2 * h.detection.landmarks).max() < 4.0
    assert fingerprint(single.describe()) != fingerprint(retry.describe())


def test_tiny_and_blank_images_never_yield_a_face():
    """OpenCV's YuNet returned a 'face' at 1e11 px with score 1 for a black 32 px image after a
    64 px one; such output is dropped, and small inputs are padded."""
    from fr_eval.systems.base import _plausible
    system, _ = build_system({"name": "sface"})
    sizes = [64, 32, 16, 64, 32, 100, 32, 8]
    got = [system.acquire([np.zeros((n, n, 3), np.uint8)])[0] for n in sizes]
    assert not any(a.ok for a in got) and all("no face detected" in a.reason for a in got[:-1])
    assert got[-1].reason == "image too small (8\u00d78 px; at least 16 px on each side)" and not got[-1].transient
    boxes = np.array([[10, 10, 50, 50], [4e11, 6e11, 4e11, 6e11], [5, 5, 5, 20], [np.nan, 0, 1, 1]], float)
    b, s, lm = _plausible(boxes, np.ones(4), np.zeros((4, 5, 2)), (100, 100, 3))
    assert b.tolist() == [[10, 10, 50, 50]] and s.shape == (1,) and lm.shape == (1, 5, 2)


def test_generic_onnx_recogniser_equals_arcface(lfw_small, shared_arcface_files):
    """mobilefacenet declared through system=onnx (insightface's ArcFaceONNX preprocessing written out:
    RGB, (x - 127.5) / 127.5, NCHW, 112 px ArcFace template) gives the embeddings system=arcface gives."""
    from fr_eval.images import load_image

    det, rec = shared_arcface_files
    arc, _ = build_system({"name": "arcface", "detector": str(det), "recogniser": str(rec)})
    gen, note = build_system({"name": "onnx", "detector": str(det), "recogniser": str(rec),
                              "preprocess": {"input_size": [112, 112], "channels": "rgb", "mean": [127.5] * 3,
                                             "std": [127.5] * 3, "layout": "nchw", "crop": 112}})
    assert note.split("; ")[0] == "system=onnx" and fingerprint(gen.describe()) != fingerprint(arc.describe())
    images = [load_image(p) for p in sorted(lfw_small.rglob("*.jpg"))[:24]]
    a, g = arc.acquire(images), gen.acquire(images)
    assert all(x.ok for x in a) and [x.ok for x in a] == [x.ok for x in g]
    diff = max(float(np.abs(x.embedding - y.embedding).max()) for x, y in zip(a, g))
    cos = min(float(x.embedding @ y.embedding / np.linalg.norm(x.embedding) / np.linalg.norm(y.embedding))
              for x, y in zip(a, g))
    assert diff < 1e-4 and cos > 0.999999, (diff, cos)
    # a declared BGR order is a different model input: the embeddings move
    bgr, _ = build_system({"name": "onnx", "detector": str(det), "recogniser": str(rec),
                           "preprocess": {"channels": "bgr"}})
    b = bgr.acquire(images[:4])
    assert max(float(np.abs(x.embedding - y.embedding).max()) for x, y in zip(a[:4], b)) > 1e-2
    # it pickles as its recipe (worker processes rebuild it with the same preprocessing)
    import pickle
    again = pickle.loads(pickle.dumps(gen))
    assert again.preprocess == gen.preprocess and np.allclose(again.acquire(images[:1])[0].embedding, g[0].embedding)
