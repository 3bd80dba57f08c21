"""Where models run (issue 40): system.device and colourisers.<name>.device chosen from what the machine offers,
checked here without a GPU (the availability monkeypatched): cuda without one is a one-line error, auto falls back
to the CPU and says so, a CPU-only runtime refuses cuda."""
import pytest

from fr_eval.devices import CPU_EP, CUDA_EP, cpu_only, onnx_providers_for, torch_device_for
from fr_eval.errors import ConfigError


def test_onnx_providers():
    assert onnx_providers_for("cpu", [CUDA_EP, CPU_EP]) == ([CPU_EP], "")
    assert onnx_providers_for("auto", [CUDA_EP, CPU_EP]) == ([CUDA_EP, CPU_EP], "")
    assert onnx_providers_for("cuda", [CUDA_EP, CPU_EP]) == ([CUDA_EP, CPU_EP], "")
    providers, note = onnx_providers_for("auto", [CPU_EP])
    assert providers == [CPU_EP] and note == "system.device=auto: no CUDA execution provider in ONNX Runtime, ran on the CPU"
    with pytest.raises(ConfigError, match=r"system.device=cuda: ONNX Runtime has no CUDA execution provider here "
                                          r"\(available: CPUExecutionProvider\); install the GPU extra"):
        onnx_providers_for("cuda", [CPU_EP])
    with pytest.raises(ConfigError, match="system.device=gpu is not valid: choose from auto, cpu, cuda"):
        onnx_providers_for("gpu", [CPU_EP])


def test_torch_devices():
    what = "colourisers.deoldify.device"
    assert torch_device_for("auto", True, what) == ("cuda", "")
    assert torch_device_for("auto", False, what) == ("cpu", f"{what}=auto: torch sees no CUDA device, ran on the CPU")
    assert torch_device_for("cuda:1", True, what) == ("cuda:1", "")
    assert torch_device_for("cpu", True, what) == ("cpu", "")
    with pytest.raises(ConfigError, match=f"{what}=cuda: torch sees no CUDA device"):
        torch_device_for("cuda", False, what)


def test_cpu_only_runtimes():
    assert cpu_only("auto", "dlib") == "" and cpu_only("cpu", "dlib") == ""
    with pytest.raises(ConfigError, match="system.device=cuda: dlib runs on the CPU only in this installation"):
        cpu_only("cuda", "dlib")


def test_a_colouriser_on_cuda_without_one_is_refused_at_once(monkeypatch):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (the [deoldify] extra)")
    from fr_eval.colourisers import build_colouriser
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="colourisers.deoldify.device=cuda: torch sees no CUDA device"):
        build_colouriser("deoldify", {"deoldify": {"type": "deoldify", "device": "cuda", "download": False}})
