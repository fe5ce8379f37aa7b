#!/usr/bin/env bash
# The GPU check of VAE Studio, for a Linux machine with an NVIDIA GPU, its driver and a CUDA
# toolkit (nvcc, compute-sanitizer). From the repository root:
#
#     bash scripts/gpu_check.sh            # everything below
#     SKIP_SANITIZER=1 bash scripts/gpu_check.sh
#
# 1. builds vaestudio._C with its CUDA kernels (csrc/cuda/*.cu) and checks they registered;
# 2. runs the whole test suite, CUDA tests included (pytest -m cuda alone: tests/ops/test_cuda_ops.py);
# 3. runs compute-sanitizer memcheck and racecheck over tests/ops/test_cuda_ops.py;
# 4. runs the benchmarks with --device cuda (results in bench/results/).
# Every step runs even when an earlier one fails; the summary at the end says which failed, and
# the exit status is non-zero if any did. Logs: $LOG_DIR (default artifacts/gpu_check/).
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
LOG_DIR="${LOG_DIR:-artifacts/gpu_check}"
mkdir -p "$LOG_DIR"
failures=()

step() {  # step NAME COMMAND...: runs COMMAND, logs to $LOG_DIR/NAME.log, records a failure
  local name="$1"
  shift
  echo "==> $name: $*"
  if "$@" 2>&1 | tee "$LOG_DIR/$name.log"; then
    echo "<== $name: ok"
  else
    echo "<== $name: FAILED (log: $LOG_DIR/$name.log)"
    failures+=("$name")
  fi
}

command -v nvidia-smi >/dev/null && nvidia-smi
if ! command -v nvcc >/dev/null && [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then
  export PATH="${CUDA_HOME:-/usr/local/cuda}/bin:$PATH"
fi
command -v nvcc >/dev/null || { echo "nvcc not found: install the CUDA toolkit or set CUDA_HOME"; exit 1; }

# The virtual environment with the pinned torch (the PyPI Linux wheel of torch is a CUDA build).
if [ ! -x "$PYTHON" ]; then
  python3 -m venv .venv
  PYTHON=.venv/bin/python
  "$PYTHON" -m pip install -q --upgrade pip
  "$PYTHON" -m pip install -q torch==2.13.0
  "$PYTHON" -m pip install -q -r requirements.txt -r requirements-dev.txt
fi
if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.version.cuda and torch.cuda.is_available() else 1)"; then
  "$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
  echo "this torch cannot use the GPU: install a CUDA build, e.g. .venv/bin/python -m pip install --force-reinstall torch==2.13.0"
  exit 1
fi

# 1. Build with CUDA (setup.py switches to a CUDAExtension when torch has CUDA and CUDA_HOME is found);
# TORCH_CUDA_ARCH_LIST defaults to the GPUs of this machine.
step build bash -c "'$PYTHON' -m pip install -q --no-build-isolation --no-deps -e . && '$PYTHON' setup.py -q build_ext --inplace"
step cuda-kernels-registered "$PYTHON" -c "
from vaestudio import ops
backend = ops.backend()
print(backend)
assert backend.compiled and backend.cuda, 'the CUDA kernels did not register: ' + backend.reason
"

# 2. The whole suite (browser and e2e tests included when their tools are there), then the CUDA tests verbosely.
step tests "$PYTHON" -m pytest -q
step cuda-tests "$PYTHON" -m pytest -q -m cuda -rs tests/ops/test_cuda_ops.py

# 3. compute-sanitizer over the CUDA tests (caching allocator off so that out-of-bounds accesses
# inside cached blocks are seen; the long throughput/memory tests and torch.compile are left out).
if [ "${SKIP_SANITIZER:-0}" != "1" ]; then
  SANITIZER="$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")"
  SELECTION="not throughput and not no_n_by_k and not torch_compile and not current_stream"
  for tool in memcheck racecheck; do
    step "sanitizer-$tool" env PYTORCH_NO_CUDA_MEMORY_CACHING=1 "$SANITIZER" --tool "$tool" --error-exitcode 99 \
      --target-processes all "$PYTHON" -m pytest -q -x -p no:cacheprovider tests/ops/test_cuda_ops.py -k "$SELECTION"
  done
fi

# 4. Benchmarks on the GPU.
for bench in bench_nearest_code bench_ema bench_vq_layer bench_pixelcnn_sample bench_masked_conv bench_training; do
  step "$bench" "$PYTHON" -m "bench.$bench" --device cuda
done

echo
if [ "${#failures[@]}" -eq 0 ]; then
  echo "gpu_check: all steps passed"
else
  echo "gpu_check: FAILED steps: ${failures[*]}"
  exit 1
fi
