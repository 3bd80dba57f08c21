import numpy as np
import pytest

from fr_eval.errors import ModelFilesMissing
from fr_eval.systems import build_system
from fr_eval.systems.arcface import resolve_model_files
from fr_eval.systems.base import fingerprint, select_face


def test_arcface_missing_pack_names_files(tmp_path):
    with pytest.raises(ModelFilesMissing) as e:
        resolve_model_files("buffalo_l", root=tmp_path)
    msg = str(e.value)
    assert "det_10g.onnx" in msg and "w600k_r50.onnx" in msg and str(tmp_path / "models" / "buffalo_l") in msg
    with pytest.raises(ModelFilesMissing, match="nope.onnx"):
        resolve_model_files(None, detector=str(tmp_path / "nope.onnx"), recogniser=str(tmp_path / "r.onnx"))


def test_face_selection_and_fingerprint():
    boxes = np.array([[0, 0, 10, 10], [50, 50, 90, 90], [40, 40, 60, 60]], float)
    scores = np.array([0.99, 0.6, 0.8])
    assert select_face(boxes, scores, (100, 100), "largest") == 1
    assert select_face(boxes, scores, (100, 100), "score") == 0
    assert select_face(boxes, scores, (100, 100), "centre") == 2
    a = {"name": "x", "models": [{"role": "detector", "sha256": "1"}], "settings": {"t": 0.5}}
    b = {"name": "x", "models": [{"role": "detector", "sha256": "1"}], "settings": {"t": 0.6}}
    assert fingerprint(a) != fingerprint(b)


def test_generic_onnx_config_errors():
    from fr_eval.errors import ConfigError
    with pytest.raises(ConfigError, match="system=onnx needs system.recogniser"):
        build_system({"name": "onnx"})
    from fr_eval.systems.onnx import check_preprocess
    with pytest.raises(ConfigError, match="unknown key.*colour"):
        check_preprocess({"colour": "rgb"})
    with pytest.raises(ConfigError, match="layout=chw is not valid"):
        check_preprocess({"layout": "chw"})
