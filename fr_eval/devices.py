"""Where a model runs: ``system.device`` and ``colourisers.<name>.device`` (``auto`` | ``cpu`` | ``cuda``), decided
here as pure functions of what the machine offers, so that the choice and its fallbacks are tested without a GPU.

* ``cuda`` without a usable CUDA device is a one-line error (:class:`fr_eval.errors.ConfigError`), never a silent
  run on the CPU;
* ``auto`` takes CUDA when it is usable, else the CPU, and says so (the note goes into the system's or colouriser's
  description and the report's run facts);
* a system whose runtime has no CUDA path here (OpenCV's DNN in the ``opencv-python-headless`` wheel, ``dlib-bin``)
  runs on the CPU under ``auto`` (its only device, not a fallback) and refuses ``cuda``.
"""
from __future__ import annotations

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
CUDA_EP, CPU_EP = "CUDAExecutionProvider", "CPUExecutionProvider"
GPU_HINT = 'install the GPU extra (pip install -e ".[gpu]") on a machine with a CUDA GPU'


def onnx_providers_for(device: str, available: list[str], what: str = "system.device") -> tuple[list[str], str]:
    """ONNX Runtime providers for ``device``, given ``available`` (``onnxruntime.get_available_providers()``), and
    the note said where ``auto`` fell back to the CPU ("" otherwise)."""
    if device not in DEVICES:
        raise ConfigError(f"{what}={device} is not valid: choose from {', '.join(DEVICES)}")
    has = CUDA_EP in available
    if device == "cpu":
        return [CPU_EP], ""
    if device == "cuda" and not has:
        raise ConfigError(f"{what}=cuda: ONNX Runtime has no CUDA execution provider here (available: "
                          f"{', '.join(available) or 'none'}); {GPU_HINT}, or set {what}=cpu or auto")
    if has:
        return [CUDA_EP, CPU_EP], ""
    return [CPU_EP], f"{what}=auto: no CUDA execution provider in ONNX Runtime, ran on the CPU"


def torch_device_for(device: str, cuda_available: bool, what: str) -> tuple[str, str]:
    """The torch device for ``device`` given whether ``torch.cuda.is_available()``, and the fallback note."""
    if device not in DEVICES and not str(device).startswith("cuda:"):
        raise ConfigError(f"{what}={device} is not valid: choose from {', '.join(DEVICES)} (or cuda:N)")
    if device == "cpu":
        return "cpu", ""
    if str(device).startswith("cuda") and not cuda_available:
        raise ConfigError(f"{what}={device}: torch sees no CUDA device (a CPU build of torch, or no GPU); install a "
                          f"CUDA build of torch on a machine with a GPU, or set {what}=cpu or auto")
    if device == "auto":
        return ("cuda", "") if cuda_available else ("cpu", f"{what}=auto: torch sees no CUDA device, ran on the CPU")
    return device, ""


def cpu_only(device: str, runtime: str, what: str = "system.device") -> str:
    """A runtime that runs on the CPU only here: ``cuda`` is refused, ``auto`` says where it ran."""
    if device not in DEVICES:
        raise ConfigError(f"{what}={device} is not valid: choose from {', '.join(DEVICES)}")
    if device == "cuda":
        raise ConfigError(f"{what}=cuda: {runtime} runs on the CPU only in this installation; set {what}=cpu or "
                          f"auto, or system=arcface (ONNX Runtime, CUDA with the GPU extra)")
    return ""  # auto: the CPU is this runtime's only device, not a fallback (describe() records it)
