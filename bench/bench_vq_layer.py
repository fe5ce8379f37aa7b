"""One VQ layer training step: our VectorQuantizer against vector_quantize_pytorch.VectorQuantize.

    python -m bench.bench_vq_layer [--quick] [--threads N] [--device {cpu,cuda}]

A step quantises 16384 vectors of dimension 64 (latents (16, 64, 32, 32)), takes the straight-through
output and the commitment loss, updates the EMA codebook and back-propagates to the latents. Both
layers use decay 0.99 and commitment weight 0.25 with their other settings at their defaults
(ours: no k-means init, no dead-code revival, to match). Writes bench/results/vq_layer-<device>.json.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from bench import harness
from vaestudio.models.quantizer import VectorQuantizer

BATCH, DIM, SIZE = 16, 64, 32  # 16 x 32 x 32 = 16384 vectors
CODEBOOK_SIZES = [512, 8192]


def _ours_step(num_codes: int, latents: torch.Tensor) -> Callable[[], Any]:
    layer = VectorQuantizer(num_codes=num_codes, code_dim=DIM, ema_decay=0.99, commitment_weight=0.25,
                            kmeans_init=False, dead_code_threshold=0.0).to(latents.device).train()

    def step():
        latents.grad = None
        output = layer(latents)
        loss = output.quantized.square().mean() + output.commitment_loss  # a stand-in decoder loss
        loss.backward()

    return step


def _theirs_step(num_codes: int, latents: torch.Tensor) -> Callable[[], Any] | None:
    try:
        from vector_quantize_pytorch import VectorQuantize
    except ImportError:
        print("vector_quantize_pytorch is not installed: skipping the baseline")
        return None
    layer = VectorQuantize(dim=DIM, codebook_size=num_codes, decay=0.99, commitment_weight=0.25,
                           accept_image_fmap=True).to(latents.device).train()

    def step():
        latents.grad = None
        quantized, _, commitment_loss = layer(latents)
        loss = quantized.square().mean() + commitment_loss.sum()
        loss.backward()

    return step


def run(num_codes: int, repeats: int, batch: int) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(0)  # drawn on CPU: the same inputs on every device
    latents = torch.randn(batch, DIM, SIZE, SIZE, generator=generator).to(harness.device()).requires_grad_()
    # latents: (B, D, h, w)
    steps = {"ours": _ours_step(num_codes, latents), "vector_quantize_pytorch": _theirs_step(num_codes, latents)}
    results = [harness.measure(step, repeats, method=name, vectors=batch * SIZE * SIZE, D=DIM, K=num_codes)
               for name, step in steps.items() if step is not None]
    harness.add_speedups(results, results[0])
    return results


def main() -> None:
    arguments = harness.parse_arguments(__doc__.splitlines()[0], "a quarter of the vectors, fewer repeats")
    batch = BATCH // 4 if arguments.quick else BATCH
    repeats = 3 if arguments.quick else 10
    rows, results = [], []
    for num_codes in CODEBOOK_SIZES:
        for entry in run(num_codes, repeats, batch):
            results.append(entry)
            rows.append([f"{entry['vectors']}x{DIM}, K={num_codes}", entry["method"], entry["best_s"] * 1e3,
                         entry["median_s"] * 1e3, entry["ours_speedup"], entry["peak_extra_mb"]])
    harness.print_table("VQ layer training step (forward, EMA, backward)",
                        ["shape", "method", "best ms", "median ms", "ours faster x", "peak extra MB"], rows)
    harness.write_results("vq_layer", {"quick": arguments.quick, "results": results})


if __name__ == "__main__":
    main()
