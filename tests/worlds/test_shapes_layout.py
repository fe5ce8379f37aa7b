"""Layouts: shapes-world prompts split into one-object captions, each weighted over its part of the code map."""

from __future__ import annotations

import pytest
import torch

from vaestudio.worlds import get_layout
from vaestudio.worlds.shapes.grammar import parse_prompt
from vaestudio.worlds.shapes.layout import shapes_layout

TWO = "a small blue square in the top right and a large red triangle on the left on a white background"


def test_each_placed_object_gets_its_own_caption_and_region():
    regional = shapes_layout(TWO, (16, 16), 5)
    assert len(regional) == 5
    assert regional.captions == ["a small blue square in the top right on a white background",
                                 "a large red triangle on the left on a white background"]
    for text, wanted in zip(regional.captions, parse_prompt(TWO).scene.objects):
        (found,) = parse_prompt(text).scene.objects  # each caption holds exactly its own object
        assert found == wanted
    weights = regional.weights  # (2, 16, 16)
    assert weights.shape == (2, 16, 16) and bool((weights >= 0).all())
    torch.testing.assert_close(weights.sum(0), torch.ones(16, 16))
    # code (row, column) covers pixels 4 row .. 4 row + 3: the top-right cell centre (16, 48) is code (3.5, 11.5)
    assert weights[0, 3, 11] > 0.99 and weights[1, 7, 3] > 0.99  # the square's cell and the triangle's (32, 16)
    assert weights[1, 15, 0] > 0.5  # far from both: the nearer (in radii) object's


def test_a_large_object_s_region_reaches_further_than_a_small_one_s():
    prompt = "a large red circle on the left and a small blue star in the center on a gray background"
    weights = shapes_layout(prompt, (16, 16), 1).weights  # (2, 16, 16)
    # column 5 covers pixels 20-23, centre 22: 6 px from the large circle (x 16), 10 px from the star (x 32)
    assert weights[0, 7, 5] > 0.9
    # column 6 (centre 26) is 10 px from the circle and 6 px from the star: in radii 10 / 13 < 6 / 7
    assert weights[0, 7, 6] > 0.5
    soft, hard = (shapes_layout(prompt, (16, 16), 1, softness=value).weights for value in (1.0, 0.01))
    assert soft[0, 7, 6] < weights[0, 7, 6] < hard[0, 7, 6]  # softness blends the boundary
    assert hard[0, 7, 6] > 0.999 and hard[1, 7, 8] > 0.999  # near-hard regions


@pytest.mark.parametrize("prompt", [
    "a small blue square in the top right on a white background",  # one object: the prompt as it is
    "a red circle and a blue star",  # no positions to place them by
    "a red circle on the left and a blue star",  # one without a position
    "a red circle on the left and a blue star on the left",  # the same cell twice: not a shapes scene
    "a circle on the left and a star on the right and a heart at the top",  # three objects: neither
    "",
    "tulips in the rain",
])
def test_prompts_without_two_placed_objects_are_left_whole(prompt):
    assert shapes_layout(prompt, (16, 16), 2) is None


def test_other_code_map_sizes_and_layout_names():
    assert shapes_layout(TWO, (8, 4), 1).weights.shape == (2, 8, 4)
    assert get_layout("shapes") is shapes_layout and get_layout(None) is None
    with pytest.raises(ValueError, match="unknown layout 'cities' in the bundle's options; known layouts: \\['shapes'\\]"):
        get_layout("cities")
