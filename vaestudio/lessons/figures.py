"""The lessons' pictures, drawn with PIL alone: line and bar charts, image tiles, titled panels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image, ImageDraw, ImageFont

from vaestudio.training.plots import image_grid

WHITE = (255, 255, 255)
INK = (40, 40, 40)
GRID = (228, 228, 228)
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127)]


def font(size: int = 14) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class Series:
    label: str
    x: Sequence[float]
    y: Sequence[float]
    colour: tuple[int, int, int] = COLOURS[0]
    dashed: bool = False
    markers: bool = True


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low
    raw = span / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=magnitude)
    first = math.ceil(low / step) * step
    return [first + index * step for index in range(int((high - first) / step + 1e-9) + 1)]


def _label(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.2e}"


def line_chart(series: Sequence[Series], title: str, x_label: str, y_label: str, log_x: bool = False,
               width: int = 560, height: int = 340, y_range: tuple[float, float] | None = None,
               legend: str = "lower") -> Image.Image:
    """Lines (with markers) on shared axes, a legend in the ``legend`` (lower/upper) right; ``log_x`` spaces x by log10."""
    picture = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(picture)
    left, right, top, bottom = 66, width - 14, 30, height - 44
    draw.text((left, 6), title, fill=INK, font=font(15))
    transform = (lambda value: math.log10(value)) if log_x else (lambda value: value)
    xs = [transform(x) for item in series for x in item.x]
    ys = [y for item in series for y in item.y if math.isfinite(y)]
    x_low, x_high = min(xs), max(xs)
    y_low, y_high = y_range or (min(ys), max(ys))
    if x_high - x_low < 1e-12:
        x_low, x_high = x_low - 1, x_high + 1
    pad = (y_high - y_low) * 0.06 or 1.0
    y_low, y_high = y_low - pad, y_high + pad

    def point(x: float, y: float) -> tuple[float, float]:
        return (left + (transform(x) - x_low) / (x_high - x_low) * (right - left),
                bottom - (min(max(y, y_low), y_high) - y_low) / (y_high - y_low) * (bottom - top))

    small = font(12)
    for tick in _ticks(y_low, y_high):
        _, y = point(10 ** x_low if log_x else x_low, tick)
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.text((left - 6, y), _label(tick), fill=INK, font=small, anchor="rm")
    x_ticks = ([10.0**power for power in range(math.ceil(x_low), math.floor(x_high) + 1)] if log_x
               else _ticks(x_low, x_high))
    for tick in x_ticks:
        x, _ = point(tick, y_low)
        draw.line([(x, top), (x, bottom)], fill=GRID)
        draw.text((x, bottom + 4), _label(tick), fill=INK, font=small, anchor="mt")
    draw.rectangle([left, top, right, bottom], outline=INK)
    draw.text(((left + right) / 2, height - 6), x_label, fill=INK, font=small, anchor="mb")
    label_picture = Image.new("RGB", (bottom - top, 16), WHITE)
    ImageDraw.Draw(label_picture).text(((bottom - top) / 2, 8), y_label, fill=INK, font=small, anchor="mm")
    picture.paste(label_picture.rotate(90, expand=True), (2, top))
    for item in series:
        points = [point(x, y) for x, y in zip(item.x, item.y) if math.isfinite(y)]
        if item.dashed:
            for start, end in zip(points[:-1], points[1:]):
                _dashed(draw, start, end, item.colour)
        elif len(points) > 1:
            draw.line(points, fill=item.colour, width=2)
        if item.markers:
            for (x, y), value in zip(points, [y for y in item.y if math.isfinite(y)]):
                if value < y_low:  # below the axis: an arrow pointing down, not a point that lies
                    draw.polygon([(x - 5, y - 9), (x + 5, y - 9), (x, y)], outline=item.colour, fill=WHITE)
                elif value > y_high:
                    draw.polygon([(x - 5, y + 9), (x + 5, y + 9), (x, y)], outline=item.colour, fill=WHITE)
                else:
                    draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=item.colour)
    legend_top = top + 6 if legend == "upper" else bottom - 8 - 18 * len(series)
    for index, item in enumerate(series):
        y = legend_top + 18 * index
        draw.line([(right - 190, y + 8), (right - 168, y + 8)], fill=item.colour, width=3)
        draw.text((right - 162, y + 1), item.label, fill=INK, font=small)
    return picture


def _dashed(draw: ImageDraw.ImageDraw, start, end, colour, dash: float = 6.0) -> None:
    length = math.dist(start, end)
    pieces = max(1, int(length / dash))
    for index in range(0, pieces, 2):
        a, b = index / pieces, min(1.0, (index + 1) / pieces)
        draw.line([(start[0] + (end[0] - start[0]) * a, start[1] + (end[1] - start[1]) * a),
                   (start[0] + (end[0] - start[0]) * b, start[1] + (end[1] - start[1]) * b)], fill=colour, width=2)


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, y_label: str, width: int = 420,
              height: int = 300, colours: Sequence[tuple[int, int, int]] | None = None,
              value_format: str = "{:.3g}") -> Image.Image:
    """Vertical bars from zero, each labelled below and its value printed above."""
    picture = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(picture)
    left, right, top, bottom = 56, width - 10, 30, height - 40
    draw.text((left, 6), title, fill=INK, font=font(15))
    small = font(12)
    high = max(max(values), 0.0) or 1.0
    low = min(min(values), 0.0)
    span = (high - low) * 1.12 or 1.0

    def y_of(value: float) -> float:
        return bottom - (value - low) / span * (bottom - top)

    for tick in _ticks(low, low + span):
        y = y_of(tick)
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.text((left - 6, y), _label(tick), fill=INK, font=small, anchor="rm")
    slot = (right - left) / len(values)
    for index, (label, value) in enumerate(zip(labels, values)):
        colour = (colours or COLOURS)[index % len(colours or COLOURS)]
        x0, x1 = left + slot * index + slot * 0.15, left + slot * (index + 1) - slot * 0.15
        draw.rectangle([x0, min(y_of(0), y_of(value)), x1, max(y_of(0), y_of(value))], fill=colour)
        draw.text(((x0 + x1) / 2, y_of(max(value, 0)) - 2), value_format.format(value), fill=INK, font=small,
                  anchor="mb")
        draw.text(((x0 + x1) / 2, bottom + 4), label, fill=INK, font=small, anchor="mt")
    draw.rectangle([left, top, right, bottom], outline=INK)
    draw.text(((left + right) / 2, height - 4), y_label, fill=INK, font=small, anchor="mb")
    return picture


def tiles(images: torch.Tensor, columns: int, pixels: int = 48, padding: int = 2) -> Image.Image:
    """(B, C, H, W) in [0, 1] -> a grid whose tiles are about ``pixels`` wide (nearest-neighbour enlarged)."""
    scale = max(1, round(pixels / images.shape[-1]))
    return image_grid(images, columns=columns, padding=padding, scale=scale)


def titled(picture: Image.Image, title: str, size: int = 14) -> Image.Image:
    """The picture with a line of text above it (wrapped to its width)."""
    lines = _wrap(title, picture.width, size)
    band = 6 + (size + 4) * len(lines)
    canvas = Image.new("RGB", (picture.width, picture.height + band), WHITE)
    draw = ImageDraw.Draw(canvas)
    for index, line in enumerate(lines):
        draw.text((picture.width / 2, 4 + (size + 4) * index), line, fill=INK, font=font(size), anchor="mt")
    canvas.paste(picture.convert("RGB"), (0, band))
    return canvas


def _wrap(text: str, width: int, size: int) -> list[str]:
    measure = font(size)
    lines, current = [], ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and measure.getlength(trial) > width - 8:
            lines.append(current)
            current = word
        else:
            current = trial
    return [*lines, current] if current else lines or [""]


def beside(*pictures: Image.Image, gap: int = 16) -> Image.Image:
    """Pictures side by side, tops aligned."""
    width = sum(picture.width for picture in pictures) + gap * (len(pictures) - 1)
    canvas = Image.new("RGB", (width, max(picture.height for picture in pictures)), WHITE)
    x = 0
    for picture in pictures:
        canvas.paste(picture.convert("RGB"), (x, 0))
        x += picture.width + gap
    return canvas


def stacked(*pictures: Image.Image, gap: int = 12) -> Image.Image:
    """Pictures one under the other, centred."""
    width = max(picture.width for picture in pictures)
    canvas = Image.new("RGB", (width, sum(picture.height for picture in pictures) + gap * (len(pictures) - 1)), WHITE)
    y = 0
    for picture in pictures:
        canvas.paste(picture.convert("RGB"), ((width - picture.width) // 2, y))
        y += picture.height + gap
    return canvas


def text_panel(rows: Sequence[str], width: int = 230, size: int = 13) -> Image.Image:
    """Lines of text on white: a small table of numbers beside a chart."""
    picture = Image.new("RGB", (width, (size + 5) * len(rows) + 6), WHITE)
    draw = ImageDraw.Draw(picture)
    for line, row in enumerate(rows):
        draw.text((6, 3 + (size + 5) * line), row, fill=INK, font=font(size))
    return picture
