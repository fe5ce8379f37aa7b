"""The emoji source (three open styles, CLDR names) on tiny fake package tarballs, and `data get emoji`.
Nothing reaches the network: the tarballs are written by tests/data/fake_emoji_packages.py."""

import os
import zlib

import numpy as np
import pytest

from vaestudio.data import catalogue, emoji, emoji_catalogue, fetching, open_source
from vaestudio.data.cache import CACHE_ENVIRONMENT_VARIABLE
from vaestudio.data.emoji_packages import EMOJI, PACKAGES, STYLE_NAMES
from vaestudio.data.packaged import DatasetChecksumError, DatasetMissingError
from vaestudio.models.text import build_vocabulary
from vaestudio.training.building import source_captions

from .fake_emoji_packages import CLDR, EMOJI_RED, STYLE_GREEN, colour, write_fake_packages

pytest.importorskip("resvg_py", reason="the emoji source rasterises OpenMoji with resvg-py (requirements-dev.txt)")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """A cache of this test's own: the tarballs one test writes never meet another's."""
    monkeypatch.setenv(CACHE_ENVIRONMENT_VARIABLE, str(tmp_path / "cache"))


@pytest.fixture
def fake_emoji(monkeypatch):
    dataset = write_fake_packages(EMOJI.cache_folder())
    monkeypatch.setattr(emoji, "EMOJI", dataset)
    return dataset


def fraction_holding_out(base_key: str) -> float:
    """A holdout fraction that puts the emoji with ``base_key`` and every one of smaller CRC-32 in test."""
    return (zlib.crc32(base_key.encode()) + 1) / 2**32


def test_hexcodes_lose_the_variation_selector_and_gain_upper_case():
    assert emoji_catalogue.normalise_hexcode("2764-fe0f-200d-1f525") == "2764-200D-1F525"
    assert emoji_catalogue.normalise_hexcode("1F44B-1F3FB") == "1F44B-1F3FB"


def test_every_style_of_every_cldr_emoji_is_rendered_with_its_names(fake_emoji):
    source = open_source("emoji", "all")
    pairs = {(record["key"], record["style"]) for record in source.records}
    # 5 emoji in Noto and OpenMoji, 4 in Twemoji (no cat); no component, no OpenMoji extra
    assert len(source) == 14 and ("1F431", "twemoji") not in pairs and ("2764", "twemoji") in pairs
    assert not any(record["key"] in ("1F3FB", "E000") for record in source.records)
    assert source.image_size == 64 and source.num_channels == 3
    assert source.label_names == ["animal-mammal", "face-smiling", "hand-fingers-open", "heart"]
    for index, record in enumerate(source.records):
        red, green, blue = colour(record["key"], record["style"])
        centre = source.images[index][32, 32].astype(int)
        assert abs(centre - [red, green, blue]).max() <= 2, (record, centre)
        assert STYLE_NAMES[source.style_ids[index]] == record["style"]
        assert source.label_names[source.labels[index]] == record["subgroup"]
    skin = source.records[[record["key"] for record in source.records].index("1F44B-1F3FB")]
    assert skin["name"] == "waving hand: light skin tone" and skin["base"] == "1F44B"
    assert skin["keywords"] == ["hand", "wave"] and skin["subgroup"] == "hand-fingers-open"
    example = source[0]
    assert example.image.shape == (3, 64, 64) and example.label == source.labels[0]


def test_captions_name_the_emoji_its_style_and_keywords(fake_emoji):
    source = open_source("emoji", "all", styles=["openmoji"])
    assert {STYLE_NAMES[style] for style in source.style_ids} == {"openmoji"}
    captions = {source.records[index]["key"]: source[index].caption for index in range(len(source))}
    assert captions["1F431"] == "cat face in openmoji style, cat face pet"
    assert emoji.prompt("cat face", "openmoji") == "cat face in openmoji style"


def test_held_out_emoji_are_in_no_style_and_no_skin_tone_of_train(fake_emoji):
    # CRC-32 order of the base keys: 1F600 < 1F431 < 1F44B < 2764
    fraction = fraction_holding_out("1F44B")
    train = open_source("emoji", "train", holdout_fraction=fraction)
    test = open_source("emoji", "test", holdout_fraction=fraction)
    assert {record["key"] for record in train.records} == {"2764"}
    assert {record["key"] for record in test.records} == {"1F600", "1F431", "1F44B", "1F44B-1F3FB"}
    assert len(test) == 11  # 4 emoji in Noto and OpenMoji, 3 in Twemoji (no cat)
    assert len(train) + len(test) == len(open_source("emoji", "all"))
    fewer = open_source("emoji", "test", holdout_fraction=fraction_holding_out("1F600"))
    assert {record["key"] for record in fewer.records} == {"1F600"}


def test_caption_dropout_varies_with_the_epoch_and_blank_gives_empty_captions(fake_emoji):
    source = open_source("emoji", "all", caption_dropout=0.5, caption_blank=0.2)
    seen = set()
    for epoch in range(40):
        source.set_epoch(epoch)
        seen.add(source[0].caption)
    source.set_epoch(3)
    assert source[0].caption == source[0].caption  # the same within an epoch
    assert emoji.BLANK_CAPTION in seen and len(seen) >= 5
    seen.discard(emoji.BLANK_CAPTION)
    full = source.full_caption(0)
    assert all(set(caption.replace(",", " ").split()) <= set(full.replace(",", " ").split()) for caption in seen)


def test_vocabulary_keeps_words_of_two_emoji_and_the_styles(fake_emoji):
    vocabulary = build_vocabulary(source_captions(open_source("emoji", "all")))
    assert {"face", "openmoji", "noto", "twemoji", "style", "in", "an", "emoji"} <= set(vocabulary)  # face: grinning and cat
    # words of one emoji only, however many tones and styles draw it
    assert not {"cat", "grin", "hand", "wave"} & set(vocabulary)


def test_missing_packages_give_the_command_and_damaged_ones_the_file():
    with pytest.raises(DatasetMissingError, match="vaestudio data get emoji"):
        open_source("emoji")
    write_fake_packages(EMOJI.cache_folder())  # other bytes than the published tarballs
    with pytest.raises(DatasetChecksumError, match="openmoji-17.0.0.tgz|emoji-datasource"):
        open_source("emoji")


def test_options_are_checked(fake_emoji):
    with pytest.raises(ValueError, match="no style"):
        open_source("emoji", styles=["apple"])
    with pytest.raises(ValueError, match="caption_dropout"):
        open_source("emoji", caption_dropout=1.5)


def test_data_get_emoji_runs_npm_pack_of_the_pinned_packages_and_checks_them(tmp_path, monkeypatch):
    published = write_fake_packages(str(tmp_path / "published"))
    commands = []

    def fake_run(command, cwd=None):
        commands.append(command)
        for entry in published.files:
            with open(os.path.join(str(tmp_path / "published"), entry.name), "rb") as stream:
                data = stream.read()
            with open(os.path.join(cwd, entry.name), "wb") as stream:
                stream.write(data)

    monkeypatch.setattr(fetching.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.setattr(fetching, "_run", fake_run)
    folder = fetching.get(published)
    assert commands == [["npm", "pack", "--silent", *(f"{package.name}@{package.version}" for package in PACKAGES)]]
    assert folder == EMOJI.cache_folder()
    assert sorted(os.listdir(folder)) == sorted(entry.name for entry in EMOJI.files)
    with pytest.raises(DatasetChecksumError):  # the real pins refuse the fake tarballs
        fetching.get(EMOJI, force=True)


def test_catalogue_lists_emoji_as_packaged_and_emoji_font_as_built_in():
    entries = {entry["name"]: entry for entry in catalogue.list_sources()}
    assert entries["emoji"]["get_command"] == "vaestudio data get emoji" and not entries["emoji"]["installed"]
    assert "CC BY-SA 4.0" in entries["emoji"]["licence"] and "Apple" not in entries["emoji"]["licence"]
    assert "emoji-font" in entries
    assert np.isclose(entries["emoji"]["size_bytes"], sum(package.file.size for package in PACKAGES))


def test_fake_colours_are_distinct():  # the pixel checks above rely on it
    colours = {colour(key, style) for key in EMOJI_RED for style in STYLE_GREEN}
    assert len(colours) == len(EMOJI_RED) * len(STYLE_GREEN) and len(CLDR) == 6


def test_the_editor_samples_emoji_evenly_however_large_the_source(fake_emoji, monkeypatch):
    from vaestudio.pipelines import dataset_sample

    monkeypatch.setattr(dataset_sample, "CONTIGUOUS_ABOVE", 2)  # the source counts as large
    source = open_source("emoji", "all")
    sample = dataset_sample.read_sample(source, 3)
    assert sample.captions == [source.full_caption(index) for index in (0, 6, 13)]  # spread, not the first three
