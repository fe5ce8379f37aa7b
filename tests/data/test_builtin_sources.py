"""The digits and emoji-font sources (the emoji source: test_emoji_source.py)."""

import glob
import unicodedata

import numpy as np
import pytest
import torch
from PIL import ImageFont

from vaestudio.data import open_source
from vaestudio.data.emoji_font import (
    FONT_ENVIRONMENT_VARIABLE,
    FONT_PACKAGE,
    FONT_SIZE,
    EmojiFontMissingError,
    find_font,
    render_emoji,
)


def test_digits_native_grey_levels_labels_and_captions():
    train, test = open_source("digits", "train"), open_source("digits", "test")
    assert (len(train), len(test), len(open_source("digits", "all"))) == (1437, 360, 1797)
    example = train[0]
    assert example.image.shape == (1, 8, 8) and train.num_channels == 1 and train.image_size == 8
    assert torch.equal(example.image * 16, (example.image * 16).round())  # the 17 native grey levels
    assert train.levels.max() == 1.0 and train.levels.min() == 0.0
    assert example.label == 0 and example.caption == "a handwritten digit 0"
    assert train.label_names == [str(digit) for digit in range(10)]
    assert {test[index].label for index in range(len(test))} == set(range(10))


def test_digits_are_upsampled_on_request():
    example = open_source("digits", image_size=32)[3]
    assert example.image.shape == (1, 32, 32)
    assert 0.0 <= example.image.min() and example.image.max() <= 1.0


@pytest.fixture(scope="module")
def emoji_font():
    try:
        return find_font()
    except EmojiFontMissingError as error:
        pytest.fail(f"{error} (`make test` installs {FONT_PACKAGE}; the emoji source is part of the project)")


def test_emoji_render_on_white_with_unicode_names(emoji_font):
    train, test = open_source("emoji-font", "train"), open_source("emoji-font", "test")
    assert len(train) + len(test) > 1000 and len(test) == (len(train) + len(test)) // 10
    assert (
        train.image_size == 32
        and train.num_channels == 3
        and train.has_captions
        and train.label_names is None
    )
    names = [train[index].caption for index in range(len(train))]
    assert "grinning face" in names
    grinning = train[names.index("grinning face")]
    assert grinning.image.shape == (3, 32, 32)
    assert torch.allclose(grinning.image[:, 0, 0], torch.ones(3))  # white background in the corner
    centre = grinning.image[:, 16, 16]
    assert centre[0] > 0.8 and centre[2] < 0.5  # a yellow face: much red, little blue
    assert all(name == unicodedata.name(chr(point)).lower() for name, point in zip(names, train.code_points))
    assert set(train.code_points.tolist()).isdisjoint(test.code_points.tolist())


def test_emoji_at_another_size(emoji_font):
    font = ImageFont.truetype(emoji_font, FONT_SIZE)
    pixels = render_emoji(font, 0x1F600, 16)  # what EmojiFontSource(image_size=16) caches
    assert pixels.shape == (16, 16, 3) and pixels.dtype == np.uint8
    assert (pixels[0, 0] == 255).all() and pixels[8, 8, 0] > 200


def test_missing_emoji_font_names_the_package_path_and_variable(monkeypatch, tmp_path):
    missing = str(tmp_path / "nowhere" / "NotoColorEmoji.ttf")
    monkeypatch.setenv(FONT_ENVIRONMENT_VARIABLE, missing)
    with pytest.raises(EmojiFontMissingError) as caught:
        open_source("emoji-font")
    message = str(caught.value)
    assert FONT_PACKAGE in message and missing in message and FONT_ENVIRONMENT_VARIABLE in message


def test_emoji_cache_is_plain_npy(emoji_font, temporary_cache):
    open_source("emoji-font", "test")
    files = glob.glob(f"{temporary_cache}/emoji-font/*/*.npy")
    assert files
    for path in files:
        assert isinstance(np.load(path, allow_pickle=False), np.ndarray)
