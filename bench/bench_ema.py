"""The EMA codebook update: code_stats + ema_update_ against one-hot matmul and index_add_.

    python -m bench.bench_ema [--quick] [--threads N] [--device {cpu,cuda}]

The memory floor is one copy of x (x.clone(); on cuda a device-to-device copy); the goal is the
whole EMA path within 3x of it. Writes bench/results/ema-<device>.json.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from bench import harness
from vaestudio import ops
from vaestudio.ops import reference

NUM_ROWS, DIM = 65536, 64
CODEBOOK_SIZES = [512, 8192]


def _ema_state(num_codes: int, dim: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    codebook = torch.randn(num_codes, dim, device=device)  # (K, D)
    return codebook, torch.ones(num_codes, device=device), codebook.clone()  # codebook, cluster_size (K,), embed_sum (K, D)


def _methods(x: torch.Tensor, indices: torch.Tensor, num_codes: int) -> dict[str, Callable[[], Any]]:
    state = _ema_state(num_codes, x.shape[1], x.device)

    def ours():
        counts, sums = ops.code_stats(x, indices, num_codes)
        ops.ema_update_(*state, counts, sums, 0.99, 1e-5)

    def one_hot_matmul():
        # F.one_hot(indices, K) is int64 (8 N K bytes); a float one-hot built in place is the fair version.
        one_hot = torch.zeros(x.shape[0], num_codes, device=x.device).scatter_(1, indices[:, None], 1.0)  # (N, K)
        reference.ema_update_reference_(*state, one_hot.sum(0), one_hot.t() @ x, 0.99, 1e-5)

    def index_add():
        counts, sums = reference.code_stats_reference(x, indices, num_codes)
        reference.ema_update_reference_(*state, counts, sums, 0.99, 1e-5)

    return {"x.clone() (floor)": x.clone, "ours": ours, "one_hot(indices).T @ x": one_hot_matmul, "index_add_": index_add}


def run(num_rows: int, dim: int, num_codes: int, repeats: int) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(0)  # drawn on CPU: the same inputs on every device
    x = torch.randn(num_rows, dim, generator=generator).to(harness.device())  # (N, D)
    indices = torch.randint(num_codes, (num_rows,), generator=generator).to(harness.device())  # (N,)
    results = [harness.measure(function, repeats, method=name, N=num_rows, D=dim, K=num_codes)
               for name, function in _methods(x, indices, num_codes).items()]
    floor = results[0]["best_s"]
    for entry in results:
        entry["times_clone"] = entry["best_s"] / floor
    harness.add_speedups(results, next(entry for entry in results if entry["method"] == "ours"))
    return results


def main() -> None:
    arguments = harness.parse_arguments(__doc__.splitlines()[0], "N / 8 and fewer repeats: a smoke run")
    num_rows = NUM_ROWS // 8 if arguments.quick else NUM_ROWS
    repeats = 5 if arguments.quick else 20
    rows, results = [], []
    for num_codes in CODEBOOK_SIZES:
        for entry in run(num_rows, DIM, num_codes, repeats):
            results.append(entry)
            rows.append([f"{num_rows}x{DIM}, K={num_codes}", entry["method"], entry["best_s"] * 1e3,
                         entry["times_clone"], entry["ours_speedup"], entry["peak_extra_mb"]])
    harness.print_table("EMA path: code_stats + ema_update_ (N x D, K codes)",
                        ["shape", "method", "best ms", "x clone", "ours faster x", "peak extra MB"], rows)
    harness.write_results("ema", {"quick": arguments.quick, "results": results})


if __name__ == "__main__":
    main()
