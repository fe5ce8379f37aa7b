"""A typed keyword's attribute vector: the mean latent of the training images whose caption has it minus the mean
of the data sample's images without it, found among every caption a source lists, with a clear error otherwise."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch

from tests.pipelines.conftest import TINY_SIZE
from vaestudio.pipelines.attributes import caption_words
from vaestudio.pipelines.editing import Editor
from vaestudio.pipelines.keyword_vectors import KEYWORD_IMAGES, keyword_of
from vaestudio.worlds.shapes.source import ShapesSource


class ListedShapes(ShapesSource):
    """A shapes source that lists all its captions, as the emoji source does."""

    def all_captions(self) -> list[str]:
        return [self[index].caption for index in range(len(self))]


@pytest.fixture(scope="module")
def listed_source() -> ListedShapes:
    return ListedShapes("train", image_size=TINY_SIZE, num_images=48, cache=False)


def _rare_word(captions: list[str], sample_captions: list[str]) -> str:
    """A word at least 3 captions of the source have, the rarest in the small sample."""
    counts = collections.Counter(word for caption in captions for word in caption_words(caption))
    in_sample = collections.Counter(word for caption in sample_captions for word in caption_words(caption))
    candidates = [word for word, count in counts.items() if 3 <= count < len(captions) - 3]
    return min(candidates, key=lambda word: (in_sample[word], -counts[word], word))


def test_a_keyword_rare_in_the_sample_is_found_in_every_caption_of_the_source(tiny_bundle, listed_source):
    editor = Editor(tiny_bundle, source=listed_source, sample_size=8)
    sample = editor.dataset_sample()
    captions = listed_source.all_captions()
    word = _rare_word(captions, sample.captions)
    having = [index for index, caption in enumerate(captions) if word in caption_words(caption)]
    assert word not in editor.attribute_names()  # too rare in 8 images to be offered ready-made
    images = torch.stack([listed_source[index].image for index in having[:KEYWORD_IMAGES]])  # (K, C, S, S)
    with torch.no_grad():
        mean_having = editor.space.flatten(editor.space.encode(images, None)).mean(0)  # (F,)
    lacking = torch.tensor([word not in caption_words(caption) for caption in sample.captions])
    expected = mean_having - editor.sample_latents()[lacking].mean(0)
    vector = editor.keyword_vector(word.upper())  # typed in capitals: the same word
    assert torch.allclose(vector, expected, atol=1e-5)
    from PIL import Image

    pixels = (listed_source[0].image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)  # (S, S, 3)
    encoding = editor.encode(Image.fromarray(pixels))
    moved = editor.edited_latents(encoding, None, {word: 1.5})
    assert torch.allclose(moved, encoding.latents + 1.5 * expected, atol=1e-5)


def test_a_keyword_no_caption_has_names_keywords_that_exist(tiny_bundle, listed_source):
    editor = Editor(tiny_bundle, source=listed_source, sample_size=8)
    with pytest.raises(ValueError, match=r"0 of its training images have 'zeppelin'.*try a keyword such as") as error:
        editor.keyword_vector("zeppelin")
    suggested = str(error.value).split("such as ")[1].split(", ")
    assert suggested and all(any(word in caption_words(caption) for caption in listed_source.all_captions())
                             for word in suggested)


def test_a_model_whose_data_have_no_captions_says_it_has_no_keywords(tiny_vae_2d, tmp_path):
    from vaestudio.data.idx import IdxSource, write_idx

    path = str(tmp_path / "x-images-idx3-ubyte")
    write_idx(path, np.random.default_rng(0).integers(0, 255, (20, 8, 8), np.uint8))  # (N, H, W), no captions
    editor = Editor(tiny_vae_2d, source=IdxSource(path, split="all", image_size=TINY_SIZE), sample_size=20)
    with pytest.raises(ValueError, match="has no captions, so it has no keyword vectors"):
        editor.keyword_vector("cat")


@pytest.mark.parametrize("typed, word", [("Smiling", "smiling"), ("  cat ", "cat")])
def test_a_typed_keyword_is_one_word_of_the_captions(typed, word):
    assert keyword_of(typed) == word


@pytest.mark.parametrize("typed", ["", "two words", "the"])
def test_anything_but_one_keyword_is_refused(typed):
    with pytest.raises(ValueError, match="type one keyword"):
        keyword_of(typed)
