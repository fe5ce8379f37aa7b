"""What every benchmark script shares: timing, peak extra memory, the machine, tables and JSON results.

Peak extra memory: Linux's resident-set high-water mark (VmHWM) is reset to the current resident
set just before a call (``/proc/self/clear_refs``), and the number reported is VmHWM after the call
minus VmRSS before it: every page the call touched beyond what was already resident, whoever
allocated it (torch, faiss, MKL). tracemalloc cannot see those allocations. During that measuring
call (a separate call from the timed ones) glibc serves every allocation above 128 KiB with its own
mapping, returned at free, and free heap memory is trimmed first, so a case cannot hide its
buffers in pages an earlier case left resident. Timed calls run with a 32 MiB mmap threshold, like
glibc's own adaptive default after warm-up. Inputs are allocated and touched before the reset.

``--device cuda`` (every script, through :func:`parse_arguments`): inputs and models live on the GPU,
calls are timed with CUDA events after a ``torch.cuda.synchronize()``, peak extra memory is torch's
``max_memory_allocated()`` during one extra call minus ``memory_allocated()`` before it, TF32 is off
(fp32 comparisons), the JSON machine block describes the GPU and results go to ``<name>-cuda.json``.
``BENCH_RESULTS_DIR`` (environment) replaces bench/results/ as the output folder, e.g. for smoke runs.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any

import torch

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
MEMORY_METHOD = (
    "peak resident-set growth of one extra call: VmHWM after it minus VmRSS before it, VmHWM reset through "
    "/proc/self/clear_refs, glibc's mmap threshold at 128 KiB for that call so freed buffers leave the RSS"
)
CUDA_MEMORY_METHOD = (
    "peak CUDA memory of one extra call: torch.cuda.max_memory_allocated() after it (peak stats reset just "
    "before) minus torch.cuda.memory_allocated() before it; torch's caching allocator only, not the CUDA context"
)
CUDA_UNAVAILABLE = "--device cuda needs a CUDA device; torch.cuda.is_available() is False"

# FP32 without tensor cores (FFMA), dense, from NVIDIA's datasheets: (substring of the device name, label, TFLOP/s).
# The first match wins, so the more specific names come first.
FP32_PEAK_TFLOPS = (
    ("H200", "H200", 67.0),
    ("H100 PCIe", "H100 PCIe", 51.0),
    ("H100 NVL", "H100 NVL", 60.0),
    ("H100", "H100 SXM", 67.0),
    ("A100", "A100", 19.5),
)

_device = torch.device("cpu")
_clock = "wall"  # "cpu": process CPU time (--clock cpu)


def device() -> torch.device:
    """The device this run benchmarks (``--device``; cpu until :func:`parse_arguments` says otherwise)."""
    return _device


def on_cuda() -> bool:
    return _device.type == "cuda"


def use_device(name: str) -> torch.device:
    """Makes ``name`` the benchmarked device; on cuda, TF32 off so that fp32 means fp32.

    Raises RuntimeError (:data:`CUDA_UNAVAILABLE`) when cuda is asked for and torch has no GPU.
    """
    global _device
    if name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(CUDA_UNAVAILABLE)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.cuda.init()
    _device = torch.device(name)
    return _device


def synchronize() -> None:
    """Waits for the GPU's queued work when the device is cuda; nothing on cpu."""
    if on_cuda():
        torch.cuda.synchronize()


try:
    _LIBC = ctypes.CDLL("libc.so.6")
except OSError:  # not glibc: measurements still run, a little less strictly
    _LIBC = None
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _malloc_mode(mmap_threshold: int, trim_threshold: int) -> None:
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, trim_threshold)


def _timing_mode() -> None:
    """Like glibc's default once warmed up: buffers up to 32 MiB are reused, not page-faulted afresh."""
    _malloc_mode(32 * 2**20, 256 * 2**20)


def _memory_mode() -> None:
    """Every buffer above 128 KiB is its own mapping and leaves the RSS when freed."""
    _malloc_mode(128 * 2**10, 128 * 2**10)
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


_timing_mode()


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _cuda_peak_extra_bytes(function: Callable[[], Any]) -> int:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    result = function()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del result
    return max(0, peak - before)


def peak_extra_bytes(function: Callable[[], Any]) -> int | None:
    """Memory the call needed beyond what was allocated before it; None where Linux can't say.

    cpu: resident memory (see the module's docstring); cuda: torch's CUDA allocator.
    """
    if on_cuda():
        return _cuda_peak_extra_bytes(function)
    _memory_mode()
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        before = _status_bytes("VmRSS")
        result = function()
        peak = _status_bytes("VmHWM")
        del result
        return max(0, peak - before)
    except (OSError, KeyError):
        return None
    finally:
        _timing_mode()


def seconds(function: Callable[[], Any]) -> float:
    """Time of one call in seconds: wall time on cpu; on cuda, between CUDA events recorded on the current
    stream around the call, after a synchronize (so earlier work is not counted) and waiting for the end."""
    if not on_cuda():
        clock = time.process_time if _clock == "cpu" else time.perf_counter
        start = clock()
        function()
        return clock() - start
    torch.cuda.synchronize()
    start_event, end_event = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start_event.record()
    function()
    end_event.record()
    end_event.synchronize()
    return start_event.elapsed_time(end_event) / 1e3


def time_call(function: Callable[[], Any], repeats: int, warmup: int = 1, budget_s: float = 20.0) -> dict[str, Any]:
    """Best and median time in seconds (see :func:`seconds`) over up to ``repeats`` calls after ``warmup`` calls.

    Slow baselines stop early: no more calls once ``budget_s`` seconds were spent (at least one timed call).
    """
    spent = 0.0
    for _ in range(warmup):
        spent += seconds(function)
        if spent > budget_s / 4:
            break
    times: list[float] = []
    for _ in range(repeats):
        times.append(seconds(function))
        if sum(times) > budget_s:
            break
    return {"best_s": min(times), "median_s": statistics.median(times), "repeats": len(times)}


def measure(function: Callable[[], Any], repeats: int, warmup: int = 2, budget_s: float = 20.0,
            **fields: Any) -> dict[str, Any]:
    """One results row: ``fields``, then :func:`time_call`'s timing, then ``peak_extra_mb`` of one more call."""
    timing = time_call(function, repeats=repeats, warmup=warmup, budget_s=budget_s)
    return {**fields, **timing, "peak_extra_mb": megabytes(peak_extra_bytes(function))}


def add_speedups(results: list[dict[str, Any]], ours: dict[str, Any]) -> None:
    """``ours_speedup`` on every row: its best time over ours (above 1: ours is faster)."""
    for entry in results:
        entry["ours_speedup"] = entry["best_s"] / ours["best_s"]


def parse_arguments(description: str, quick_help: str) -> argparse.Namespace:
    """``--quick``, ``--threads N`` (applied to torch here) and ``--device {cpu,cuda}`` (made the run's
    device here: :func:`use_device`; cuda without a GPU is a usage error) from the command line."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default); 1 compares fairly on a busy shared machine")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where inputs and models live (default cpu); results go to <name>-<device>.json")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: time calls by this process's CPU time (all its threads), which does not count "
                             "waiting for a core on a busy machine; with --threads 1 it is one core's time. "
                             "Results go to <name>-cpu-<path>-cpu-time.json")
    arguments = parser.parse_args()
    global _clock
    _clock = arguments.clock
    try:
        use_device(arguments.device)
    except RuntimeError as error:
        parser.error(str(error))
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    return arguments


def run_conditions(load_before: tuple[float, float, float]) -> dict[str, Any]:
    """Torch's thread count and the 1/5/15-minute load averages before and now: the machine is shared."""
    return {"threads": torch.get_num_threads(),
            "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()}}


def sgemm_gflops(size: int | None = None, repeats: int = 5) -> float:
    """The same run's square float32 matmul throughput on the run's device (TF32 off on cuda).

    size: 2048 on cpu (the compute limit CPU kernels are measured against), 8192 on cuda.
    """
    size = size or (8192 if on_cuda() else 2048)
    a, b = torch.randn(size, size, device=_device), torch.randn(size, size, device=_device)  # (n, n)
    out = torch.empty(size, size, device=_device)  # (n, n)
    timing = time_call(lambda: torch.mm(a, b, out=out), repeats, warmup=2)
    return 2 * size**3 / timing["best_s"] / 1e9


def cuda_fp32_peak_gflops(measured_sgemm_gflops: float | None = None) -> tuple[float, str]:
    """The GPU's FP32 non-tensor-core peak (GFLOP/s) and where the number comes from.

    NVIDIA's datasheet figure for the GPUs in :data:`FP32_PEAK_TFLOPS`, else a large fp32 matmul with TF32 off
    (``measured_sgemm_gflops`` when given, else measured here), which is below the true peak.
    """
    name = torch.cuda.get_device_name(_device)
    for pattern, label, tflops in FP32_PEAK_TFLOPS:
        if pattern in name:
            return tflops * 1e3, f"datasheet: {label} FP32 non-tensor-core peak {tflops} TFLOP/s ({name})"
    measured = measured_sgemm_gflops if measured_sgemm_gflops is not None else sgemm_gflops()
    return measured, f"measured: 8192^3 fp32 torch.mm with TF32 off on {name} (not in the datasheet table)"


def _cpu_description() -> tuple[str, list[str]]:
    """CPU model (with family and model numbers) and its AVX-512 flags, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            fields = dict(line.split(":", 1) for line in cpuinfo.read().split("\n\n")[0].splitlines() if ":" in line)
    except OSError:
        return platform.processor() or "unknown", []
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    model = f"{fields.get('model name', 'unknown')} (family {fields.get('cpu family')}, model {fields.get('model')})"
    return model, sorted(flag for flag in fields.get("flags", "").split() if flag.startswith("avx512"))


def _nvidia_driver_version() -> str | None:
    try:
        output = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return output.strip().splitlines()[0] if output.strip() else None


def _gpu_description() -> dict[str, Any]:
    """The benchmarked GPU: name, compute capability, memory, driver, CUDA and cuDNN versions, TF32 settings."""
    index = _device.index if _device.index is not None else torch.cuda.current_device()
    properties = torch.cuda.get_device_properties(index)
    driver_cuda = getattr(torch._C, "_cuda_getDriverVersion", lambda: None)()  # e.g. 12040 for CUDA 12.4
    return {
        "name": torch.cuda.get_device_name(index),
        "capability": ".".join(map(str, torch.cuda.get_device_capability(index))),
        "memory_gib": properties.total_memory / 2**30,
        "multiprocessors": properties.multi_processor_count,
        "driver": _nvidia_driver_version(),
        "driver_cuda": None if not driver_cuda else f"{driver_cuda // 1000}.{driver_cuda % 1000 // 10}",
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "allow_tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32},
    }


def cpu_path() -> str | None:
    """Our CPU kernel path in this process (avx512, avx2, neon, default); None without the compiled operators."""
    from vaestudio.ops.cpu_capability import cpu_capability

    capability = cpu_capability()
    return None if capability is None else capability.path


def _cpu_paths_block() -> dict[str, Any]:
    from bench.cpu_paths import recorded_environment
    from vaestudio.ops.cpu_capability import cpu_capability

    capability = cpu_capability()
    return {
        "cpu_kernel_path": None if capability is None else capability.path,
        "cpu_kernel_path_reason": None if capability is None else capability.reason,
        "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "capping_environment": recorded_environment(),
    }


def machine() -> dict[str, Any]:
    from vaestudio import ops

    cpu_model, avx512 = _cpu_description()
    gpu = {"device": "cuda", "gpu": _gpu_description()} if on_cuda() else {}
    return {
        **gpu,
        "cpu": cpu_model,
        "avx512": avx512,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "operators": f"{ops.backend().name} ({ops.backend().reason})",
        **_cpu_paths_block(),
        "clock": "process CPU time (time.process_time)" if _clock == "cpu" else "wall time (time.perf_counter)",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 (3.10)
        "note": "machine shared with other engineers' jobs: timings are best-of-N and may be noisy",
    }


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    text = [[f"{v:.4g}" if isinstance(v, float) else ("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in text)) if text else len(c) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for row in text:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths)))


def results_dir() -> str:
    """bench/results/, or the folder ``BENCH_RESULTS_DIR`` names (smoke runs that leave the committed results be)."""
    return os.environ.get("BENCH_RESULTS_DIR") or RESULTS


def results_file_name(name: str) -> str:
    """``<name>-cuda.json`` on cuda; on cpu ``<name>-cpu-<path>.json`` with our CPU kernel path (e.g.
    nearest_code-cpu-avx2.json), or ``<name>-cpu.json`` without the compiled operators."""
    if on_cuda():
        return f"{name}-cuda.json"
    path = cpu_path()
    suffix = "-cpu-time" if _clock == "cpu" else ""
    return f"{name}-cpu{suffix}.json" if path is None else f"{name}-cpu-{path}{suffix}.json"


def write_results(name: str, payload: dict[str, Any]) -> str:
    """Writes :func:`results_file_name` into :func:`results_dir`."""
    folder = results_dir()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, results_file_name(name))
    memory_method = CUDA_MEMORY_METHOD if on_cuda() else MEMORY_METHOD
    with open(path, "w", encoding="utf-8") as stream:
        json.dump({"machine": machine(), "memory_method": memory_method, **payload}, stream, indent=2)
        stream.write("\n")
    print(f"\nwrote {path}")
    return path


def megabytes(value: int | None) -> float | None:
    return None if value is None else value / 2**20
