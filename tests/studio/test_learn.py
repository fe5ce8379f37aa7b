"""The Learn tab's endpoints, driven with gradio_client against the FakeEngine."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client.exceptions import AppError
from PIL import Image

from studio.engine_api import InputError


def bar_heights(path) -> list[float]:
    """The fake lesson's three bar heights read back from its picture (blue pixels per bar column)."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int32)
    blue = (pixels[..., 0] == 31) & (pixels[..., 2] == 180)  # (H, W)
    return [float(blue[:, 70 + 110 * index].sum()) / 200 * 3 for index in range(3)]  # a pixel is 0.015


def test_opening_a_lesson_shows_its_paragraph_control_figure_and_numbers(client):
    paragraph, control, figure, note, numbers = client.predict("fake-ratio", api_name="/lesson_open")
    assert paragraph.startswith("### 2. A ratio to read") and "fake lesson" in paragraph
    assert (control["value"], control["minimum"], control["maximum"]) == (1, 1, 64)  # the lesson's own range
    assert control["label"] == "Draws per estimate"
    assert numbers["value"] == 1 and "Computed in" in note and "fake-vae" in note
    assert bar_heights(figure) == pytest.approx(numbers["bar_heights"], abs=0.035)


def test_moving_the_control_re_renders_the_figure_and_its_numbers(client):
    low_figure, _, low = client.predict("fake-bars", 2, api_name="/lesson_render")
    high_figure, note, high = client.predict("fake-bars", 9, api_name="/lesson_render")
    assert low["value"] == 2 and high["value"] == 9 and "at 9" in note
    assert bar_heights(high_figure) == pytest.approx(high["bar_heights"], abs=0.035)
    assert bar_heights(high_figure)[2] > bar_heights(low_figure)[2]


def test_the_tab_opens_on_its_picked_lesson(client):
    paragraph, control, _, _, numbers = client.predict("fake-bars", api_name="/lesson_tab_open")
    assert paragraph.startswith("### 1. Bars that grow") and control["value"] == 3 and numbers["value"] == 3


def test_bad_lessons_and_values_are_clear_errors(client, fake_engine):
    with pytest.raises(AppError, match="greater than maximum value 10"):  # the slider's own check
        client.predict("fake-bars", 11, api_name="/lesson_render")
    with pytest.raises(InputError, match="between 0 and 10"):  # and the engine's, for API callers around it
        fake_engine.render_lesson("fake-bars", -1)
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict("nope", 1, api_name="/lesson_render")
