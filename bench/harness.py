"""What every benchmark script shares: timing, peak extra memory, the machine, tables and JSON results.

Peak extra memory: Linux's resident-set high-water mark (VmHWM) is reset to the current resident
set just before a call (``/proc/self/clear_refs``), and the number reported is VmHWM after the call
minus VmRSS before it: every page the call touched beyond what was already resident, whoever
allocated it (torch, faiss, MKL). tracemalloc cannot see those allocations. To make freed memory
leave the resident set (so that a later case does not reuse pages that an earlier one left behind
and look cheaper), glibc is told to serve every allocation above 128 KiB with mmap and to return
it at free (mallopt M_MMAP_THRESHOLD, fixed). Inputs are allocated and touched before the reset.
"""

from __future__ import annotations

import ctypes
import datetime
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
MEMORY_METHOD = (
    "peak resident-set growth: VmHWM after the call minus VmRSS before it, with VmHWM reset through "
    "/proc/self/clear_refs and glibc's mmap threshold fixed at 128 KiB so freed buffers leave the RSS"
)


def _fix_malloc_threshold() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD: fixed, no dynamic growth
        libc.mallopt(-1, 128 * 1024)  # M_TRIM_THRESHOLD
    except OSError:
        pass


_fix_malloc_threshold()


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def peak_extra_bytes(function: Callable[[], Any]) -> int | None:
    """Resident memory the call needed beyond what was resident before it; None where Linux can't say."""
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


def time_call(function: Callable[[], Any], repeats: int, warmup: int = 1, budget_s: float = 20.0) -> dict[str, Any]:
    """Best and median wall time in seconds over up to ``repeats`` calls after ``warmup`` calls.

    Slow baselines stop early: no more calls once ``budget_s`` seconds were spent (at least one timed call).
    """
    spent = 0.0
    for _ in range(warmup):
        start = time.perf_counter()
        function()
        spent += time.perf_counter() - start
        if spent > budget_s / 4:
            break
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
        if sum(times) > budget_s:
            break
    return {"best_s": min(times), "median_s": statistics.median(times), "repeats": len(times)}


def sgemm_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The same run's square float32 matmul throughput: the compute limit the kernels are measured against."""
    a, b = torch.randn(size, size), torch.randn(size, size)  # (n, n)
    out = torch.empty(size, size)  # (n, n)
    timing = time_call(lambda: torch.mm(a, b, out=out), repeats, warmup=2)
    return 2 * size**3 / timing["best_s"] / 1e9


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


def machine() -> dict[str, Any]:
    from vaestudio import ops

    cpu_model, avx512 = _cpu_description()
    return {
        "cpu": cpu_model,
        "avx512": avx512,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "operators": f"{ops.backend().name} ({ops.backend().reason})",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "note": "machine shared with other engineers' jobs: timings are best-of-N and may be noisy",
    }


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    text = [[f"{v:.4g}" if isinstance(v, float) else ("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in text)) if text else len(c) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for row in text:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths)))


def write_results(name: str, payload: dict[str, Any]) -> str:
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"{name}-cpu.json")
    with open(path, "w", encoding="utf-8") as stream:
        json.dump({"machine": machine(), "memory_method": MEMORY_METHOD, **payload}, stream, indent=2)
        stream.write("\n")
    print(f"\nwrote {path}")
    return path


def megabytes(value: int | None) -> float | None:
    return None if value is None else value / 2**20
