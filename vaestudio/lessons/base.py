"""What a lesson is: a claim of the theory, a control, and a function that computes its figure and numbers.

A lesson's ``compute(value)`` returns a :class:`Figure` (a PIL picture and a dict of the numbers it
draws); :func:`render` wraps it with the lesson's title and paragraph into a :class:`LessonResult`,
which the CLI writes as ``NAME.png`` + ``NAME.json`` and the studio's Learn tab shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image


class LessonError(ValueError):
    """A bad lesson name or control value; the message says what to do."""


@dataclass(frozen=True)
class Control:
    """The one slider of a lesson."""

    label: str
    minimum: float
    maximum: float
    step: float
    default: float
    info: str = ""

    def check(self, value: float | None) -> float:
        """``value`` (None: the default) checked against the range and snapped to the step."""
        if value is None:
            return self.default
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise LessonError(f"{self.label} must be a number, got {value!r}") from None
        if not math.isfinite(value) or not self.minimum <= value <= self.maximum:
            raise LessonError(f"{self.label} must be between {self.minimum:g} and {self.maximum:g}, got {value:g}")
        snapped = self.minimum + round((value - self.minimum) / self.step) * self.step
        return round(min(max(snapped, self.minimum), self.maximum), 10)

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "minimum": self.minimum, "maximum": self.maximum, "step": self.step,
                "default": self.default, "info": self.info}


@dataclass(frozen=True)
class Figure:
    """What a lesson computes: the picture and the numbers behind it (JSON-able values)."""

    image: Image.Image
    numbers: Mapping[str, Any]


@dataclass(frozen=True)
class Lesson:
    name: str  # the CLI's and the tab's handle, e.g. "log-likelihood"
    number: int  # its place in the sequence (1..10)
    title: str
    paragraph: str  # the claim of the theory, and what the figure shows
    control: Control
    compute: Callable[[float], Figure]
    roles: tuple[str, ...] = field(default=())  # the model roles it uses (keys of lessons.models.LESSON_MODELS)


@dataclass(frozen=True)
class LessonResult:
    name: str
    number: int
    title: str
    paragraph: str
    figure: Image.Image
    numbers: Mapping[str, Any]
    control: Control
    value: float  # the control's value the figure was computed at
    models: Mapping[str, str]  # role -> the model it used
    seconds: float  # how long the render took

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "number": self.number, "title": self.title, "paragraph": self.paragraph,
                "control": self.control.as_dict(), "value": self.value, "models": dict(self.models),
                "numbers": dict(self.numbers), "seconds": round(self.seconds, 3)}
