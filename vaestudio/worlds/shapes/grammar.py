"""Captions and prompts of the shapes world: Scene -> text and text -> partial Scene.

Full captions follow the spec exactly::

    a {size} {color} {shape} {position} [and a {size} {color} {shape} {position}] on a {background} background

A partial scene (fields None) gives a partial caption that leaves those words out: ``a red circle``,
``a star on the left``; an object with no shape is ``a shape`` (``a small red shape``). The position
phrase names a (row, column) pair, so it is kept or left out as one attribute.

``parse_prompt`` reads the same grammar back, tolerant of case, punctuation, extra spaces, ``an`` for
``a`` and the spellings ``grey``/``centre``; words it cannot place are returned in ``unknown_words``.
The words ``a``/``an``/``and`` separate objects; an attribute that the current object already has
also starts a new one (``a red circle blue star`` is two objects).

Re-exports ``render`` and ``sample_factors`` so that the whole world is one import away.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from vaestudio.worlds.shapes.render import render
from vaestudio.worlds.shapes.sampling import sample_factors
from vaestudio.worlds.shapes.world import (
    BACKGROUND_COLORS,
    OBJECT_COLORS,
    POSITION_PHRASES,
    SHAPES,
    SIZE_DIAMETERS,
    Scene,
    ShapeObject,
    validate_scene,
)

__all__ = [
    "ATTRIBUTES",
    "PromptParse",
    "caption",
    "omit_attributes",
    "parse_prompt",
    "render",
    "sample_factors",
]

ATTRIBUTES = ("size", "color", "shape", "position", "background")
SPELLINGS = {"grey": "gray", "centre": "center", "an": "a", "colour": "color"}


def omit_attributes(scene: Scene, omit: Iterable[str]) -> Scene:
    """The scene with the named attributes (from ``ATTRIBUTES``) set to None in every object."""
    omit = set(omit)
    unknown = omit - set(ATTRIBUTES)
    if unknown:
        raise ValueError(f"cannot omit {sorted(unknown)}; attributes are {list(ATTRIBUTES)}")
    cleared: dict[str, None] = {field: None for field in ("size", "color", "shape") if field in omit}
    if "position" in omit:
        cleared.update(row=None, column=None, x=None, y=None)
    objects = tuple(dataclasses.replace(item, **cleared) for item in scene.objects)
    return Scene(objects=objects, background=None if "background" in omit else scene.background)


def _object_phrase(item: ShapeObject) -> str:
    words = ["a"]
    words += [word for word in (item.size, item.color) if word is not None]
    words.append(item.shape if item.shape is not None else "shape")
    if item.cell is not None:
        words.append(POSITION_PHRASES[item.cell])
    return " ".join(words)


def caption(scene: Scene, omit: Iterable[str] = ()) -> str:
    """The caption of a (possibly partial) scene, leaving out the attributes named in ``omit``."""
    if omit:
        scene = omit_attributes(scene, omit)
    text = " and ".join(_object_phrase(item) for item in scene.objects)
    if scene.background is not None:
        text = f"{text} on a {scene.background} background" if text else f"a {scene.background} background"
    return text


@dataclasses.dataclass(frozen=True)
class PromptParse:
    """What a prompt says (a partial Scene) and the words that are not in the grammar."""

    scene: Scene
    unknown_words: tuple[str, ...] = ()


def _phrase_table() -> list[tuple[tuple[str, ...], str, object]]:
    """(words, kind, value), longest phrases first so that 'on a white background' beats 'on'."""
    table: list[tuple[tuple[str, ...], str, object]] = []
    for name in BACKGROUND_COLORS:
        for prefix in (("on", "a"), ("on",), ()):
            table.append((prefix + (name, "background"), "background", name))
    for cell, phrase in POSITION_PHRASES.items():
        table.append((tuple(phrase.split()), "position", cell))
    table.append((("in", "the", "middle"), "position", ("middle", "center")))
    table += [((name,), "size", name) for name in SIZE_DIAMETERS]
    table += [((name,), "color", name) for name in OBJECT_COLORS]
    table += [((name,), "shape", name) for name in SHAPES]
    table += [(("shape",), "any shape", None), (("a",), "separator", None), (("and",), "separator", None)]
    return sorted(table, key=lambda row: -len(row[0]))


PHRASES = _phrase_table()


def _tokens(text: str) -> list[str]:
    words = re.sub(r"[^a-z]+", " ", text.lower()).split()
    return [SPELLINGS.get(word, word) for word in words]


def parse_prompt(text: str) -> PromptParse:
    """Prompt -> partial Scene (see the module docstring). Raises ValueError for more than two objects."""
    tokens = _tokens(text)
    objects: list[dict] = []
    current: dict = {}
    background: str | None = None
    unknown: list[str] = []

    def close_current() -> None:
        nonlocal current
        if current:
            objects.append(current)
        current = {}

    position = 0
    while position < len(tokens):
        for words, kind, value in PHRASES:
            if tuple(tokens[position : position + len(words)]) == words:
                break
        else:
            unknown.append(tokens[position])
            position += 1
            continue
        position += len(words)
        if kind == "background":
            background = value
        elif kind == "separator":
            close_current()
        elif kind == "any shape":
            current.setdefault("any shape", True)
        else:
            field_values = {"row": value[0], "column": value[1]} if kind == "position" else {kind: value}
            if any(field in current for field in field_values):
                close_current()
            current.update(field_values)
    close_current()
    scene = Scene(
        objects=tuple(ShapeObject(**{k: v for k, v in item.items() if k != "any shape"}) for item in objects),
        background=background,
    )
    validate_scene(scene)
    return PromptParse(scene=scene, unknown_words=tuple(unknown))
