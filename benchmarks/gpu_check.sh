#!/usr/bin/env bash
# The GPU check of issue 40, prepared before a GPU is: on a machine with an NVIDIA GPU, install what a GPU run
# needs (ONNX Runtime's GPU build last, since both builds install the same module; a CUDA build of torch for
# DeOldify), then run benchmarks/gpu_check.py: scenario 4 on deepfunneled_small on the CPU and on CUDA with their
# Table 3 compared, and the pipeline, comparison, identification and DeOldify benchmarks; one JSON at the end.
#
#   bash benchmarks/gpu_check.sh            # on the GPU machine (needs the registries for the installs)
#   bash benchmarks/gpu_check.sh --cpu      # the dry run here: nothing installed, both runs on the CPU
#   bash benchmarks/gpu_check.sh --cpu --quick   # a few minutes (the test runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
device=cuda
quick=()
for arg in "$@"; do
  case "$arg" in
    --cpu) device=cpu ;;
    --quick) quick=(--quick) ;;
    *) echo "usage: bash benchmarks/gpu_check.sh [--cpu] [--quick]" >&2; exit 2 ;;
  esac
done
py="${PYTHON:-.venv/bin/python}"
if [ ! -x "$py" ] && ! command -v "$py" >/dev/null 2>&1; then
  echo "gpu_check: no Python at $py (make the venv first: the README's first command, or set PYTHON)" >&2
  exit 2
fi
if [ "$device" = cuda ]; then
  command -v nvidia-smi >/dev/null 2>&1 || { echo "gpu_check: nvidia-smi not found: no NVIDIA GPU here (use --cpu for the dry run)" >&2; exit 2; }
  "$py" -m pip install -q -e ".[gpu,deoldify]"
  "$py" -m pip install -q --force-reinstall --no-deps onnxruntime-gpu
  "$py" -c "import onnxruntime as o, torch; assert 'CUDAExecutionProvider' in o.get_available_providers(), o.get_available_providers(); assert torch.cuda.is_available(), 'torch sees no CUDA device (a CPU build of torch?)'"
fi
exec "$py" benchmarks/gpu_check.py --device "$device" ${quick[@]+"${quick[@]}"} --out "${OUT_DIR:-gpu_check_out}"
