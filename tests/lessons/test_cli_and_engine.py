"""Every lesson through `vaestudio lesson` and through the studio's real engine: the same numbers as in process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from studio.engine import Engine
from studio.engine_api import InputError
from tests.lessons.conftest import REPOSITORY, rendered
from vaestudio.lessons import list_lessons

NAMES = [lesson.name for lesson in list_lessons()]


def vaestudio(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vaestudio.cli", "lesson", *arguments], capture_output=True,
                          text=True, check=False, timeout=900, cwd=REPOSITORY, env=dict(os.environ))


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("lessons")
    completed = vaestudio("all", "--out", str(out))
    assert completed.returncode == 0, completed.stderr
    return str(out)


def test_lesson_list_names_every_lesson_and_its_control():
    completed = vaestudio("list")
    assert completed.returncode == 0
    for lesson in list_lessons():
        assert lesson.name in completed.stdout and lesson.control.label in completed.stdout


@pytest.mark.parametrize("name", NAMES)
def test_the_cli_writes_the_png_and_the_same_numbers(written, name):
    with Image.open(os.path.join(written, f"{name}.png")) as picture:
        assert picture.size == rendered(name).figure.size
    with open(os.path.join(written, f"{name}.json"), encoding="utf-8") as stream:
        document = json.load(stream)
    assert document["numbers"] == json.loads(json.dumps(rendered(name).numbers))
    assert document["control"]["default"] == document["value"] and document["paragraph"]


def test_the_cli_takes_a_value_and_refuses_bad_input(tmp_path):
    completed = vaestudio("cvae", "--value", "4", "--out", str(tmp_path))
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["numbers"] == json.loads(json.dumps(rendered("cvae", 4).numbers))
    assert (tmp_path / "cvae.png").is_file() and (tmp_path / "cvae.json").is_file()
    refused = vaestudio("cvae", "--value", "500", "--out", str(tmp_path))
    assert refused.returncode == 2 and "between 0 and 99" in refused.stderr and "Traceback" not in refused.stderr
    no_out = vaestudio("cvae")
    assert no_out.returncode == 2 and "--out DIR" in no_out.stderr


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Engine:
    return Engine(models_dir=tmp_path_factory.mktemp("no-zoo"), runs_dir=tmp_path_factory.mktemp("runs"))


def test_the_engine_lists_the_lessons_with_their_controls(engine):
    summaries = engine.list_lessons()
    assert [summary.name for summary in summaries] == NAMES
    for summary, lesson in zip(summaries, list_lessons()):
        assert (summary.minimum, summary.maximum, summary.step, summary.default) == (
            lesson.control.minimum, lesson.control.maximum, lesson.control.step, lesson.control.default)


@pytest.mark.parametrize("name", NAMES)
def test_the_engine_renders_every_lesson(engine, name):
    view = engine.render_lesson(name, rendered(name).control.default)
    assert view.numbers == rendered(name).numbers and view.figure.size == rendered(name).figure.size
    assert view.title == rendered(name).title and view.models


def test_the_engine_turns_lesson_errors_into_input_errors(engine):
    with pytest.raises(InputError, match="between 0.05 and 5"):
        engine.render_lesson("gumbel-softmax", 9.0)
    with pytest.raises(InputError, match="no lesson"):
        engine.render_lesson("nope", 1.0)
