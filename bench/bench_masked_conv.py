"""masked_conv2d forward + backward against F.conv2d with a masked weight.

    python -m bench.bench_masked_conv [--quick] [--threads N] [--device {cpu,cuda}]

Shapes are the gated PixelCNN's (C -> 2C with the vertical and horizontal masks) and the classic
PixelCNN's first layer (mask A, 7x7, from image channels), on either device.
Writes bench/results/masked_conv-<device>.json.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from bench import harness
from vaestudio import ops
from vaestudio.ops import reference

# batch, in channels, out channels, size, kernel, mask type
SHAPES = [
    (32, 128, 256, 16, (3, 3), "vertical_A"),
    (32, 128, 256, 16, (3, 3), "vertical_B"),
    (32, 128, 256, 16, (1, 3), "A"),
    (32, 128, 256, 16, (1, 3), "B"),
    (32, 128, 256, 16, (3, 3), "B"),
    (32, 128, 256, 16, (5, 5), "vertical_B"),
    (32, 128, 256, 16, (1, 5), "B"),
    (32, 3, 128, 32, (7, 7), "A"),
    (32, 64, 64, 32, (3, 3), "B"),
]


def _forward_backward(function, x, weight, bias, mask_type, grad_output):
    def call():
        output = function(x, weight, bias, mask_type)
        return torch.autograd.grad(output, (x, weight, bias), grad_output)

    return call


def _no_grad(function):
    def call():
        with torch.no_grad():
            return function()

    return call


def _time_interleaved(calls: dict[str, Any], repeats: int, warmup: int) -> dict[str, float]:
    """Best time (s, :func:`harness.seconds`) of each call, taking the calls in turn round after round.

    The machine is shared: timing all of ours and then all of the baseline lets a change in the
    other jobs' load between the two blocks decide the ratio. Alternating, both see the same load.
    """
    for _ in range(warmup):
        for function in calls.values():
            function()
    best = {name: float("inf") for name in calls}
    for _ in range(repeats):
        for name, function in calls.items():
            best[name] = min(best[name], harness.seconds(function))
    return best


def run(shape, repeats: int) -> dict[str, Any]:
    batch, in_channels, out_channels, size, kernel, mask_type = shape
    generator = torch.Generator().manual_seed(0)  # drawn on CPU: the same inputs on every device
    device = harness.device()
    x = torch.randn(batch, in_channels, size, size, generator=generator).to(device).requires_grad_()  # (B, Cin, H, W)
    weight = torch.randn(out_channels, in_channels, *kernel, generator=generator).to(device).requires_grad_()
    bias = torch.randn(out_channels, generator=generator).to(device).requires_grad_()  # (Cout,)
    grad_output = torch.randn(batch, out_channels, size, size, generator=generator).to(device)  # (B, Cout, H, W)
    functions = [("ours", ops.masked_conv2d), ("F.conv2d masked", reference.masked_conv2d_reference)]
    calls = {}  # ours and the baseline side by side, so that each pair is timed back to back
    for name, function in functions:
        calls[f"{name} forward"] = _no_grad(lambda function=function: function(x, weight, bias, mask_type))
    for name, function in functions:
        calls[f"{name} forward+backward"] = _forward_backward(function, x, weight, bias, mask_type, grad_output)
    timings = _time_interleaved(calls, repeats, warmup=2)
    mask = reference.masked_conv_mask(*kernel, mask_type)
    return {
        "batch": batch, "in_channels": in_channels, "out_channels": out_channels, "size": size,
        "kernel": list(kernel), "mask_type": mask_type, "kept_taps": int(mask.sum()), "taps": mask.numel(),
        **{f"{key} s": value for key, value in timings.items()},
        "speedup_forward": timings["F.conv2d masked forward"] / timings["ours forward"],
        "speedup_forward_backward": timings["F.conv2d masked forward+backward"] / timings["ours forward+backward"],
    }


def main() -> None:
    arguments = harness.parse_arguments(__doc__.splitlines()[0], "three shapes, fewer repeats: a smoke run")
    load_before = os.getloadavg()  # the machine is shared: say how busy it was
    shapes = SHAPES[1:4] if arguments.quick else SHAPES
    repeats = 3 if arguments.quick else 10
    results, rows = [], []
    for shape in shapes:
        entry = run(shape, repeats)
        results.append(entry)
        rows.append([
            f"{entry['batch']}x{entry['in_channels']}->{entry['out_channels']} {entry['size']}x{entry['size']}",
            f"{entry['kernel'][0]}x{entry['kernel'][1]} {entry['mask_type']}", f"{entry['kept_taps']}/{entry['taps']}",
            entry["ours forward+backward s"] * 1e3, entry["F.conv2d masked forward+backward s"] * 1e3,
            entry["speedup_forward"], entry["speedup_forward_backward"],
        ])
    harness.print_table(
        "masked_conv2d, best of N (ms); speedup = F.conv2d with masked weight / ours",
        ["shape", "kernel", "kept taps", "ours fwd+bwd ms", "F.conv2d fwd+bwd ms", "fwd speedup", "fwd+bwd speedup"],
        rows,
    )
    harness.write_results("masked_conv", {
        "quick": arguments.quick, **harness.run_conditions(load_before), "results": results,
    })


if __name__ == "__main__":
    main()
