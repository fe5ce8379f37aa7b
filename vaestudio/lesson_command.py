"""`vaestudio lesson list` and `vaestudio lesson NAME [--value V] --out DIR`: the Learn tab's lessons on the command line.

``lesson NAME`` computes the lesson's figure from the shipped models and writes ``DIR/NAME.png`` and
``DIR/NAME.json`` (title, paragraph, control, the models used, the numbers); ``lesson all`` writes
every lesson. ``lesson list`` prints each lesson's number, name, title and control.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _list() -> int:
    from vaestudio.lessons import list_lessons

    for lesson in list_lessons():
        control = lesson.control
        print(f"{lesson.number:>2}  {lesson.name:<22} {lesson.title}")
        print(f"    control: {control.label}, {control.minimum:g} to {control.maximum:g} "
              f"(step {control.step:g}, default {control.default:g})")
    return 0


def _write(name: str, value: float | None, out: str) -> dict:
    from vaestudio.lessons import render

    result = render(name, value)
    os.makedirs(out, exist_ok=True)
    result.figure.save(os.path.join(out, f"{result.name}.png"))
    with open(os.path.join(out, f"{result.name}.json"), "w", encoding="utf-8") as stream:
        json.dump(result.to_json(), stream, indent=2)
    return result.to_json()


def _lesson(arguments: argparse.Namespace) -> int:
    from vaestudio.lessons import LessonError, list_lessons

    if arguments.name == "list":
        return _list()
    if not arguments.out:
        print("error: say where to write the figure and its numbers: --out DIR", file=sys.stderr)
        return 2
    try:
        if arguments.name == "all":
            if arguments.value is not None:
                raise LessonError("--value applies to one lesson; `lesson all` renders each at its default")
            for lesson in list_lessons():
                written = _write(lesson.name, None, arguments.out)
                print(f"{lesson.name}: {written['seconds']:.2f} s")
        else:
            written = _write(arguments.name, arguments.value, arguments.out)
            print(json.dumps({"png": os.path.join(arguments.out, f"{written['name']}.png"),
                              "json": os.path.join(arguments.out, f"{written['name']}.json"),
                              "seconds": written["seconds"], "numbers": written["numbers"]}, indent=2))
    except LessonError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def add_lesson(commands: argparse._SubParsersAction) -> None:
    lesson = commands.add_parser("lesson", help="render a Learn-tab lesson (PNG + JSON of its numbers), or list them",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    lesson.add_argument("name", help="a lesson name (see `vaestudio lesson list`), `list`, or `all`")
    lesson.add_argument("--value", type=float, help="the lesson's control (default: its default)")
    lesson.add_argument("--out", help="folder for NAME.png and NAME.json")
    lesson.set_defaults(handler=_lesson)
