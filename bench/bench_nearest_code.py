"""nearest_code on CPU: ours against the torch reference, torch.cdist + argmin and faiss IndexFlatL2.

    python -m bench.bench_nearest_code [--quick]

Every method runs in this one process on the same inputs. The compute limit is this run's square
sgemm (2048^3); a method's GFLOP/s counts 2 N K D flops. Writes bench/results/nearest_code-cpu.json.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from bench import harness
from vaestudio import ops
from vaestudio.ops import reference

SHAPES = [(65536, 64, 512), (65536, 64, 8192), (16384, 256, 1024)]


def _methods(x: torch.Tensor, codebook: torch.Tensor) -> dict[str, Callable[[], Any]]:
    methods: dict[str, Callable[[], Any]] = {
        "ours": lambda: ops.nearest_code(x, codebook),
        "torch reference": lambda: reference.nearest_code_reference(x, codebook),
        "cdist+argmin": lambda: torch.cdist(x, codebook).argmin(1),
    }
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


def run_shape(num_rows: int, dim: int, num_codes: int, repeats: int, limit: float) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(num_rows, dim, generator=generator)  # (N, D)
    codebook = torch.randn(num_codes, dim, generator=generator)  # (K, D)
    flops = 2 * num_rows * num_codes * dim
    results = []
    for name, function in _methods(x, codebook).items():
        entry = harness.measure(function, repeats, warmup=1, budget_s=15.0,
                                method=name, N=num_rows, D=dim, K=num_codes)
        entry["gflops"] = flops / entry["best_s"] / 1e9
        entry["fraction_of_sgemm"] = entry["gflops"] / limit
        results.append(entry)
    ours = results[0]
    harness.add_speedups(results, ours)
    ours_indices = ops.nearest_code(x, codebook)[0]
    exact_match = reference.nearest_code_reference(x[:4096], codebook)[0]
    ours["agreement_with_reference_first_4096"] = float((ours_indices[:4096] == exact_match).float().mean())
    return results


def main() -> None:
    arguments = harness.parse_arguments(__doc__.splitlines()[0], "N / 8 and fewer repeats: a smoke run")
    shapes = [(n // 8, d, k) for n, d, k in SHAPES] if arguments.quick else SHAPES
    repeats = 2 if arguments.quick else 5
    limit = harness.sgemm_gflops()
    print(f"square sgemm (2048^3) in this run: {limit:.1f} GFLOP/s on {torch.get_num_threads()} threads")
    rows, results = [], []
    for shape in shapes:
        for entry in run_shape(*shape, repeats=repeats, limit=limit):
            results.append(entry)
            rows.append([f"{entry['N']}x{entry['D']}x{entry['K']}", entry["method"], entry["best_s"],
                         entry["gflops"], entry["fraction_of_sgemm"], entry["ours_speedup"],
                         entry["peak_extra_mb"]])
    harness.print_table("nearest_code (N x D x K)", ["shape", "method", "best s", "GFLOP/s", "of sgemm",
                                                     "ours faster x", "peak extra MB"], rows)
    harness.write_results("nearest_code", {"quick": arguments.quick, "sgemm_gflops": limit, "results": results})


if __name__ == "__main__":
    main()
