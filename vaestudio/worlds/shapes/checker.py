"""Reads shape, colour, size, position and background off a 64 x 64 shapes-world image.

Analytic, no learned weights (see ``docs/specs/shapes-world.md``):

- background: the majority of the border pixels, snapped to the nearest background colour;
- objects: connected components (8-neighbourhood) of pixels far from the background colour,
  dropping specks smaller than ``MINIMUM_AREA``;
- colour: the nearest object colour to the median of a component's core (eroded) pixels;
- size: the longer side of the component's bounding box, ``small`` below ``SIZE_THRESHOLD``;
- position: the 3 x 3 cell holding the bounding-box centre;
- shape: from the fill ratio of the bounding box and the width profile of the mask
  (a square fills its box, a star's arms span the box at 40% height while a triangle does
  not, a heart is narrow at the bottom while a circle is symmetric).

``check_prompt`` tells whether a reading satisfies every attribute a prompt names.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from PIL import Image
from scipy import ndimage

from vaestudio.worlds.shapes.world import (
    BACKGROUND_COLORS,
    CANVAS_SIZE,
    CELL_CENTERS,
    COLUMNS,
    OBJECT_COLORS,
    POSITION_PHRASES,
    ROWS,
)

FOREGROUND_DISTANCE = 55.0  # RGB distance from the background above which a pixel belongs to an object
MINIMUM_AREA = 20  # pixels; smaller components are specks of noise
SIZE_THRESHOLD = 20  # pixels; between small (14 +- 2) and large (26 +- 2)
CELL_EDGES = tuple((first + second) / 2 for first, second in itertools.pairwise(CELL_CENTERS))  # (24, 40)
ATTRIBUTES = ("shape", "color", "size", "position")


@dataclasses.dataclass
class DetectedObject:
    shape: str
    color: str
    size: str
    position: str  # a position phrase of the grammar, e.g. "in the top left"
    row: str
    column: str
    box: tuple[int, int, int, int]  # top, left, bottom, right (inclusive)
    area: int

    def attributes(self) -> dict[str, str]:
        return {"shape": self.shape, "color": self.color, "size": self.size, "position": self.position}


@dataclasses.dataclass
class Reading:
    background: str
    objects: list[DetectedObject]


def _as_array(image) -> np.ndarray:
    """PIL image, (H, W, 3) uint8 array or (3, H, W) float tensor in [0, 1] -> (64, 64, 3) float array."""
    if isinstance(image, Image.Image):
        picture = image.convert("RGB")
    else:
        array = np.asarray(image.detach().cpu() if hasattr(image, "detach") else image)
        if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
            array = array.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
        if array.dtype != np.uint8:
            array = np.clip(np.round(array.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
        if array.ndim == 2 or array.shape[-1] == 1:
            array = np.repeat(array.reshape(array.shape[0], array.shape[1], 1), 3, axis=2)
        picture = Image.fromarray(array)
    if picture.size != (CANVAS_SIZE, CANVAS_SIZE):
        picture = picture.resize((CANVAS_SIZE, CANVAS_SIZE), Image.BILINEAR)
    return np.asarray(picture, dtype=np.float64)  # (64, 64, 3)


def _nearest(color: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> str:
    names = list(palette)
    distances = [np.sum((color - np.asarray(palette[name], dtype=np.float64)) ** 2) for name in names]
    return names[int(np.argmin(distances))]


def _background(pixels: np.ndarray) -> str:
    border = np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])  # (252, 3)
    names = [_nearest(color, BACKGROUND_COLORS) for color in border]
    return max(set(names), key=names.count)


def _width_at(mask: np.ndarray, start: float, stop: float | None = None) -> float:
    """Widest extent of the mask's rows between ``start`` and ``stop`` of its height (one row when no
    ``stop``), as a fraction of the box width."""
    height, width = mask.shape
    first = min(height - 1, int(start * height))
    last = first if stop is None else max(first, min(height - 1, int(stop * height)))
    columns = np.flatnonzero(mask[first : last + 1].any(axis=0))
    return 0.0 if columns.size == 0 else (columns[-1] - columns[0] + 1) / width


def _shape(mask: np.ndarray) -> str:
    """Classifies the shape from its mask cropped to the bounding box (height, width)."""
    fill = float(mask.mean())
    if fill > 0.88:
        return "square"
    upper_width = _width_at(mask, 0.2)
    middle_width = _width_at(mask, 0.3, 0.5)
    lower_width = _width_at(mask, 0.85)
    if fill < 0.58:
        return "star" if middle_width > 0.8 else "triangle"
    if upper_width < 0.45:
        return "triangle"
    return "heart" if lower_width < 0.6 * upper_width else "circle"


def _cell(value: float) -> int:
    return int(value >= CELL_EDGES[0]) + int(value >= CELL_EDGES[1])


def read_image(image) -> Reading:
    """The background and the objects of a shapes-world image (objects left to right, top to bottom)."""
    pixels = _as_array(image)  # (64, 64, 3)
    background = _background(pixels)
    distance = np.sqrt(((pixels - np.asarray(BACKGROUND_COLORS[background], dtype=np.float64)) ** 2).sum(-1))
    foreground = distance > FOREGROUND_DISTANCE  # (64, 64) bool
    labels, _ = ndimage.label(foreground, structure=np.ones((3, 3), dtype=bool))
    objects = []
    for index, region in enumerate(ndimage.find_objects(labels), start=1):
        component = labels == index  # (64, 64)
        area = int(component.sum())
        if region is None or area < MINIMUM_AREA:
            continue
        top, bottom = region[0].start, region[0].stop - 1
        left, right = region[1].start, region[1].stop - 1
        core = ndimage.binary_erosion(component)
        core_pixels = pixels[core] if core.sum() >= 4 else pixels[component]  # (P, 3)
        color = _nearest(np.median(core_pixels, axis=0), OBJECT_COLORS)
        side = max(bottom - top + 1, right - left + 1)
        row = ROWS[_cell((top + bottom + 1) / 2)]
        column = COLUMNS[_cell((left + right + 1) / 2)]
        objects.append(
            DetectedObject(
                shape=_shape(component[region]),
                color=color,
                size="small" if side < SIZE_THRESHOLD else "large",
                position=POSITION_PHRASES[(row, column)],
                row=row,
                column=column,
                box=(top, left, bottom, right),
                area=area,
            )
        )
    objects.sort(key=lambda item: (ROWS.index(item.row), COLUMNS.index(item.column)))
    return Reading(background, objects)


def _object_matches(detected: DetectedObject, wanted: dict[str, str | None]) -> bool:
    found = detected.attributes()
    return all(value is None or found[name] == value for name, value in wanted.items() if name in ATTRIBUTES)


def _matches_some_order(reading: Reading, objects: list[dict], attributes: tuple[str, ...]) -> bool:
    if len(reading.objects) != len(objects):
        return False
    return any(
        all(
            _object_matches(detected, {name: value for name, value in wanted.items() if name in attributes})
            for detected, wanted in zip(order, objects)
        )
        for order in itertools.permutations(reading.objects)
    )


def check_description(reading: Reading, objects: list[dict], background: str | None) -> bool:
    """True when the reading has exactly the described objects (in some order) and background.

    ``objects``: one dict per described object with keys among shape, color, size, position
    (value None or absent: not constrained).
    """
    if background is not None and reading.background != background:
        return False
    return _matches_some_order(reading, objects, ATTRIBUTES)


def attribute_agreement(reading: Reading, objects: list[dict], background: str | None) -> dict[str, bool]:
    """Per attribute, whether the reading agrees with the description on it alone: "count" (number of
    objects), "background", and each of shape, color, size, position (for every object, in some order);
    "all" is :func:`check_description`."""
    agreement = {
        "count": len(reading.objects) == len(objects),
        "background": background is None or reading.background == background,
    }
    for name in ATTRIBUTES:
        agreement[name] = _matches_some_order(reading, objects, (name,))
    agreement["all"] = agreement["background"] and _matches_some_order(reading, objects, ATTRIBUTES)
    return agreement
