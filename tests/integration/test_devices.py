"""Where models run (issue 40): system.device and colourisers.<name>.device chosen from what the machine offers,
checked here without a GPU (the availability monkeypatched): cuda without one is a one-line error, auto falls back
to the CPU and says so, a CPU-only runtime refuses cuda."""
import pytest

from fr_eval.devices import CPU_EP, CUDA_EP
from fr_eval.errors import ConfigError


def test_sface_on_cuda_is_a_one_line_error(tmp_path, capsys):
    from fr_eval.cli import main
    from fr_eval.systems import build_system
    with pytest.raises(ConfigError, match="system.device=cuda: OpenCV .*'s DNN .* runs on the CPU only"):
        build_system({"name": "sface", "device": "cuda"})
    system, note = build_system({"name": "sface", "device": "auto"})
    assert system.describe()["runtime"]["device"] == "cpu" and "device" not in note  # its only device
    assert main(["scenario=1", "system=sface", "system.device=cuda", f"out_dir={tmp_path / 'r'}",
                 f"store_dir={tmp_path / 's'}", "progress=false"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "system.device=cuda" in err[0] and "Traceback" not in err[0]


@pytest.mark.filterwarnings("ignore:Specified provider")
def test_arcface_falls_back_when_onnx_runtime_cannot_start_cuda(shared_arcface_files, monkeypatch):
    """ONNX Runtime's GPU build lists CUDA where it cannot start it and runs on the CPU: the session says so."""
    import onnxruntime as ort

    from fr_eval.systems import build_system
    det, rec = shared_arcface_files
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA_EP, CPU_EP])
    system, note = build_system({"name": "arcface", "detector": str(det), "recogniser": str(rec)})
    assert system.providers == [CPU_EP] and note.endswith("system.device=auto: ONNX Runtime could not start CUDA, "
                                                          "ran on the CPU")
    assert system.describe()["runtime"]["device_note"] in note
    with pytest.raises(ConfigError, match="system.device=cuda: ONNX Runtime lists CUDA but could not start it"):
        build_system({"name": "arcface", "detector": str(det), "recogniser": str(rec), "device": "cuda"})
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CPU_EP])
    system, note = build_system({"name": "arcface", "detector": str(det), "recogniser": str(rec)})
    assert system.providers == [CPU_EP] and "no CUDA execution provider in ONNX Runtime, ran on the CPU" in note
    system, note = build_system({"name": "arcface", "detector": str(det), "recogniser": str(rec), "device": "cpu"})
    assert "device" not in note and system.describe()["runtime"]["device"] == "cpu"
