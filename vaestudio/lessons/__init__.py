"""The Learn tab's lessons: each a claim of the theory, a figure computed live from shipped models, its numbers.

    from vaestudio.lessons import list_lessons, render
    result = render("log-likelihood", value=3)     # a LessonResult: figure (PIL), numbers (dict), ...

Each lesson is one module with a ``LESSON`` (:class:`~vaestudio.lessons.base.Lesson`); which model
each one uses is the table in :mod:`vaestudio.lessons.models`.
"""

from __future__ import annotations

import importlib
import time

from vaestudio.lessons.base import Control, Figure, Lesson, LessonError, LessonResult

# In teaching order; the module names under vaestudio/lessons/.
LESSON_MODULES = (
    "autoencoder_vs_vae",
    "elbo_terms",
    "reparameterisation",
    "log_likelihood",
    "latent_size",
    "posterior_collapse",
    "cvae",
    "vq_vae",
    "gumbel_softmax",
    "text_to_image",
)

_lessons: dict[str, Lesson] = {}


def list_lessons() -> list[Lesson]:
    """Every lesson, in teaching order (by number)."""
    if not _lessons:
        loaded = [importlib.import_module(f"vaestudio.lessons.{module}").LESSON for module in LESSON_MODULES]
        for lesson in sorted(loaded, key=lambda item: item.number):
            _lessons[lesson.name] = lesson
    return list(_lessons.values())


def get_lesson(name: str) -> Lesson:
    lessons = {lesson.name: lesson for lesson in list_lessons()}
    if name not in lessons:
        raise LessonError(f"there is no lesson {name!r}; the lessons are: {', '.join(lessons)}")
    return lessons[name]


def render(name: str, value: float | None = None) -> LessonResult:
    """The lesson's figure and numbers at the control's ``value`` (None: its default)."""
    from vaestudio.lessons.models import model_for

    lesson = get_lesson(name)
    checked = lesson.control.check(value)
    start = time.perf_counter()
    figure = lesson.compute(checked)
    seconds = time.perf_counter() - start
    return LessonResult(lesson.name, lesson.number, lesson.title, lesson.paragraph, figure.image,
                        dict(figure.numbers), lesson.control, checked,
                        {role: model_for(role) for role in lesson.roles}, seconds)


__all__ = ["Control", "Figure", "Lesson", "LessonError", "LessonResult", "get_lesson", "list_lessons", "render"]
