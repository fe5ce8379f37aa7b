"""Pictures of a run, drawn with PIL alone: image grids and the loss curve."""

from __future__ import annotations

import math

import torch
from PIL import Image, ImageDraw

BACKGROUND = (255, 255, 255)
AXIS = (60, 60, 60)
GRID = (225, 225, 225)
RAW = (170, 190, 230)
SMOOTH = (20, 70, 200)


def image_grid(images: torch.Tensor, columns: int | None = None, padding: int = 2, scale: int = 1) -> Image.Image:
    """(B, C, H, W) in [0, 1] with C = 1 or 3 -> one RGB image, rows of ``columns`` tiles."""
    images = images.detach().float().cpu().clamp(0, 1)  # (B, C, H, W)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)  # (B, 3, H, W)
    count, _, height, width = images.shape
    columns = columns or max(1, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / columns)
    canvas = torch.ones(3, rows * (height + padding) + padding, columns * (width + padding) + padding)
    for index in range(count):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        canvas[:, top : top + height, left : left + width] = images[index]
    pixels = (canvas.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()  # (H', W', 3)
    picture = Image.fromarray(pixels, "RGB")
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    return picture


def side_by_side(originals: torch.Tensor, reconstructions: torch.Tensor, columns: int = 8,
                 scale: int = 1) -> Image.Image:
    """Rows alternate originals and their reconstructions: (B, C, H, W) each."""
    count = min(len(originals), len(reconstructions))
    rows = []
    for start in range(0, count, columns):
        rows += [originals[start : start + columns], reconstructions[start : start + columns]]
    return image_grid(torch.cat(rows), columns=min(columns, count), scale=scale)


def smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average."""
    result, total = [], 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        result.append(total / min(index + 1, window))
    return result


def loss_curve(steps: list[int], losses: list[float], width: int = 640, height: int = 360,
               title: str = "training loss") -> Image.Image:
    """Raw (light) and smoothed (dark) loss against step, axes labelled with their ranges."""
    picture = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(picture)
    left, right, top, bottom = 64, width - 16, 24, height - 32
    draw.text((left, 6), title, fill=AXIS)
    finite = [(s, v) for s, v in zip(steps, losses) if math.isfinite(v)]
    if len(finite) < 2:
        draw.text((left, height // 2), "not enough points yet", fill=AXIS)
        return picture
    steps, losses = [s for s, _ in finite], [v for _, v in finite]
    smoothed = smooth(losses, max(1, len(losses) // 25))
    ordered = sorted(losses)
    low = ordered[0]
    high = ordered[min(len(ordered) - 1, int(0.98 * len(ordered)))]  # an early spike must not flatten the rest
    high = max(high, max(smoothed[len(smoothed) // 10 :]))
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    first, last = steps[0], max(steps[-1], steps[0] + 1)

    def point(step: float, value: float) -> tuple[float, float]:
        value = min(max(value, low), high)
        x = left + (step - first) / (last - first) * (right - left)
        y = bottom - (value - low) / (high - low) * (bottom - top)
        return x, y

    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = bottom - fraction * (bottom - top)
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.text((4, y - 6), f"{low + fraction * (high - low):.4g}", fill=AXIS)
    draw.line([(left, top), (left, bottom), (right, bottom)], fill=AXIS)
    draw.text((left, bottom + 8), f"step {first}", fill=AXIS)
    draw.text((right - 80, bottom + 8), f"step {steps[-1]}", fill=AXIS)
    draw.line([point(s, v) for s, v in zip(steps, losses)], fill=RAW, width=1)
    draw.line([point(s, v) for s, v in zip(steps, smoothed)], fill=SMOOTH, width=2)
    return picture
