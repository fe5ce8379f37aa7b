"""nearest_code: ours against the torch reference, torch.cdist + argmin and (on CPU) faiss IndexFlatL2.

"ours" is the op as it chooses (csrc/cpu/quantize.cpp); on CPU each of its algorithms is timed as well
(VAESTUDIO_NEAREST_CODE_KERNEL around the call): "ours, register kernel" (the per-path register-blocked
fp32 kernel), "ours, GEMM tiles" (at::mm tiles, candidate scan, exact float64 re-check) and, on the
avx512 path of a CPU with AVX512-BF16, "ours, bf16 screen" (nearest_code_screen.h). The CPU path is
our kernels' (VAESTUDIO_CPU_CAPABILITY; run through bench.cpu_paths to cap torch's kernels alike).

    python -m bench.bench_nearest_code [--quick] [--threads N] [--device {cpu,cuda}]

Every method runs in this one process on the same inputs. A method's GFLOP/s counts 2 N K D flops.
CPU: the compute limit is this run's square sgemm (2048^3); writes bench/results/nearest_code-cpu-<path>.json.
CUDA: the GPU shapes, no faiss, and the limit is the GPU's FP32 non-tensor-core peak (datasheet for
H100/H200/A100, else a measured 8192^3 fp32 matmul with TF32 off; the JSON says which); writes
bench/results/nearest_code-cuda.json.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from bench import harness
from vaestudio import ops
from vaestudio.ops import reference

SHAPES = [(65536, 64, 512), (65536, 64, 8192), (16384, 256, 1024)]
CUDA_SHAPES = [*SHAPES, (524288, 64, 512), (65536, 256, 16384)]


def cpu_has_bf16_screen() -> bool:
    """Whether the op can screen in bf16 here: the avx512 path on a CPU with AVX512-BF16."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            has_bf16 = "avx512_bf16" in cpuinfo.read()
    except OSError:
        return False
    return has_bf16 and harness.cpu_path() == "avx512" and os.environ.get("VAESTUDIO_NEAREST_CODE_SCREEN") != "0"


@contextlib.contextmanager
def _algorithm(name: str):
    previous = os.environ.get("VAESTUDIO_NEAREST_CODE_KERNEL")
    os.environ["VAESTUDIO_NEAREST_CODE_KERNEL"] = name
    try:
        yield
    finally:
        if previous is None:
            del os.environ["VAESTUDIO_NEAREST_CODE_KERNEL"]
        else:
            os.environ["VAESTUDIO_NEAREST_CODE_KERNEL"] = previous


def _forced(name: str, x: torch.Tensor, codebook: torch.Tensor) -> Callable[[], Any]:
    def call():
        with _algorithm(name):
            return ops.nearest_code(x, codebook)

    return call


ALGORITHM_METHODS = {"register": "ours, register kernel", "tiles": "ours, GEMM tiles", "screen": "ours, bf16 screen"}


def _methods(x: torch.Tensor, codebook: torch.Tensor) -> dict[str, Callable[[], Any]]:
    methods: dict[str, Callable[[], Any]] = {"ours": lambda: ops.nearest_code(x, codebook)}
    if x.device.type == "cpu" and ops.backend().compiled:
        for algorithm, label in ALGORITHM_METHODS.items():
            if algorithm != "screen" or cpu_has_bf16_screen():
                methods[label] = _forced(algorithm, x, codebook)
    methods |= {
        "torch reference": lambda: reference.nearest_code_reference(x, codebook),
        "cdist+argmin": lambda: torch.cdist(x, codebook).argmin(1),
    }
    if x.device.type != "cpu":
        return methods  # faiss-cpu baseline only on CPU
    try:
        import faiss

        faiss.omp_set_num_threads(torch.get_num_threads())
        index = faiss.IndexFlatL2(codebook.shape[1])
        index.add(codebook.numpy())
        x_numpy = np.ascontiguousarray(x.numpy())
        methods["faiss IndexFlatL2"] = lambda: index.search(x_numpy, 1)
    except ImportError:
        print("faiss is not installed: skipping the faiss baseline")
    return methods


def run_shape(num_rows: int, dim: int, num_codes: int, repeats: int, limit: float,
              limit_key: str = "fraction_of_sgemm") -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(0)  # drawn on CPU: the same inputs on every device
    x = torch.randn(num_rows, dim, generator=generator).to(harness.device())  # (N, D)
    codebook = torch.randn(num_codes, dim, generator=generator).to(harness.device())  # (K, D)
    flops = 2 * num_rows * num_codes * dim
    results = []
    for name, function in _methods(x, codebook).items():
        entry = harness.measure(function, repeats, warmup=1, budget_s=15.0,
                                method=name, N=num_rows, D=dim, K=num_codes)
        entry["gflops"] = flops / entry["best_s"] / 1e9
        entry[limit_key] = entry["gflops"] / limit
        results.append(entry)
    ours = results[0]
    harness.add_speedups(results, ours)
    ours_indices = ops.nearest_code(x, codebook)[0]
    exact_match = reference.nearest_code_reference(x[:4096], codebook)[0]
    ours["agreement_with_reference_first_4096"] = float((ours_indices[:4096] == exact_match).float().mean())
    exact = torch.cdist(x[:4096].double(), codebook.double()).argmin(1)  # (4096,) float64 nearest codes
    ours["agreement_with_float64_first_4096"] = float((ours_indices[:4096] == exact).float().mean())
    return results


def main() -> None:
    arguments = harness.parse_arguments(__doc__.splitlines()[0], "N / 8 and fewer repeats: a smoke run")
    all_shapes = CUDA_SHAPES if harness.on_cuda() else SHAPES
    shapes = [(n // 8, d, k) for n, d, k in all_shapes] if arguments.quick else all_shapes
    repeats = 2 if arguments.quick else 5
    sgemm = harness.sgemm_gflops()
    limits: dict[str, Any] = {"sgemm_gflops": sgemm}
    if harness.on_cuda():
        print(f"square sgemm (8192^3, fp32, TF32 off) in this run: {sgemm:.1f} GFLOP/s")
        limit, source = harness.cuda_fp32_peak_gflops(sgemm)
        print(f"FP32 non-tensor-core peak: {limit:.0f} GFLOP/s ({source})")
        limits |= {"fp32_peak_gflops": limit, "fp32_peak_source": source}
        limit_key, limit_column = "fraction_of_fp32_peak", "of FP32 peak"
    else:
        print(f"square sgemm (2048^3) in this run: {sgemm:.1f} GFLOP/s on {torch.get_num_threads()} threads")
        limit, limit_key, limit_column = sgemm, "fraction_of_sgemm", "of sgemm"
    rows, results = [], []
    for shape in shapes:
        for entry in run_shape(*shape, repeats=repeats, limit=limit, limit_key=limit_key):
            results.append(entry)
            rows.append([f"{entry['N']}x{entry['D']}x{entry['K']}", entry["method"], entry["best_s"],
                         entry["gflops"], entry[limit_key], entry["ours_speedup"],
                         entry["peak_extra_mb"]])
    harness.print_table("nearest_code (N x D x K)", ["shape", "method", "best s", "GFLOP/s", limit_column,
                                                     "ours faster x", "peak extra MB"], rows)
    kernel = "cuda" if harness.on_cuda() else f"CPU path {harness.cpu_path()}"
    print(f"ours: {kernel}")
    harness.write_results("nearest_code", {"quick": arguments.quick, **limits, "ours_kernel": kernel,
                                           "cpu_path": None if harness.on_cuda() else harness.cpu_path(),
                                           "results": results})


if __name__ == "__main__":
    main()
