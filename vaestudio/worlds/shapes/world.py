"""The vocabulary and factor types of the shapes world (contract: docs/specs/shapes-world.md).

A ``Scene`` is one image's ground truth: a background and one or two ``ShapeObject``s. Every field may
be None, which makes the same types describe a *partial* scene: what a prompt says, with the rest left
to ``sample_factors``. Positions are in pixels of the 64 x 64 canvas, continuous coordinates (the
canvas spans [0, 64]); ``x, y`` is the centre of the object's bounding box (a star's is the centre of
its outer circle), ``diameter`` the side of the bounding box as the spec defines it.
"""

from __future__ import annotations

import dataclasses

CANVAS_SIZE = 64

BACKGROUND_COLORS: dict[str, tuple[int, int, int]] = {
    "white": (240, 240, 240),
    "black": (20, 20, 20),
    "gray": (128, 128, 128),
}

OBJECT_COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 38, 38),
    "orange": (249, 115, 22),
    "yellow": (234, 179, 8),
    "green": (22, 163, 74),
    "cyan": (6, 182, 212),
    "blue": (37, 99, 235),
    "purple": (147, 51, 234),
    "pink": (236, 72, 153),
}

SHAPES = ("circle", "square", "triangle", "star", "heart")

SIZE_DIAMETERS: dict[str, int] = {"small": 14, "large": 26}
SIZE_JITTER = 2.0
POSITION_JITTER = 2.0

ROWS = ("top", "middle", "bottom")
COLUMNS = ("left", "center", "right")
CELL_CENTERS = (16, 32, 48)  # pixel coordinate of the cell centre, by row (y) or column (x) index

POSITION_PHRASES: dict[tuple[str, str], str] = {
    ("top", "left"): "in the top left",
    ("top", "center"): "at the top",
    ("top", "right"): "in the top right",
    ("middle", "left"): "on the left",
    ("middle", "center"): "in the center",
    ("middle", "right"): "on the right",
    ("bottom", "left"): "in the bottom left",
    ("bottom", "center"): "at the bottom",
    ("bottom", "right"): "in the bottom right",
}

HELD_OUT_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {("green", "triangle"), ("purple", "star"), ("orange", "circle"), ("cyan", "square"), ("yellow", "heart")}
)

MAX_OBJECTS = 2
MIN_GAP = 2.0  # pixels between the bounding boxes of two objects
SPLITS = ("train", "test")


@dataclasses.dataclass(frozen=True)
class ShapeObject:
    shape: str | None = None
    color: str | None = None
    size: str | None = None  # "small" | "large"
    row: str | None = None  # "top" | "middle" | "bottom"
    column: str | None = None  # "left" | "center" | "right"
    x: float | None = None  # bounding-box centre, pixels
    y: float | None = None
    diameter: float | None = None  # side of the bounding box, pixels

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def cell(self) -> tuple[str, str] | None:
        return (self.row, self.column) if self.row is not None and self.column is not None else None

    @property
    def is_held_out(self) -> bool:
        return (self.color, self.shape) in HELD_OUT_PAIRS


@dataclasses.dataclass(frozen=True)
class Scene:
    objects: tuple[ShapeObject, ...] = ()
    background: str | None = None

    def to_dict(self) -> dict:
        return {"objects": [item.to_dict() for item in self.objects], "background": self.background}

    @classmethod
    def from_dict(cls, values: dict) -> Scene:
        objects = tuple(ShapeObject(**item) for item in values.get("objects", ()))
        return cls(objects=objects, background=values.get("background"))


def validate_scene(scene: Scene) -> None:
    """Raises ValueError naming the first attribute outside the vocabulary (None is always allowed)."""
    if len(scene.objects) > MAX_OBJECTS:
        raise ValueError(f"the shapes world has one or two objects per image, not {len(scene.objects)}")
    if scene.background is not None and scene.background not in BACKGROUND_COLORS:
        raise ValueError(f"unknown background {scene.background!r}; known: {sorted(BACKGROUND_COLORS)}")
    vocabularies = {
        "shape": SHAPES,
        "color": tuple(OBJECT_COLORS),
        "size": tuple(SIZE_DIAMETERS),
        "row": ROWS,
        "column": COLUMNS,
    }
    for item in scene.objects:
        for field, allowed in vocabularies.items():
            value = getattr(item, field)
            if value is not None and value not in allowed:
                raise ValueError(f"unknown {field} {value!r}; known: {list(allowed)}")
        if (item.row is None) != (item.column is None):
            raise ValueError("a position is a (row, column) pair: give both or neither")
    cells = [item.cell for item in scene.objects if item.cell is not None]
    if len(cells) != len(set(cells)):
        raise ValueError("two objects cannot share a grid cell; put them in different positions")


def bounding_box(item: ShapeObject) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the diameter x diameter square centred on the object."""
    half = item.diameter / 2
    return (item.x - half, item.y - half, item.x + half, item.y + half)


def box_gap(first: ShapeObject, second: ShapeObject) -> float:
    """Distance between two objects' bounding boxes along the axis that separates them most (< 0: overlap)."""
    reach = (first.diameter + second.diameter) / 2
    return max(abs(first.x - second.x) - reach, abs(first.y - second.y) - reach)
