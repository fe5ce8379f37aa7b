"""Learn: short lessons, each a claim of the theory with a figure computed live from the shipped models,
the numbers behind it, and one control that re-renders it."""

from __future__ import annotations

import io

import gradio as gr
from PIL import Image

from studio.engine_api import InputError, LessonSummary, LessonView, StudioEngine
from studio.errors import user_facing
from studio.tabs.shared import ENGINE_QUEUE, write_file

INTRODUCTION = ("Each lesson is one result of the theory, reproduced on the studio's own models: the figure and its "
                "numbers are computed when you open it (heavy parts are cached, keyed by the models' weights). "
                "Move the slider to change what the figure shows.")


def figure_file(image: Image.Image) -> str:
    """The lesson's figure as a PNG file, at its own size (it is drawn for the screen already)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return write_file(buffer.getvalue(), ".png")


def heading(view: LessonView, number: int) -> str:
    return f"### {number}. {view.title}\n{view.paragraph}"


def footnote(view: LessonView) -> str:
    models = ", ".join(f"`{model}`" for model in dict.fromkeys(view.models.values()))
    return f"Computed in {view.seconds:.2f} s at {view.value:g}, from {models}."


def build(engine: StudioEngine) -> None:
    lessons: dict[str, LessonSummary] = {lesson.name: lesson for lesson in engine.list_lessons()}
    first = next(iter(lessons.values()), None)
    with gr.Tab("Learn", id="learn") as tab:
        gr.Markdown(INTRODUCTION)
        picker = gr.Dropdown([(f"{lesson.number}. {lesson.title}", lesson.name) for lesson in lessons.values()],
                             value=first.name if first else None, label="Lesson", elem_id="lesson-picker")
        paragraph = gr.Markdown(f"### {first.number}. {first.title}" if first else "No lessons are installed.",
                                elem_id="lesson-paragraph")
        control = gr.Slider(first.minimum if first else 0, first.maximum if first else 1,
                            first.default if first else 0, step=first.step if first else 1,
                            label=first.control_label if first else "Control",
                            info=(first.control_info or None) if first else None, elem_id="lesson-control")
        figure = gr.Image(label="Figure (computed live)", interactive=False, elem_id="lesson-figure")
        note = gr.Markdown(elem_id="lesson-note")
        numbers = gr.JSON(label="The numbers behind the figure", elem_id="lesson-numbers")

        def lesson_named(name: str) -> LessonSummary:
            if name not in lessons:
                raise InputError(f"There is no lesson {name!r}. Pick one of the listed lessons.")
            return lessons[name]

        @user_facing
        def open_lesson(name: str):
            lesson = lesson_named(name)
            view = engine.render_lesson(lesson.name, lesson.default)
            slider = gr.Slider(minimum=lesson.minimum, maximum=lesson.maximum, step=lesson.step, value=lesson.default,
                               label=lesson.control_label, info=lesson.control_info or None)
            return heading(view, lesson.number), slider, figure_file(view.figure), footnote(view), dict(view.numbers)

        outputs = [paragraph, control, figure, note, numbers]
        picker.change(open_lesson, picker, outputs, api_name="lesson_open", **ENGINE_QUEUE)
        tab.select(open_lesson, picker, outputs, api_name="lesson_tab_open", **ENGINE_QUEUE)

        @user_facing
        def render_lesson(name: str, value: float):
            lesson = lesson_named(name)
            view = engine.render_lesson(lesson.name, value)
            return figure_file(view.figure), footnote(view), dict(view.numbers)

        control.release(render_lesson, [picker, control], [figure, note, numbers], api_name="lesson_render",
                        trigger_mode="always_last", show_progress="minimal", **ENGINE_QUEUE)

