"""The emoji classifier and the text-to-emoji faithfulness measure, on the tiny fake emoji packages
(tests/data/fake_emoji_packages.py: flat squares whose colour says the emoji and the style)."""

import math
import types
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from tests.data.fake_emoji_packages import write_fake_packages
from vaestudio.data import emoji, open_source
from vaestudio.data.cache import CACHE_ENVIRONMENT_VARIABLE
from vaestudio.data.emoji_packages import EMOJI, STYLE_NAMES
from vaestudio.evaluation.emoji_classifier import (
    load_emoji_classifier,
    source_tensors,
    train_emoji_classifier,
)
from vaestudio.evaluation.emoji_faithfulness import emoji_faithfulness, held_out_bits, held_out_cases

pytest.importorskip("resvg_py", reason="the emoji source rasterises OpenMoji with resvg-py (requirements-dev.txt)")

# hold out grinning face (the smallest CRC-32 of the fake base keys) and cat face: every style of both
HOLD_OUT = {"holdout_fraction": (zlib.crc32(b"1F431") + 1) / 2**32}


@pytest.fixture
def fake_emoji(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENVIRONMENT_VARIABLE, str(tmp_path / "cache"))
    monkeypatch.setattr(emoji, "EMOJI", write_fake_packages(EMOJI.cache_folder()))


@pytest.fixture
def classifier(fake_emoji, one_thread):
    return train_emoji_classifier(epochs=80, batch_size=3, learning_rate=2e-2, max_shift=2,
                                  source_options=HOLD_OUT, channels=(8, 16, 16, 16))


def test_the_classifier_learns_train_emoji_and_reports_its_held_out_accuracy(classifier, tmp_path):
    assert classifier.settings.subgroup_names == ["animal-mammal", "face-smiling", "hand-fingers-open", "heart"]
    assert classifier.settings.style_names == list(STYLE_NAMES)
    # train: waving hand (two tones) and red heart in three styles; always saying "hand" would score 6 / 9
    assert classifier.accuracy["train"]["style"] == 1.0 and classifier.accuracy["train"]["subgroup"] > 6 / 9
    assert classifier.accuracy["images"] == 5  # grinning and cat face: 3 + 2 styles
    assert 0.0 <= classifier.accuracy["subgroup"] <= 1.0
    classifier.save(str(tmp_path / "judge"))
    loaded = load_emoji_classifier(str(tmp_path / "judge"))
    images = source_tensors(open_source("emoji", "all"))[0]
    assert all(torch.equal(first, second) for first, second in zip(loaded.read(images), classifier.read(images)))
    assert loaded.accuracy == classifier.accuracy


def test_a_missing_classifier_says_how_to_train_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m vaestudio.evaluation.emoji_classifier"):
        load_emoji_classifier(str(tmp_path / "nothing"))


def test_held_out_cases_are_one_per_style_of_each_emoji_without_skin_tone(fake_emoji):
    source = open_source("emoji", "test", holdout_fraction=(zlib.crc32(b"1F44B") + 1) / 2**32)
    cases = held_out_cases(source)
    prompts = sorted(case.prompt for case in cases)
    assert "waving hand in twemoji style" in prompts and "cat face in openmoji style" in prompts
    assert not any("skin tone" in text for text in prompts)
    assert len(cases) == 3 + 2 + 3  # grinning face and waving hand in three styles, cat face in two
    # every other emoji in key order (1F431, 1F44B, 1F600): cat face in two styles, grinning face in three
    assert len(held_out_cases(source, stride=2)) == 2 + 3
    assert len(held_out_cases(source, stride=2, start=1)) == 3  # waving hand alone
    with_keywords = held_out_cases(source, keywords=True)
    assert any(case.prompt == "cat face in openmoji style, cat face pet" for case in with_keywords)
    for case in cases:
        assert STYLE_NAMES[case.style] == source.records[case.index]["style"]


class ReplayPipeline:
    """A stand-in text-to-image pipeline that draws the real image of the prompt, in another style or not."""

    def __init__(self, source, style_shift: int = 0) -> None:
        self.source, self.style_shift = source, style_shift
        self.guidance_scale, self.temperature = 1.0, 1.0
        self.vqvae = lambda images: types.SimpleNamespace(reconstruction=images)  # a perfect autoencoder

    def __call__(self, text, **options):
        name, style = text.split(" in ")[0], text.split(" in ")[1].split(" style")[0]
        style = STYLE_NAMES[(STYLE_NAMES.index(style) + self.style_shift) % len(STYLE_NAMES)]
        matches = [index for index, record in enumerate(self.source.records)
                   if record["name"] == name and record["style"] == style] or \
                  [index for index, record in enumerate(self.source.records) if record["name"] == name]
        return [types.SimpleNamespace(image=Image.fromarray(np.asarray(self.source.images[matches[0]])))]


def test_faithfulness_compares_generated_with_real_readings(classifier):
    test = open_source("emoji", "test", **HOLD_OUT)
    faithful = emoji_faithfulness(ReplayPipeline(test), classifier, stride=1, source_options=HOLD_OUT, bits=False)
    assert faithful["generated"]["subgroup"] == faithful["real"]["subgroup"]
    assert faithful["generated"]["style"] == faithful["real"]["style"] == faithful["reconstructed"]["style"]
    assert faithful["settings"]["prompts"] == 5 and faithful["settings"]["held_out_emoji"] == 2
    wrong_style = emoji_faithfulness(ReplayPipeline(test, style_shift=1), classifier, stride=1,
                                     source_options=HOLD_OUT, bits=False)
    assert wrong_style["generated"]["style"] < faithful["generated"]["style"]


class CaptionPrior:
    """A stand-in prior: 2 bits per code under the blank caption, 1 bit under any other caption."""

    config = types.SimpleNamespace(num_codes=512)

    def log_prob(self, codes, captions):
        bits = torch.tensor([2.0 if caption == emoji.BLANK_CAPTION else 1.0 for caption in captions])  # (B,)
        return -bits * codes[0].numel() * math.log(2)  # (B,) nats over the map


def test_held_out_bits_per_code_under_each_reading(fake_emoji):
    test = open_source("emoji", "test", **HOLD_OUT)
    pipeline = types.SimpleNamespace(
        vqvae=types.SimpleNamespace(encode_codes=lambda images: torch.zeros(len(images), 8, 8, dtype=torch.long)),
        prior=CaptionPrior())
    bits = held_out_bits(pipeline, test)
    assert bits == {"full_caption": 1.0, "name_and_style": 1.0, "blank_caption": 2.0, "uniform": 9.0, "images": 5}
