"""The shapes source follows docs/specs/shapes-world.md: colours, sizes, positions, overlap, captions, splits."""

import numpy as np
import pytest

from vaestudio.data import open_source
from vaestudio.worlds.shapes.grammar import parse_prompt
from vaestudio.worlds.shapes.render import expected_extent, render
from vaestudio.worlds.shapes.source import scene_at
from vaestudio.worlds.shapes.world import (
    BACKGROUND_COLORS,
    CELL_CENTERS,
    COLUMNS,
    HELD_OUT_PAIRS,
    OBJECT_COLORS,
    POSITION_PHRASES,
    ROWS,
    SIZE_DIAMETERS,
    Scene,
    ShapeObject,
    box_gap,
)

NUM_CHECKED = 300


def drawn_box(
    image: np.ndarray, background: tuple[int, int, int], item: ShapeObject
) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) pixel box of what differs from the background near an object."""
    reach = item.diameter / 2 + 1  # objects are at least 2 px apart: 1 px around each box is its own
    left, top = max(0, int(np.floor(item.x - reach))), max(0, int(np.floor(item.y - reach)))
    right, bottom = min(64, int(np.ceil(item.x + reach))), min(64, int(np.ceil(item.y + reach)))
    window = image[top:bottom, left:right].astype(int)  # (h, w, 3)
    differs = np.abs(window - np.array(background)).max(axis=2) > 0  # (h, w)
    rows, columns = np.nonzero(differs)
    return left + columns.min(), top + rows.min(), left + columns.max() + 1, top + rows.max() + 1


@pytest.fixture(scope="module")
def test_source():
    return open_source("shapes", "test", num_images=NUM_CHECKED, cache=False)


def checked_objects(source):
    for index in range(len(source)):
        scene = source.scene(index)
        image = np.rint(source[index].image.permute(1, 2, 0).numpy() * 255).astype(int)  # (64, 64, 3)
        for item in scene.objects:
            yield scene, image, item


def test_images_are_64_by_64_rgb_in_unit_range(test_source):
    example = test_source[0]
    assert example.image.shape == (3, 64, 64) and example.image.dtype.is_floating_point
    assert 0.0 <= example.image.min() and example.image.max() <= 1.0
    assert test_source.num_channels == 3 and test_source.image_size == 64 and test_source.has_captions


def test_object_centres_have_the_exact_table_colour(test_source):
    for scene, image, item in checked_objects(test_source):
        centre = image[int(item.y), int(item.x)]
        assert np.abs(centre - np.array(OBJECT_COLORS[item.color])).max() <= 1, (scene, centre)


def test_background_is_the_exact_table_colour_away_from_objects(test_source):
    for index in range(len(test_source)):
        scene = test_source.scene(index)
        image = np.rint(test_source[index].image.permute(1, 2, 0).numpy() * 255).astype(int)  # (64, 64, 3)
        free = np.ones((64, 64), dtype=bool)
        for item in scene.objects:
            half = item.diameter / 2 + 1
            free[
                max(0, int(item.y - half)) : int(item.y + half) + 1,
                max(0, int(item.x - half)) : int(item.x + half) + 1,
            ] = False
        assert free.any()
        assert (image[free] == np.array(BACKGROUND_COLORS[scene.background])).all()


def test_drawn_sizes_follow_the_spec(test_source):
    for scene, image, item in checked_objects(test_source):
        nominal = SIZE_DIAMETERS[item.size]
        assert nominal - 2 <= item.diameter <= nominal + 2
        left, top, right, bottom = drawn_box(image, BACKGROUND_COLORS[scene.background], item)
        width, height = expected_extent(item)
        # Anti-aliasing: partly covered pixels add up to one pixel, sub-pixel tips can vanish.
        assert width - 1 <= right - left <= width + 2, (item, right - left)
        assert height - 1 <= bottom - top <= height + 2, (item, bottom - top)
        assert nominal - 3 <= right - left <= nominal + 3  # the spec's side, +-2 jitter, +1 anti-aliasing


def test_positions_are_cell_centres_with_jitter(test_source):
    for scene, image, item in checked_objects(test_source):
        assert abs(item.x - CELL_CENTERS[COLUMNS.index(item.column)]) <= 2
        assert abs(item.y - CELL_CENTERS[ROWS.index(item.row)]) <= 2
        left, top, right, bottom = drawn_box(image, BACKGROUND_COLORS[scene.background], item)
        assert abs((left + right) / 2 - item.x) <= 1
        if item.shape != "star":  # a star's x, y is its outer circle's centre, not its box's
            assert abs((top + bottom) / 2 - item.y) <= 1


def test_two_objects_are_in_different_cells_and_at_least_2_px_apart(test_source):
    pairs = 0
    for index in range(len(test_source)):
        scene = test_source.scene(index)
        assert 1 <= len(scene.objects) <= 2
        if len(scene.objects) == 2:
            pairs += 1
            first, second = scene.objects
            assert first.cell != second.cell
            assert box_gap(first, second) >= 2
            image = np.rint(test_source[index].image.permute(1, 2, 0).numpy() * 255).astype(int)
            boxes = [drawn_box(image, BACKGROUND_COLORS[scene.background], item) for item in scene.objects]
            horizontal_gap = max(boxes[1][0] - boxes[0][2], boxes[0][0] - boxes[1][2])
            vertical_gap = max(boxes[1][1] - boxes[0][3], boxes[0][1] - boxes[1][3])
            assert max(horizontal_gap, vertical_gap) >= 1  # >= 2 px apart, less a pixel of anti-aliasing
    assert 0.3 * NUM_CHECKED < pairs < 0.7 * NUM_CHECKED


def test_captions_follow_the_grammar_and_parse_back_to_the_factors(test_source):
    for index in range(50):
        scene, text = test_source.scene(index), test_source[index].caption
        phrases = [
            f"a {item.size} {item.color} {item.shape} {POSITION_PHRASES[item.cell]}" for item in scene.objects
        ]
        assert text == " and ".join(phrases) + f" on a {scene.background} background"
        parsed = parse_prompt(text)
        assert parsed.unknown_words == ()
        assert parsed.scene.background == scene.background
        assert [(o.size, o.color, o.shape, o.row, o.column) for o in parsed.scene.objects] == [
            (o.size, o.color, o.shape, o.row, o.column) for o in scene.objects
        ]


def test_factors_expose_every_attribute(test_source):
    factors = test_source.factors(3)
    assert set(factors) == {"objects", "background"}
    assert set(factors["objects"][0]) == {"shape", "color", "size", "row", "column", "x", "y", "diameter"}
    assert Scene.from_dict(factors) == test_source.scene(3)


def test_generation_is_a_function_of_split_and_index(temporary_cache):
    cached = open_source("shapes", "train", num_images=20)
    uncached = open_source("shapes", "train", num_images=3000, cache=False)
    again = open_source("shapes", "train", num_images=20)  # reads the chunk the first one wrote
    for index in (0, 7, 19):
        assert (cached[index].image == uncached[index].image).all()
        assert (again[index].image == uncached[index].image).all()
        assert cached[index].caption == uncached[index].caption
        assert np.array_equal(
            render(scene_at("train", index)),
            (uncached[index].image.permute(1, 2, 0) * 255).round().byte().numpy(),
        )
    assert scene_at("train", 5) != scene_at("test", 5)
    assert len(open_source("shapes", "test")) == 5000 and len(open_source("shapes", "train")) == 50000


def test_held_out_pairs_never_in_train_and_all_in_test():
    train_pairs = {(o.color, o.shape) for i in range(3000) for o in scene_at("train", i).objects}
    test_pairs = {(o.color, o.shape) for i in range(3000) for o in scene_at("test", i).objects}
    assert not train_pairs & HELD_OUT_PAIRS
    assert len(train_pairs) == 35
    assert HELD_OUT_PAIRS <= test_pairs and len(test_pairs) == 40


def test_the_world_covers_every_cell_size_and_background():
    scenes = [scene_at("train", index) for index in range(500)]
    assert {scene.background for scene in scenes} == set(BACKGROUND_COLORS)
    assert {item.cell for scene in scenes for item in scene.objects} == set(POSITION_PHRASES)
    assert {item.size for scene in scenes for item in scene.objects} == set(SIZE_DIAMETERS)


def test_other_image_sizes_are_resized(temporary_cache):
    source = open_source("shapes", "test", image_size=32, num_images=4)
    assert source[0].image.shape == (3, 32, 32)


def test_caption_dropout_is_deterministic_per_epoch_and_changes_across_epochs():
    source = open_source("shapes", "train", num_images=64, caption_dropout=0.5, cache=False)
    first = [source[index].caption for index in range(64)]
    assert first == [source[index].caption for index in range(64)]
    source.set_epoch(1)
    second = [source[index].caption for index in range(64)]
    assert first != second
    full = open_source("shapes", "train", num_images=64, cache=False)
    assert sum(len(a) < len(b) for a, b in zip(first, (full[i].caption for i in range(64)))) > 50
    everything_dropped = open_source("shapes", "train", num_images=8, caption_dropout=1.0, cache=False)
    assert {everything_dropped[index].caption for index in range(8)} <= {"a shape", "a shape and a shape"}
    with pytest.raises(ValueError, match="probability"):
        open_source("shapes", caption_dropout=1.5)


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match="train"):
        open_source("shapes", "validation")


def test_caption_blank_keeps_only_the_number_of_objects():
    everything = open_source("shapes", "train", num_images=64, caption_blank=1.0, cache=False)
    for index in range(64):
        count = len(everything.scene(index).objects)
        assert everything[index].caption == " and ".join(["a shape"] * count)
    half = open_source("shapes", "train", num_images=200, caption_blank=0.5, cache=False)
    blank = sum(half[index].caption.startswith("a shape") for index in range(200))
    assert 60 < blank < 140  # about half, drawn per image
    assert [half[index].caption for index in range(20)] == [half[index].caption for index in range(20)]
    with pytest.raises(ValueError, match="caption_blank is a probability"):
        open_source("shapes", caption_blank=-0.1)
