"""Quality estimators, FaceQnet's loading and preprocessing (with small stand-in models in the
authors' input/output signature), error-versus-discard curves, and quality through a run."""
import json

import cv2
import numpy as np
import pytest

from fr_eval.errors import ConfigError, ModelFilesMissing
from fr_eval.images import load_image
from fr_eval.quality import FaceQnet, build_estimators
from fr_eval.systems.base import Acquisition, Detection


CHANNEL_WEIGHTS = np.array([0.5, 0.3, 0.2], np.float32)  # on B, G, R: the channel order shows in the score


def acq(landmarks, bbox=(0, 0, 10, 10), emb=(3.0, 4.0)):
    det = Detection(bbox=np.array(bbox, np.float32), score=0.9, landmarks=np.array(landmarks, np.float32))
    return Acquisition(embedding=np.array(emb, np.float32), detection=det)


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
    from fr_eval.report import numbers
    with open(tmp_path / "a" / "edc.csv") as f:
        edc = list(csv.DictReader(f))
    fnmr = {r["label"]: r["intervals"]["fnmr"] for r in m["rows"]}
    assert len(edc) == 10
    for r in edc:
        v, lo, hi = (float(r[f"FNMR at 20% discarded{x} (%)"]) for x in ("", " low", " high"))
        assert lo <= v <= hi and 0 < int(r["Kept at 20%"]) <= int(r["Genuine compared"])
        # before discarding, the interval is Table 3's FNMR interval (same subjects, counts and seed)
        iv, digits = fnmr[r["Scenario"]], numbers.decimals(int(r["Genuine compared"]))
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
