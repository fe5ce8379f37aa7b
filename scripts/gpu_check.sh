#!/usr/bin/env bash
# The GPU check of VAE Studio, for a Linux machine with an NVIDIA GPU, its driver and a CUDA
# toolkit (nvcc, compute-sanitizer). From the repository root:
#
#     bash scripts/gpu_check.sh                      # everything below
#     SKIP_SANITIZER=1 bash scripts/gpu_check.sh
#     DEADLINE_S=540 LOG_DIR=/tmp/gpu bash scripts/gpu_check.sh   # a leased GPU with a hard time limit
#
# 1. builds vaestudio._C with its CUDA kernels (csrc/cuda/*.cu) and checks they registered;
# 2. runs the operator tests, the CUDA tests verbosely (tests/ops/test_cuda_ops.py, slow ones
#    included), and the whole suite where the studio's dependencies (gradio) are installed;
# 3. runs the benchmarks with --device cuda (results in $BENCH_RESULTS_DIR, default bench/results/);
# 4. runs compute-sanitizer memcheck and racecheck over a selection of the CUDA tests that calls
#    every custom kernel (every dtype instantiation of nearest_code, code_stats, ema_update_, the
#    sampler with and without guidance, spatial bias and inpainting).
# Every step runs even when an earlier one fails; the summary at the end says which failed, and
# the exit status is non-zero if any did. Logs: $LOG_DIR (default artifacts/gpu_check/).
# DEADLINE_S caps the whole run: each step gets at most the time left, minus a margin for the summary;
# BENCH_LIMIT_S and SANITIZER_LIMIT_S cap each benchmark and each sanitizer run.
set -uo pipefail
cd "$(dirname "$0")/.."

LOG_DIR="${LOG_DIR:-artifacts/gpu_check}"
DEADLINE_S="${DEADLINE_S:-36000}"
START_S=$SECONDS
mkdir -p "$LOG_DIR"
failures=()
timings=()

step() {  # step NAME COMMAND...: runs COMMAND under the time left, logs to $LOG_DIR/NAME.log, records a failure
  local name="$1"
  shift
  local left=$((DEADLINE_S - (SECONDS - START_S) - 15))
  if [ -n "${STEP_LIMIT_S:-}" ] && [ "$STEP_LIMIT_S" -lt "$left" ]; then left=$STEP_LIMIT_S; fi
  if [ "$left" -le 5 ]; then
    echo "<== $name: SKIPPED (deadline reached)"
    failures+=("$name(no-time)")
    return
  fi
  echo "==> $name (at most ${left}s): $*"
  local began=$SECONDS
  if timeout --kill-after=5 "$left" "$@" > "$LOG_DIR/$name.log" 2>&1; then
    echo "<== $name: ok ($((SECONDS - began))s)"
  else
    echo "<== $name: FAILED ($((SECONDS - began))s; log: $LOG_DIR/$name.log); its last lines:"
    tail -n 25 "$LOG_DIR/$name.log" | cut -c1-300
    failures+=("$name")
  fi
  timings+=("$name=$((SECONDS - began))s")
}

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
if ! command -v nvcc >/dev/null && [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then
  export PATH="${CUDA_HOME:-/usr/local/cuda}/bin:$PATH"
fi
command -v nvcc >/dev/null || { echo "nvcc not found: install the CUDA toolkit or set CUDA_HOME"; exit 1; }
nvcc --version | tail -n 2

# The Python with a CUDA build of torch: $PYTHON, else the project's .venv, else python3 as it is
# (a GPU image that ships torch; nothing is installed into it).
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  [ -x .venv/bin/python ] && PYTHON=.venv/bin/python
fi
if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.version.cuda and torch.cuda.is_available() else 1)"; then
  "$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
  echo "this torch cannot use the GPU: install a CUDA build, e.g. $PYTHON -m pip install --force-reinstall torch==2.13.0"
  exit 1
fi
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

# 1. Build with CUDA (setup.py switches to a CUDAExtension when torch has CUDA and CUDA_HOME is
# found), in place, for this machine's GPU unless TORCH_CUDA_ARCH_LIST says otherwise.
if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
  TORCH_CUDA_ARCH_LIST="$("$PYTHON" -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")"
  export TORCH_CUDA_ARCH_LIST
fi
export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
if [ "${SKIP_BUILD:-0}" != "1" ]; then
  step build "$PYTHON" setup.py -q build_ext --inplace
fi
step cuda-kernels-registered "$PYTHON" -c "
from vaestudio import ops
backend = ops.backend()
print(backend)
assert backend.compiled and backend.cuda, 'the CUDA kernels did not register: ' + backend.reason
"

# 2. The CUDA tests verbosely (slow ones included: the throughput report prints the achieved rate),
# the other operator tests, and the whole suite where the studio can be imported.
# PYTEST_WORKERS=N runs them in N pytest-xdist workers: faster, and a test that crashes its process
# is reported as failed while the others still run.
WORKERS=()
if [ -n "${PYTEST_WORKERS:-}" ] && "$PYTHON" -c "import xdist" 2>/dev/null; then WORKERS=(-n "$PYTEST_WORKERS"); fi
step cuda-tests "$PYTHON" -m pytest -q -rfEs -s -p no:cacheprovider "${WORKERS[@]}" tests/ops/test_cuda_ops.py
step ops-tests "$PYTHON" -m pytest -q -rfE -p no:cacheprovider "${WORKERS[@]}" tests/ops -m "not slow" --ignore=tests/ops/test_cuda_ops.py
if "$PYTHON" -c "import gradio" 2>/dev/null; then
  step tests "$PYTHON" -m pytest -q -p no:cacheprovider
fi

# 3. Benchmarks on the GPU.
for bench in ${BENCHMARKS:-bench_nearest_code bench_ema bench_pixelcnn_sample bench_vq_layer bench_masked_conv bench_training}; do
  STEP_LIMIT_S="${BENCH_LIMIT_S:-}" step "$bench" "$PYTHON" -m "bench.$bench" --device cuda
done

# 4. compute-sanitizer (caching allocator off so that out-of-bounds accesses inside cached blocks
# are seen; the long throughput/memory tests and torch.compile are left out).
if [ "${SKIP_SANITIZER:-0}" != "1" ]; then
  SANITIZER="$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")"
  KERNELS="${SANITIZER_SELECTION:-}"
  [ -n "$KERNELS" ] || KERNELS="N127-D17-K129 or N3-D67-K1031 or N5-D64-K70000 or ties or empty_and or (code_stats_matches and N300) or collapsed \
or rejects or (ema_update_matches and 37-67) or zero_total or pixelcnn_sample_equals or spatial_bias or guided or many_codes"
  # racecheck is far slower than memcheck: it runs the kernels that share memory between threads,
  # once per kernel template where it can.
  RACES="${RACECHECK_SELECTION:-(N127-D17-K129 and float32) or (N3-D67-K1031 and float16) or (N1000-D64-K512 and float64) \
or (code_stats_matches and N300 and float32) or (pixelcnn_sample_equals and float32 and k3) or many_codes}"
  for tool in memcheck racecheck; do
    selection="$KERNELS"
    [ "$tool" = racecheck ] && selection="$RACES"
    STEP_LIMIT_S="${SANITIZER_LIMIT_S:-}" step "sanitizer-$tool" env PYTORCH_NO_CUDA_MEMORY_CACHING=1 "$SANITIZER" --tool "$tool" --error-exitcode 99 \
      --target-processes all "$PYTHON" -m pytest -q -p no:cacheprovider tests/ops/test_cuda_ops.py -k "$selection"
  done
fi

echo
echo "gpu_check timings: ${timings[*]}"
if [ "${#failures[@]}" -eq 0 ]; then
  echo "gpu_check: all steps passed"
else
  echo "gpu_check: FAILED steps: ${failures[*]}"
  exit 1
fi
