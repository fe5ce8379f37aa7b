"""Rendering a complete Scene to a 64 x 64 RGB uint8 array.

Shapes are filled at 4x (256 x 256) with Pillow and box-averaged down by ``Image.reduce(4)``: an edge
pixel gets the exact fraction of its 16 sub-pixels the shape covers, interior pixels keep the exact
colour of the table. Geometry (d = diameter, the side of the bounding box, all centred on x, y):
- circle: diameter d; square: side d;
- triangle: equilateral, apex up, side d (height d * sqrt(3) / 2), its bounding box centred on x, y;
- star: five points, one up, outer radius d / 2 around x, y, inner radius 0.45 of the outer;
- heart: the classic curve x = 16 sin^3 t, y = 13 cos t - 5 cos 2t - 2 cos 3t - cos 4t, lobes up,
  scaled to width d, its bounding box centred on x, y.
Every shape lies inside the d x d square around x, y (the box that the no-overlap rule uses).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from PIL import Image, ImageDraw

from vaestudio.worlds.shapes.world import BACKGROUND_COLORS, CANVAS_SIZE, OBJECT_COLORS, Scene, ShapeObject

SUPERSAMPLE = 4
STAR_INNER_RATIO = 0.45
HEART_POINTS = 96


def _centred(points: np.ndarray) -> np.ndarray:
    """Shifts a (P, 2) outline so that its bounding box is centred on the origin."""
    return points - (points.min(axis=0) + points.max(axis=0)) / 2


@cache
def unit_outline(shape: str) -> np.ndarray | None:
    """(P, 2) polygon of a shape of diameter 1 around the origin, y down; None for the circle."""
    if shape == "circle":
        return None
    if shape == "square":
        return np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    if shape == "triangle":
        height = math.sqrt(3) / 2
        return _centred(np.array([[0.0, 0.0], [0.5, height], [-0.5, height]]))
    if shape == "star":
        angles = -math.pi / 2 + np.arange(10) * math.pi / 5  # (10,) outer and inner vertices alternate
        radii = np.where(np.arange(10) % 2 == 0, 0.5, 0.5 * STAR_INNER_RATIO)  # (10,)
        return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)  # (10, 2)
    if shape == "heart":
        t = np.linspace(0, 2 * math.pi, HEART_POINTS, endpoint=False)  # (P,)
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))  # image y points down
        outline = _centred(np.stack([x, y], axis=1))  # (P, 2)
        return outline / (x.max() - x.min())
    raise ValueError(f"unknown shape {shape!r}")


def _draw_object(draw: ImageDraw.ImageDraw, item: ShapeObject) -> None:
    """Pillow fills the sub-pixels whose centres lie on or inside a shape and counts coordinates at
    sub-pixel centres; a d-pixel box therefore spans the centres 4 * (x - d / 2) ... 4 * (x + d / 2) - 1."""
    color = OBJECT_COLORS[item.color]
    centre = (SUPERSAMPLE * item.x - 0.5, SUPERSAMPLE * item.y - 0.5)
    span = SUPERSAMPLE * item.diameter - 1  # sub-pixel centres from the first covered to the last
    outline = unit_outline(item.shape)
    if outline is None:
        draw.ellipse(
            [centre[0] - span / 2, centre[1] - span / 2, centre[0] + span / 2, centre[1] + span / 2],
            fill=color,
        )
        return
    points = outline * span + centre  # (P, 2)
    draw.polygon([tuple(point) for point in points.tolist()], fill=color)


def render(scene: Scene) -> np.ndarray:
    """A complete Scene -> uint8 (64, 64, 3)."""
    side = CANVAS_SIZE * SUPERSAMPLE
    canvas = Image.new("RGB", (side, side), BACKGROUND_COLORS[scene.background])
    draw = ImageDraw.Draw(canvas)
    for item in scene.objects:
        _draw_object(draw, item)
    return np.asarray(canvas.reduce(SUPERSAMPLE))  # (64, 64, 3)


def expected_extent(item: ShapeObject) -> tuple[float, float]:
    """(width, height) in pixels of the drawn shape, for tests and measurements."""
    outline = unit_outline(item.shape)
    if outline is None:
        return item.diameter, item.diameter
    width, height = outline.max(axis=0) - outline.min(axis=0)
    return float(width * item.diameter), float(height * item.diameter)
