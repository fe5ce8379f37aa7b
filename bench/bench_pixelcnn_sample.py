"""Cached PixelCNN sampling (ops.pixelcnn_sample) against the naive loop.

    python -m bench.bench_pixelcnn_sample [--quick] [--threads N] [--device {cpu,cuda}]

The network: gated PixelCNN, 12 layers, 128 channels, K = 512 codes, kernel 3, head 256, float32.
The naive loop runs a full forward of the network per position (PixelCNNPrior.naive_sample). Where
it would take longer than NAIVE_BUDGET_S, N full forward passes are timed and the loop is
estimated as (H x W steps) x (forward time); the JSON says which ("naive_method").
CPU: 8x8, 16x16 and 32x32 at batch 1, 4 and 32; CUDA: 16x16 and 32x32 at batch 1, 32 and 256.
Writes bench/results/pixelcnn_sample-<device>.json.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from bench import harness
from vaestudio.models.pixelcnn import PixelCNNPrior, PixelCNNPriorConfig

CONFIG = PixelCNNPriorConfig(num_codes=512, channels=128, num_layers=12, kernel_size=3, head_channels=256)
SIZES = [8, 16, 32]
BATCHES = [1, 4, 32]
CUDA_SIZES = [16, 32]
CUDA_BATCHES = [1, 32, 256]
GOALS = {"16x16 batch 4": 50, "32x32 batch 32": 150}  # speedups over the naive loop, on CPU
NAIVE_BUDGET_S = 12.0
FORWARD_PASSES = 3


def _forward_seconds(prior: PixelCNNPrior, batch: int, size: int) -> float:
    codes = torch.randint(CONFIG.num_codes, (batch, size, size), device=harness.device())  # (B, H, W)
    condition_bias = prior.condition_bias(None, batch)  # (B, L, 4C) zeros
    with torch.no_grad():
        return harness.time_call(lambda: prior.network(codes, condition_bias), FORWARD_PASSES, warmup=1)["best_s"]


def run(prior: PixelCNNPrior, batch: int, size: int, repeats: int) -> dict[str, Any]:
    arguments = {"height": size, "width": size, "seed": 0}
    ours_timing = harness.time_call(lambda: prior.sample(batch, **arguments), repeats, warmup=1 if size < 32 else 0)
    forward_s = _forward_seconds(prior, batch, size)
    steps = size * size
    entry: dict[str, Any] = {"batch": batch, "height": size, "width": size, "ours_s": ours_timing["best_s"],
                             "ours_median_s": ours_timing["median_s"], "forward_s": forward_s, "steps": steps}
    if steps * forward_s <= NAIVE_BUDGET_S:
        naive: list[torch.Tensor] = []
        entry["naive_s"] = harness.seconds(lambda: naive.append(prior.naive_sample(batch, **arguments)))
        naive_codes = naive[0]
        entry["naive_method"] = "measured: the whole loop, once"
        entry["same_codes"] = bool(torch.equal(naive_codes, prior.sample(batch, **arguments)))
    else:
        entry["naive_s"] = steps * forward_s
        entry["naive_method"] = f"estimated: {steps} steps x best of {FORWARD_PASSES} full forward passes"
    entry["speedup"] = entry["naive_s"] / entry["ours_s"]
    entry["positions_per_s"] = batch * steps / entry["ours_s"]
    return entry


def main() -> None:
    arguments = harness.parse_arguments(__doc__.splitlines()[0], "16x16 and under, two smallest batches: a smoke run")
    load_before = os.getloadavg()  # the machine is shared: say how busy it was
    torch.manual_seed(0)
    prior = PixelCNNPrior(CONFIG).to(harness.device()).eval()
    if harness.on_cuda():
        cases = [(batch, size) for size in CUDA_SIZES for batch in CUDA_BATCHES]
        if arguments.quick:
            cases = [(batch, size) for batch, size in cases if size <= 16 and batch <= 32]
    else:
        cases = [(batch, size) for size in SIZES for batch in BATCHES]
        if arguments.quick:
            cases = [(batch, size) for batch, size in cases if size <= 16 and batch <= 4]
    results, rows = [], []
    for batch, size in cases:
        entry = run(prior, batch, size, repeats=1 if size * size * batch >= 8192 else 3)
        results.append(entry)
        rows.append([f"{size}x{size}", batch, entry["ours_s"], entry["naive_s"], entry["speedup"],
                     entry["positions_per_s"], entry["naive_method"].split(":")[0],
                     entry.get("same_codes", "-")])
        print(f"  {size}x{size} batch {batch}: ours {entry['ours_s']:.3f} s, naive {entry['naive_s']:.2f} s "
              f"({entry['naive_method'].split(':')[0]}), {entry['speedup']:.0f}x", flush=True)
    harness.print_table(
        "pixelcnn_sample: 12 layers, C=128, K=512, kernel 3, float32 (seconds; speedup = naive / ours)",
        ["map", "batch", "ours s", "naive s", "speedup", "codes/s", "naive", "same codes"],
        rows,
    )
    goals = {} if harness.on_cuda() else {"goals": GOALS}
    harness.write_results("pixelcnn_sample", {
        "quick": arguments.quick, **harness.run_conditions(load_before), "config": CONFIG.__dict__, **goals,
        "results": results,
    })


if __name__ == "__main__":
    main()
