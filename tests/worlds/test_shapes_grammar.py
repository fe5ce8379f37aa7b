"""Captions, prompts and constrained sampling of the shapes world."""

import numpy as np
import pytest

from vaestudio.worlds.shapes.grammar import caption, omit_attributes, parse_prompt, render, sample_factors
from vaestudio.worlds.shapes.world import HELD_OUT_PAIRS, Scene, ShapeObject

SPEC_EXAMPLE = "a large red circle in the top left and a small blue star at the bottom on a white background"
EXAMPLE_SCENE = Scene(
    objects=(
        ShapeObject(
            shape="circle", color="red", size="large", row="top", column="left", x=16, y=16, diameter=26
        ),
        ShapeObject(
            shape="star", color="blue", size="small", row="bottom", column="center", x=32, y=48, diameter=14
        ),
    ),
    background="white",
)


def test_full_caption_is_the_spec_example():
    assert caption(EXAMPLE_SCENE) == SPEC_EXAMPLE


def test_partial_captions_leave_attributes_out():
    assert caption(EXAMPLE_SCENE, omit={"size", "position", "background"}) == "a red circle and a blue star"
    one_star = Scene(objects=(ShapeObject(shape="star", row="middle", column="left"),))
    assert caption(one_star) == "a star on the left"
    assert caption(EXAMPLE_SCENE, omit={"shape", "color", "size", "position"}) == (
        "a shape and a shape on a white background"
    )
    with pytest.raises(ValueError, match="attributes"):
        caption(EXAMPLE_SCENE, omit={"texture"})


def test_parse_reads_the_spec_example_back():
    parsed = parse_prompt(SPEC_EXAMPLE)
    assert parsed.unknown_words == ()
    assert parsed.scene == Scene(
        objects=tuple(ShapeObject(o.shape, o.color, o.size, o.row, o.column) for o in EXAMPLE_SCENE.objects),
        background="white",
    )


def test_parse_is_tolerant_of_case_spacing_punctuation_and_spellings():
    parsed = parse_prompt("  A  Large RED circle,   in the TOP left... on a GREY background! ")
    assert parsed.unknown_words == ()
    assert parsed.scene == Scene(
        objects=(ShapeObject(shape="circle", color="red", size="large", row="top", column="left"),),
        background="gray",
    )
    assert parse_prompt("an orange heart in the centre").scene.objects[0].cell == ("middle", "center")


def test_parse_reports_unknown_words_and_keeps_what_it_understood():
    parsed = parse_prompt("a shiny purple dragon on the right")
    assert parsed.unknown_words == ("shiny", "dragon")
    assert parsed.scene.objects == (ShapeObject(color="purple", row="middle", column="right"),)


def test_parse_of_partial_prompts():
    assert parse_prompt("a red circle").scene == Scene(objects=(ShapeObject(shape="circle", color="red"),))
    assert parse_prompt("a star on the left").scene.objects == (
        ShapeObject(shape="star", row="middle", column="left"),
    )
    assert parse_prompt("on a black background").scene == Scene(background="black")
    assert parse_prompt("a red circle blue star").scene.objects[1] == ShapeObject(shape="star", color="blue")
    assert parse_prompt("").scene == Scene()


def test_partial_captions_round_trip_through_the_parser():
    for omit in [(), ("size",), ("color", "background"), ("position",), ("shape", "size")]:
        partial = omit_attributes(EXAMPLE_SCENE, omit)
        expected = tuple(ShapeObject(o.shape, o.color, o.size, o.row, o.column) for o in partial.objects)
        assert parse_prompt(caption(partial)).scene == Scene(objects=expected, background=partial.background)


def test_more_than_two_objects_is_an_error():
    with pytest.raises(ValueError, match="one or two objects"):
        parse_prompt("a red circle and a blue star and a green square")


def test_sampling_keeps_constraints_and_fills_the_rest():
    rng = np.random.default_rng(0)
    constraints = parse_prompt("a red circle and a star on the left").scene
    for _ in range(50):
        scene = sample_factors(rng, "train", constraints)
        first, second = scene.objects
        assert (first.color, first.shape) == ("red", "circle")
        assert second.shape == "star" and second.cell == ("middle", "left")
        assert (second.color, second.shape) not in HELD_OUT_PAIRS
        assert all(value is not None for item in scene.objects for value in item.to_dict().values())
        assert scene.background is not None
        assert render(scene).shape == (64, 64, 3)


def test_sampling_a_held_out_pair_needs_the_test_split():
    constraints = parse_prompt("a green triangle").scene
    with pytest.raises(ValueError, match="held out of the train split"):
        sample_factors(np.random.default_rng(0), "train", constraints)
    scene = sample_factors(np.random.default_rng(0), "test", constraints)
    assert (scene.objects[0].color, scene.objects[0].shape) == ("green", "triangle")


def test_impossible_constraints_are_clear_errors():
    with pytest.raises(ValueError, match="at least 2 px apart"):
        crowded = parse_prompt("a large circle in the top left and a large square at the top").scene
        sample_factors(np.random.default_rng(0), "train", crowded)
    with pytest.raises(ValueError, match="share a grid cell"):
        same_cell = parse_prompt("a circle on the left and a star on the left").scene
        sample_factors(np.random.default_rng(0), "train", same_cell)
    with pytest.raises(ValueError, match="splits"):
        sample_factors(np.random.default_rng(0), "validation")
