"""The shapes world's layout: a multi-object prompt split into one-object captions, each with its region
of the code map (a :class:`vaestudio.common.RegionalCondition` for the prior, or None when regional
conditioning does not apply: then the whole prompt conditions every position). Registered as the
``shapes`` layout (:mod:`vaestudio.worlds.registry`), which a bundle names in its options.

The grammar is that of ``docs/specs/shapes-world.md``: a prompt with two or more
objects, each with a position phrase (distinct cells), gives each object the caption
``a {size} {color} {shape} {position} on a {background} background`` (the words the prompt gave;
the background shared). A code position belongs to the objects softly, by its distance to each
object's cell centre in units of that object's radius (small 7 px, large 13 px, unsized 10 px)::

    weight[r, p] = softmax_r(-distance(p, centre_r) / (radius_r * softness))

so a large object's region reaches further than a small neighbour's; ``softness`` -> 0 gives hard
(Voronoi-like) regions.
"""

from __future__ import annotations

import torch

from vaestudio.common.batch import RegionalCondition
from vaestudio.worlds.registry import DEFAULT_SOFTNESS
from vaestudio.worlds.shapes.grammar import caption, parse_prompt
from vaestudio.worlds.shapes.world import CANVAS_SIZE, CELL_CENTERS, COLUMNS, ROWS, SIZE_DIAMETERS, Scene

UNSIZED_RADIUS = 10.0  # pixels: between a small (7) and a large (13) object's half-width


def shapes_layout(prompt: str, code_map_shape: tuple[int, int], count: int,
                  softness: float = DEFAULT_SOFTNESS) -> RegionalCondition | None:
    """One region per object of a shapes-world prompt (None unless 2+ objects in distinct named cells)."""
    try:
        scene = parse_prompt(prompt).scene
    except ValueError:  # not a scene of the world (two objects in one cell, three objects): no layout
        return None
    objects = scene.objects
    if len(objects) < 2 or any(item.row is None or item.column is None for item in objects):
        return None
    if len({(item.row, item.column) for item in objects}) != len(objects):
        return None
    height, width = code_map_shape
    rows = (torch.arange(height, dtype=torch.float64) + 0.5) * (CANVAS_SIZE / height)  # (h,) pixel centres
    columns = (torch.arange(width, dtype=torch.float64) + 0.5) * (CANVAS_SIZE / width)  # (w,)
    y, x = torch.meshgrid(rows, columns, indexing="ij")  # (h, w) each
    distances = []
    for item in objects:
        centre_y, centre_x = CELL_CENTERS[ROWS.index(item.row)], CELL_CENTERS[COLUMNS.index(item.column)]
        radius = SIZE_DIAMETERS[item.size] / 2 if item.size is not None else UNSIZED_RADIUS
        distances.append(torch.hypot(y - centre_y, x - centre_x) / radius)  # (h, w)
    scaled = -torch.stack(distances) / max(float(softness), 1e-6)  # (R, h, w)
    weights = torch.softmax(scaled, dim=0).to(torch.float32)  # (R, h, w)
    captions = [caption(Scene(objects=(item,), background=scene.background)) for item in objects]
    return RegionalCondition(captions, weights, count)
