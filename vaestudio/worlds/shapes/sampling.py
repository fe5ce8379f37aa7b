"""Sampling complete scenes of the shapes world, optionally under the constraints of a partial scene.

Distribution of one scene (what the ``shapes`` source draws for image i of a split):
- number of objects: 1 or 2 with equal probability (or as many as the constraints name);
- background: uniform over the three;
- each object: a (colour, shape) pair uniform over the allowed pairs - in ``train`` the 35 pairs
  that are not held out, in ``test`` all 40 (so about one object in eight is a held-out pair) -;
  size uniform over small/large; diameter = nominal + uniform jitter in [-2, 2]; a grid cell uniform
  over the cells not taken; x, y = cell centre + uniform jitter in [-2, 2]. Jitters are multiples of
  0.25 px, the grid of the 4x supersampled renderer, so a scene renders exactly as its factors say;
- the layout (cells, sizes, diameters, positions - whatever the constraints left free) is redrawn
  until the bounding boxes are at least 2 px apart.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from vaestudio.worlds.shapes.world import (
    BACKGROUND_COLORS,
    CELL_CENTERS,
    COLUMNS,
    HELD_OUT_PAIRS,
    MAX_OBJECTS,
    MIN_GAP,
    OBJECT_COLORS,
    POSITION_JITTER,
    ROWS,
    SHAPES,
    SIZE_DIAMETERS,
    SIZE_JITTER,
    SPLITS,
    Scene,
    ShapeObject,
    box_gap,
    validate_scene,
)

JITTER_STEP = 0.25
MAX_LAYOUT_ATTEMPTS = 200
ALL_CELLS = tuple((row, column) for row in ROWS for column in COLUMNS)


@cache
def allowed_pairs(split: str) -> tuple[tuple[str, str], ...]:
    """The (colour, shape) pairs objects of a split are drawn from."""
    if split not in SPLITS:
        raise ValueError(f"the shapes world has splits {list(SPLITS)}, not {split!r}")
    pairs = [(color, shape) for color in OBJECT_COLORS for shape in SHAPES]
    return tuple(pair for pair in pairs if split == "test" or pair not in HELD_OUT_PAIRS)


def _index(rng: np.random.Generator, count: int) -> int:
    """Uniform in [0, count); ``rng.random()`` is several times cheaper than ``rng.integers``."""
    return min(int(rng.random() * count), count - 1)


def _jitter(rng: np.random.Generator, amplitude: float) -> float:
    steps = int(amplitude / JITTER_STEP)
    return (_index(rng, 2 * steps + 1) - steps) * JITTER_STEP


def _pick(rng: np.random.Generator, options: list | tuple):
    return options[_index(rng, len(options))]


def _color_and_shape(rng: np.random.Generator, split: str, wish: ShapeObject) -> tuple[str, str]:
    if wish.color is None and wish.shape is None:
        return _pick(rng, allowed_pairs(split))
    pairs = [
        (color, shape)
        for color, shape in allowed_pairs(split)
        if wish.color in (None, color) and wish.shape in (None, shape)
    ]
    if not pairs:
        raise ValueError(
            f"a {wish.color} {wish.shape} is held out of the train split of the shapes world; "
            "sample it from split='test'"
        )
    return _pick(rng, pairs)


def _layout(rng: np.random.Generator, wishes: list[ShapeObject]) -> list[dict]:
    """One draw of sizes, diameters, cells and positions for the objects (constraints kept)."""
    taken = {wish.cell for wish in wishes}
    free_cells = [cell for cell in ALL_CELLS if cell not in taken]
    layout = []
    for wish in wishes:
        size = wish.size or _pick(rng, tuple(SIZE_DIAMETERS))
        diameter = (
            wish.diameter if wish.diameter is not None else SIZE_DIAMETERS[size] + _jitter(rng, SIZE_JITTER)
        )
        cell = wish.cell
        if cell is None:
            cell = free_cells.pop(_index(rng, len(free_cells)))
        x = (
            wish.x
            if wish.x is not None
            else CELL_CENTERS[COLUMNS.index(cell[1])] + _jitter(rng, POSITION_JITTER)
        )
        y = (
            wish.y
            if wish.y is not None
            else CELL_CENTERS[ROWS.index(cell[0])] + _jitter(rng, POSITION_JITTER)
        )
        layout.append({"size": size, "diameter": diameter, "row": cell[0], "column": cell[1], "x": x, "y": y})
    return layout


def sample_factors(rng: np.random.Generator, split: str = "train", constraints: Scene | None = None) -> Scene:
    """A complete Scene; fields set in ``constraints`` are kept, the rest drawn (module docstring).

    Raises ValueError when the constraints cannot be met: a held-out pair in ``train``, two objects in
    one cell, or a layout that overlaps whatever is redrawn.
    """
    constraints = constraints or Scene()
    validate_scene(constraints)
    count = len(constraints.objects) or 1 + _index(rng, MAX_OBJECTS)
    wishes = list(constraints.objects) or [ShapeObject() for _ in range(count)]
    background = constraints.background or _pick(rng, tuple(BACKGROUND_COLORS))
    pairs = [_color_and_shape(rng, split, wish) for wish in wishes]
    for _ in range(MAX_LAYOUT_ATTEMPTS):
        layout = _layout(rng, wishes)
        objects = tuple(
            ShapeObject(color=color, shape=shape, **placement)
            for (color, shape), placement in zip(pairs, layout)
        )
        if len(objects) < 2 or box_gap(objects[0], objects[1]) >= MIN_GAP:
            return Scene(objects=objects, background=background)
    raise ValueError(
        "cannot place these objects at least 2 px apart: "
        + " and ".join(f"a {item.size} object {item.row}/{item.column}" for item in objects)
        + "; choose smaller sizes or cells further apart"
    )
