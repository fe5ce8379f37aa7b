"""The lesson registry, the control's checks, the model table and the result's JSON."""

from __future__ import annotations

import json

import pytest

from vaestudio.lessons import LessonError, get_lesson, list_lessons
from vaestudio.lessons.base import Control
from vaestudio.lessons.models import model_for

NAMES = ["autoencoder-vs-vae", "elbo-terms", "reparameterisation", "log-likelihood", "latent-size", "cvae",
         "posterior-collapse", "vq-vae", "gumbel-softmax", "text-to-image"]


def test_the_ten_lessons_in_teaching_order():
    lessons = list_lessons()
    assert [lesson.name for lesson in lessons] == NAMES
    assert [lesson.number for lesson in lessons] == list(range(1, 11))
    for lesson in lessons:
        control = lesson.control
        assert control.minimum <= control.default <= control.maximum and control.step > 0
        assert lesson.paragraph and lesson.title and lesson.roles
        for role in lesson.roles:
            assert model_for(role)


def test_the_control_snaps_to_its_step_and_refuses_what_is_out_of_range():
    control = Control("Temperature", 0.05, 5.0, 0.05, 1.0)
    assert control.check(None) == 1.0
    assert control.check(0.123) == pytest.approx(0.1)
    assert control.check(5.0) == 5.0
    with pytest.raises(LessonError, match="between 0.05 and 5"):
        control.check(7)
    with pytest.raises(LessonError, match="must be a number"):
        control.check("warm")
    with pytest.raises(LessonError, match="between"):
        control.check(float("nan"))


def test_an_unknown_lesson_names_the_real_ones():
    with pytest.raises(LessonError, match="no lesson 'elbo'.*elbo-terms"):
        get_lesson("elbo")


def test_a_role_can_point_at_another_model_per_process(monkeypatch):
    monkeypatch.setenv("VAESTUDIO_LESSON_MODELS", json.dumps({"vae": "mnist-vae"}))
    assert model_for("vae") == "mnist-vae" and model_for("cvae") == "digits-cvae"
    monkeypatch.setenv("VAESTUDIO_LESSON_MODELS", "{not json")
    with pytest.raises(ValueError, match="JSON object"):
        model_for("vae")


def test_a_missing_model_says_which_and_how_to_fix_it(monkeypatch):
    from vaestudio.lessons import cache, render

    monkeypatch.setenv("VAESTUDIO_LESSON_MODELS", json.dumps({"cvae": "no-such-model"}))
    monkeypatch.setattr(cache, "_models", {})
    with pytest.raises(LessonError, match="needs the model 'no-such-model'.*vaestudio/lessons/models.py"):
        render("cvae")


def test_switching_a_role_renders_the_lesson_on_the_other_model(monkeypatch):
    from tests.lessons.conftest import rendered
    from vaestudio.lessons import render

    monkeypatch.setenv("VAESTUDIO_LESSON_MODELS", json.dumps({"vae": "digits-vae-z5"}))
    switched = render("log-likelihood")
    assert switched.models == {"vae": "digits-vae-z5"}
    monkeypatch.delenv("VAESTUDIO_LESSON_MODELS")
    assert switched.numbers["elbo"] != rendered("log-likelihood").numbers["elbo"]
