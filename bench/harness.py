"""What every benchmark script shares: timing, peak extra memory, the machine, tables and JSON results.

Peak extra memory: Linux's resident-set high-water mark (VmHWM) is reset to the current resident
set just before a call (``/proc/self/clear_refs``), and the number reported is VmHWM after the call
minus VmRSS before it: every page the call touched beyond what was already resident, whoever
allocated it (torch, faiss, MKL). tracemalloc cannot see those allocations. During that measuring
call (a separate call from the timed ones) glibc serves every allocation above 128 KiB with its own
mapping, returned at free, and free heap memory is trimmed first, so a case cannot hide its
buffers in pages an earlier case left resident. Timed calls run with a 32 MiB mmap threshold, like
glibc's own adaptive default after warm-up. Inputs are allocated and touched before the reset.
"""

from __future__ import annotations

import argparse
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
    "peak resident-set growth of one extra call: VmHWM after it minus VmRSS before it, VmHWM reset through "
    "/proc/self/clear_refs, glibc's mmap threshold at 128 KiB for that call so freed buffers leave the RSS"
)


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


def peak_extra_bytes(function: Callable[[], Any]) -> int | None:
    """Resident memory the call needed beyond what was resident before it; None where Linux can't say."""
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


def measure(function: Callable[[], Any], repeats: int, warmup: int = 2, budget_s: float = 20.0,
            **fields: Any) -> dict[str, Any]:
    """One results row: ``fields``, then :func:`time_call`'s timing, then ``peak_extra_mb`` of one more call."""
    timing = time_call(function, repeats=repeats, warmup=warmup, budget_s=budget_s)
    return {**fields, **timing, "peak_extra_mb": megabytes(peak_extra_bytes(function))}


def add_speedups(results: list[dict[str, Any]], ours: dict[str, Any]) -> None:
    """``ours_speedup`` on every row: its best time over ours (above 1: ours is faster)."""
    for entry in results:
        entry["ours_speedup"] = entry["best_s"] / ours["best_s"]


def parse_arguments(description: str, quick_help: str, threads: bool = False) -> argparse.Namespace:
    """``--quick`` (and with ``threads``, ``--threads N``, applied to torch here) from the command line."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    if threads:
        parser.add_argument("--threads", type=int, default=0,
                            help="torch threads (0: torch's default); 1 compares fairly on a busy shared machine")
    arguments = parser.parse_args()
    if threads and arguments.threads:
        torch.set_num_threads(arguments.threads)
    return arguments


def run_conditions(load_before: tuple[float, float, float]) -> dict[str, Any]:
    """Torch's thread count and the 1/5/15-minute load averages before and now: the machine is shared."""
    return {"threads": torch.get_num_threads(),
            "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()}}


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
