"""Quality estimators, FaceQnet's loading and preprocessing (with small stand-in models in the
authors' input/output signature), error-versus-discard curves, and quality through a run."""
import json

import cv2
import numpy as np
import pytest

from fr_eval import metrics as M
from fr_eval.errors import ConfigError, ModelFilesMissing
from fr_eval.images import load_image
from fr_eval.quality import FaceQnet, build_estimators
from fr_eval.systems.base import Acquisition, Detection

CHANNEL_WEIGHTS = np.array([0.5, 0.3, 0.2], np.float32)  # on B, G, R: the channel order shows in the score


def acq(landmarks, bbox=(0, 0, 10, 10), emb=(3.0, 4.0)):
    det = Detection(bbox=np.array(bbox, np.float32), score=0.9, landmarks=np.array(landmarks, np.float32))
    return Acquisition(embedding=np.array(emb, np.float32), detection=det)


def test_landmark_and_embedding_estimators_by_hand():
    est = {e.name: e for e in build_estimators(["embedding_norm", "inter_eye_distance", "roll", "yaw_proxy"])}
    # eyes 40 px apart along a line rising 30 degrees; the nose 10 px along the eye line from their midpoint
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    e0, e1 = np.array([100.0, 100.0]), np.array([100 + 40 * c, 100 + 40 * s])
    nose = (e0 + e1) / 2 + 10 * np.array([c, s]) + 15 * np.array([-s, c])
    a = acq([e0, e1, nose, [100, 140], [130, 140]])
    assert est["embedding_norm"].value(None, a, None) == pytest.approx(5.0)
    assert est["inter_eye_distance"].value(None, a, None) == pytest.approx(40.0, abs=1e-4)
    assert est["roll"].value(None, a, None) == pytest.approx(30.0, abs=1e-4)
    assert est["yaw_proxy"].value(None, a, None) == pytest.approx(0.5, abs=1e-4)  # 10 px / (40 / 2)
    # utility: lower roll is better; exposure is best at mid-grey
    assert list(est["roll"].utility([1.0, 5.0])) == [-1.0, -5.0]
    (exposure,) = build_estimators(["exposure"])
    assert list(exposure.utility([127.5, 27.5, 227.5])) == [0.0, -100.0, -100.0]
    with pytest.raises(ConfigError, match="quality=brisque is not known"):
        build_estimators(["brisque"])


def test_image_estimators_on_flat_and_textured_faces():
    est = {e.name: e for e in build_estimators(["sharpness", "exposure", "dynamic_range"])}
    lmk = [[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]]  # the template itself
    flat = np.full((112, 112, 3), 90, np.uint8)
    a = acq(lmk)
    assert est["sharpness"].value(flat, a, None) == pytest.approx(0.0, abs=1e-6)
    assert est["exposure"].value(flat, a, None) == pytest.approx(90.0, abs=0.01)
    assert est["dynamic_range"].value(flat, a, None) == pytest.approx(0.0)
    halves = flat.copy()
    halves[:, 56:] = 200  # two grey levels in equal parts of the central region: 1 bit
    assert est["dynamic_range"].value(halves, a, None) == pytest.approx(1.0, abs=0.02)
    noisy = np.random.default_rng(0).integers(0, 256, (112, 112, 3)).astype(np.uint8)
    assert est["sharpness"].value(noisy, a, None) > est["sharpness"].value(cv2.GaussianBlur(noisy, (0, 0), 2), a, None)


def test_edc_by_hand():
    # qualities 1..5; scores below the threshold 0.5 at qualities 1 and 2 (one of the two tied)
    d, f = M.error_versus_discard([0.1, 0.9, 0.2, 0.8, 0.95], [1, 5, 2, 2, 3], 0.5)
    assert d.tolist() == pytest.approx([0, 0.2, 0.6, 0.8]) and f.tolist() == pytest.approx([0.4, 0.25, 0, 0])
    assert M.edc_area(d, f, 0.5) == pytest.approx(0.4 * 0.2 + 0.25 * 0.3)
    assert M.edc_area(d, f, 0.1) == pytest.approx(0.4 * 0.1)
    # NaN quality is discarded first
    d2, f2 = M.error_versus_discard([0.1, 0.9], [np.nan, 0.0], 0.5)
    assert f2.tolist() == [0.5, 0.0]


def faceqnet_onnx(path, nchw=False):
    """A stand-in with FaceQnet's signature (N, 224, 224, 3) float32 BGR -> (N, 1): the mean of
    0.5 B + 0.3 G + 0.2 R over the image, / 255."""
    import onnx
    from onnx import TensorProto, helper
    shape = ["N", 3, 224, 224] if nchw else ["N", 224, 224, 3]
    w = CHANNEL_WEIGHTS.reshape((1, 3, 1, 1) if nchw else (1, 1, 1, 3))
    nodes = [helper.make_node("Mul", ["x", "w"], ["xw"]),
             helper.make_node("ReduceMean", ["xw"], ["m"], axes=[1, 2, 3], keepdims=0),
             helper.make_node("Mul", ["m", "k"], ["s"]),
             helper.make_node("Unsqueeze", ["s", "ax"], ["y"])]
    graph = helper.make_graph(
        nodes, "faceqnet_standin", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.ravel().tolist()),
         helper.make_tensor("k", TensorProto.FLOAT, [], [3.0 / 255.0]),  # the mean ran over 3 channels
         helper.make_tensor("ax", TensorProto.INT64, [1], [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def reference_input(rgb, bbox, margin):
    """What the authors' script would feed the model, written out independently of fr_eval."""
    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = bbox
    mx, my = margin * (x2 - x1), margin * (y2 - y1)
    x1, y1 = max(0, int(np.floor(x1 - mx))), max(0, int(np.floor(y1 - my)))
    x2, y2 = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
    bgr = rgb[y1:y2, x1:x2, ::-1].copy()  # the crop as cv2.imread would have read it
    return np.array(cv2.resize(bgr, (224, 224)), dtype=np.float32)


@pytest.mark.parametrize("nchw", [False, True])
def test_faceqnet_onnx_scores_what_the_authors_script_feeds(nchw, lfw_small, tmp_path):
    model = faceqnet_onnx(tmp_path / "fq.onnx", nchw)
    rgb = load_image(sorted(lfw_small.rglob("*.jpg"))[0])
    bbox = (70.3, 60.8, 180.2, 200.6)
    for margin in (0.0, 0.25):
        fq = FaceQnet("faceqnet_v1", str(model), margin=margin)
        x = fq.preprocess(rgb, bbox)
        ref = reference_input(rgb, bbox, margin)
        assert x.dtype == np.float32 and x.shape == (224, 224, 3) and np.array_equal(x, ref)
        expected = float((ref * CHANNEL_WEIGHTS).mean(axis=(0, 1)).sum() / 255 * 1.0)
        got = fq.value(rgb, acq(np.zeros((5, 2)), bbox=bbox), None)
        assert got == pytest.approx(np.clip(expected, 0, 1), rel=1e-5)
        swapped = float((ref[..., ::-1] * CHANNEL_WEIGHTS).mean(axis=(0, 1)).sum() / 255)
        assert abs(got - swapped) > 1e-3  # it does see BGR, not RGB
    assert fq.settings()["model_sha256"] and fq.settings()["margin"] == 0.25


def test_faceqnet_output_is_clipped_and_files_are_checked(tmp_path):
    model = faceqnet_onnx(tmp_path / "fq.onnx")
    white = np.full((300, 300, 3), 255, np.uint8)  # 0.5 + 0.3 + 0.2 = 1 x 3 / 3 ... mean = 1.0 exactly
    fq = FaceQnet("faceqnet_v0", str(model))
    assert fq.value(white, acq(np.zeros((5, 2)), bbox=(10, 10, 200, 200)), None) == pytest.approx(1.0)
    with pytest.raises(ModelFilesMissing, match="releases/download/v1.0/FaceQnet_v1.h5"):
        FaceQnet("faceqnet_v1", None)
    with pytest.raises(ModelFilesMissing, match="not found"):
        FaceQnet("faceqnet_v1", str(tmp_path / "FaceQnet_v1.h5"))
    (tmp_path / "m.pt").write_bytes(b"x")
    with pytest.raises(ConfigError, match=".h5 file or an .onnx"):
        FaceQnet("faceqnet_v1", str(tmp_path / "m.pt"))


def test_faceqnet_keras_h5(lfw_small, tmp_path):
    keras = pytest.importorskip("tensorflow", reason="the .h5 path needs TensorFlow (pip install -e '.[faceqnet]')"
                                ).keras
    inp = keras.Input((224, 224, 3))
    conv = keras.layers.Conv2D(1, 1, use_bias=False)  # 0.5 B + 0.3 G + 0.2 R, / 255
    out = keras.layers.GlobalAveragePooling2D()(conv(inp))
    model = keras.Model(inp, out)
    conv.set_weights([(CHANNEL_WEIGHTS / 255.0).reshape(1, 1, 3, 1)])
    path = tmp_path / "FaceQnet_v1.h5"
    model.save(path)
    rgb = load_image(sorted(lfw_small.rglob("*.jpg"))[0])
    bbox = (70.3, 60.8, 180.2, 200.6)
    fq = FaceQnet("faceqnet_v1", str(path))
    ref = reference_input(rgb, bbox, 0.0)
    expected = float((ref * CHANNEL_WEIGHTS).mean(axis=(0, 1)).sum() / 255)
    assert fq.value(rgb, acq(np.zeros((5, 2)), bbox=bbox), None) == pytest.approx(expected, rel=1e-5)


def test_stability_with_a_real_recogniser(lfw_small):
    from fr_eval.systems import build_system
    system, _ = build_system({"name": "sface"})
    rgb = load_image(sorted(lfw_small.rglob("*.jpg"))[0])
    (a,) = system.acquire([rgb])
    (stab,) = build_estimators(["stability"])
    v = stab.value(rgb, a, system)
    assert 0.8 < v < 1.0
    embs = system.embed_perturbed(rgb, a.detection, lambda crop: [crop.copy()])
    assert np.allclose(embs[0], embs[1])  # an unperturbed copy embeds identically


def test_quality_through_a_run_is_stored_once(lfw_small, tmp_path, capsys):
    from fr_eval.cli import main
    # 10 of the 30 subjects: the stability estimator embeds three perturbed copies of every face
    args = ["scenario=[1,2]", "system=sface", f"dataset.root={lfw_small}", "dataset.limit_subjects=10",
            f"store_dir={tmp_path / 's'}",
            "progress=false", "bootstrap.n_resamples=50",
            "quality=[embedding_norm,inter_eye_distance,sharpness,exposure,stability]"]
    assert main(args + [f"out_dir={tmp_path / 'a'}"]) == 0
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    t2 = {(r["variant"], r["estimator"]): r for r in m["quality_table2"]}
    assert set(v for v, _ in t2) == {"original", "greyscale"} and len(t2) == 10
    failed = {v: sum(1 for s in json_rows(tmp_path / "a") if s["variant"] == v and s["acquired"] == "False")
              for v in ("original", "greyscale")}
    for (v, e), r in t2.items():  # scenario 2 uses greyscale probes only (30 of the 40 images)
        n = 40 if v == "original" else 30
        assert r["n_samples"] == n and r["n"] + r["n_undefined"] == n and r["n_undefined"] == failed[v]
    assert len(m["edc"]) == 2 * 5 and all(r["n_comparisons"] > 25 for r in m["edc"])
    for f in ("table2.csv", "table2.md", "edc.csv", "edc.md", "quality_cdf.png", "edc.png"):
        assert (tmp_path / "a" / f).is_file()
    import csv
    from fr_eval.report import numbers as N
    with open(tmp_path / "a" / "edc.csv") as f:
        edc = list(csv.DictReader(f))
    fnmr = {r["label"]: r["intervals"]["fnmr"] for r in m["rows"]}
    assert len(edc) == 10
    for r in edc:
        v, lo, hi = (float(r[f"FNMR at 20% discarded{x} (%)"]) for x in ("", " low", " high"))
        assert lo <= v <= hi and 0 < int(r["Kept at 20%"]) <= int(r["Genuine compared"])
        # before discarding, the interval is Table 3's FNMR interval (same subjects, counts and seed)
        iv, digits = fnmr[r["Scenario"]], N.decimals(int(r["Genuine compared"]))
        for side in ("low", "high"):
            assert r[f"FNMR at 0% discarded {side} (%)"] == f"{100 * iv[side]:.{digits}f}"
    first = m["engine"]["quality_computed"]
    assert first == sum(r["n"] + 0 for r in m["quality_table2"])  # one value per acquired sample and estimator
    assert main(args + [f"out_dir={tmp_path / 'b'}"]) == 0
    m2 = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert m2["engine"]["quality_computed"] == 0 and m2["quality_table2"] == m["quality_table2"]
    capsys.readouterr()


def json_rows(out):
    import csv
    with open(out / "samples.csv") as f:
        return list(csv.DictReader(f))


def test_kept_after_discard_matches_the_curve():
    q = [1, 5, 2, 2, 3]
    assert M.kept_after_discard(q, 0.1).tolist() == [True] * 5
    assert M.kept_after_discard(q, 0.5).tolist() == [False, True, True, True, True]  # the tie at 2 stays whole
    assert M.kept_after_discard(q, 0.6).tolist() == [False, True, False, False, True]
    assert M.kept_after_discard([np.nan, 0.0], 0.5).tolist() == [False, True]
    rng = np.random.default_rng(3)
    s, pq = rng.normal(size=400), rng.integers(0, 40, 400).astype(float)
    d, f = M.error_versus_discard(s, pq, -0.5)
    for frac in (0.0, 0.05, 0.13, 0.2, 0.5, 0.9):
        kept = M.kept_after_discard(pq, frac)
        at = np.searchsorted(d, frac, side="right") - 1
        assert kept.sum() == round(400 * (1 - d[at])) and np.mean(s[kept] < -0.5) == pytest.approx(f[at])


def test_kept_fnmr_interval():
    from fr_eval.stages.quality import kept_fnmr_interval
    g = np.array([0.1, 0.9, 0.8, 0.2, 0.9, 0.95, 0.7, 0.3])
    subj = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    kept = g > 0.35  # no error left among the kept: the rule of 3 over the 4 subjects with a kept comparison
    assert kept_fnmr_interval(g, subj, kept, 0.5, {"n_resamples": 200}) == {"low": 0.0, "high": 0.75,
                                                                            "method": "rule_of_3"}
    iv = kept_fnmr_interval(g, subj, None, 0.5, {"n_resamples": 200})
    assert iv["method"] == "subject_bootstrap" and 0 <= iv["low"] < 3 / 8 < iv["high"] <= 1
    assert kept_fnmr_interval(g, None, None, 0.5, None)["method"] == "none"


def test_edc_area_interval():
    rng = np.random.default_rng(0)
    subj = np.repeat(np.arange(60), 20)
    q = rng.normal(size=subj.size)
    g = 0.5 + 0.3 * q + rng.normal(0, 0.3, subj.size)  # the quality predicts the score
    d, f = M.error_versus_discard(g, q, 0.2)
    area = M.edc_area(d, f, 0.2)
    # on counts per quality level, a subject counted twice is that subject's comparisons written twice
    _, level = np.unique(q, return_inverse=True)
    w = np.where(subj == 7, 2.0, 1.0)
    cnt, err = np.bincount(level, weights=w), np.bincount(level, weights=w * (g < 0.2))
    twice = np.r_[np.arange(g.size), np.flatnonzero(subj == 7)]
    d2, f2 = M.error_versus_discard(g[twice], q[twice], 0.2)
    assert M._edc_areas(err, cnt, 0.2) == pytest.approx([M.edc_area(d2, f2, 0.2), M.edc_area(d2, f2, 0.2) - f2[0] * 0.2])
    iv = M.edc_area_interval(g, q, 0.2, subj, 0.2, n_resamples=300)
    assert iv["area"].low < area < iv["area"].high and iv["area_minus_random"].high < 0  # better than chance
    q_blind = rng.normal(size=subj.size)  # a quality that knows nothing: near random discarding, far above
    d_b, f_b = M.error_versus_discard(g, q_blind, 0.2)
    blind = M.edc_area_interval(g, q_blind, 0.2, subj, 0.2, n_resamples=300)["area_minus_random"]
    assert blind.low < M.edc_area(d_b, f_b, 0.2) - f_b[0] * 0.2 < blind.high and abs(blind.low) < 0.005
    assert iv["area_minus_random"].high < blind.low
    assert M.edc_area_interval(g, q, -9.0, subj, 0.2)["area"].method == "none"  # no false non-match
