"""Plots for the tabs: tables for Gradio's native plots, and a clickable scatter drawn as an image.

The latent scatter is an image so that a click (a select event on gr.Image) gives a pixel, which
:class:`PlotFrame` turns back into latent coordinates to decode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from studio.engine_api import CodebookUsage, LatentScatter

PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]
INK = (60, 60, 60)


def loss_table(losses: Sequence[tuple[int, float]]) -> pd.DataFrame:
    return pd.DataFrame({"step": [s for s, _ in losses], "loss": [v for _, v in losses]})


def codebook_table(usage: CodebookUsage) -> pd.DataFrame:
    return pd.DataFrame({"code": list(range(len(usage.counts))), "count": list(usage.counts)})


@dataclass(frozen=True)
class PlotFrame:
    """Where the data sits in the picture: pixel <-> data coordinates."""

    left: int
    top: int
    width: int
    height: int
    x_min: float
    x_max: float
    y_min: float
    y_max: float

    def to_pixel(self, x: float, y: float) -> tuple[float, float]:
        return (
            self.left + (x - self.x_min) / (self.x_max - self.x_min) * self.width,
            self.top + (self.y_max - y) / (self.y_max - self.y_min) * self.height,
        )

    def to_data(self, pixel_x: float, pixel_y: float) -> tuple[float, float]:
        return (
            self.x_min + (pixel_x - self.left) / self.width * (self.x_max - self.x_min),
            self.y_max - (pixel_y - self.top) / self.height * (self.y_max - self.y_min),
        )


def _bounds(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or 1.0
    return low - pad, high + pad


def draw_scatter(scatter: LatentScatter, size: int = 560, legend_width: int = 120) -> tuple[Image.Image, PlotFrame]:
    """The points coloured by label, with axes titles and a legend; and the frame to map clicks back."""
    font = ImageFont.load_default(size=13)
    margin = 36
    frame = PlotFrame(margin, 12, size - margin - 12, size - margin - 12, *_bounds(scatter.x), *_bounds(scatter.y))
    image = Image.new("RGB", (size + legend_width, size), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((frame.left, frame.top, frame.left + frame.width, frame.top + frame.height), outline=INK)
    if frame.x_min < 0 < frame.x_max and frame.y_min < 0 < frame.y_max:
        zero_x, zero_y = frame.to_pixel(0.0, 0.0)
        draw.line((zero_x, frame.top, zero_x, frame.top + frame.height), fill=(225, 225, 225))
        draw.line((frame.left, zero_y, frame.left + frame.width, zero_y), fill=(225, 225, 225))
    names = sorted(set(scatter.labels))
    colour_of = {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(names)}
    for x, y, label in zip(scatter.x, scatter.y, scatter.labels):
        px, py = frame.to_pixel(x, y)
        draw.ellipse((px - 3, py - 3, px + 3, py + 3), fill=colour_of[label])
    draw.text((frame.left + frame.width / 2, size - 8), scatter.x_title, fill=INK, font=font, anchor="ms")
    vertical = Image.new("RGBA", (frame.height, 18), (255, 255, 255, 0))
    ImageDraw.Draw(vertical).text((frame.height / 2, 9), scatter.y_title, fill=INK, font=font, anchor="mm")
    rotated = vertical.rotate(90, expand=True)
    image.paste(rotated, (4, frame.top), rotated)
    for index, name in enumerate(names[:30]):
        top = frame.top + 6 + index * 18
        draw.ellipse((size + 4, top + 3, size + 14, top + 13), fill=colour_of[name])
        draw.text((size + 20, top), name[:14], fill=INK, font=font)
    return image, frame
