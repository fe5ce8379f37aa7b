"""Attribute vectors for any typed keyword ("smiling", "cat", "openmoji"): the mean latent of training images whose
caption has the word, minus the mean latent of the data sample's images without it.

The editor's ready-made attributes (:mod:`attributes`) are the words common in its data sample of 512 images; a
rarer keyword is looked up in every caption of the training data where the source lists them
(``all_captions()``: emoji's 10,101 captions, of which 63 say "smiling") and in the sample's captions otherwise.
Up to ``KEYWORD_IMAGES`` of the images that have it are read and encoded (White, "Sampling Generative Networks",
https://arxiv.org/abs/1609.04468, for latent attribute vectors).
"""

from __future__ import annotations

import collections

import numpy as np

from vaestudio.data.source import Example, ImageSource, collate
from vaestudio.pipelines.attributes import caption_words
from vaestudio.pipelines.dataset_sample import DatasetSample

KEYWORD_IMAGES = 64  # a keyword's mean latent is taken over at most this many images that have it
MIN_KEYWORD_IMAGES = 3  # fewer images than this with the keyword: no vector
SUGGESTIONS = 12  # keywords named when one is not found


def keyword_of(text: str) -> str:
    """The one word a typed keyword stands for, as captions are split; ValueError for none or several."""
    words = sorted(caption_words(text))
    if len(words) != 1:
        raise ValueError(f"type one keyword (a word of the captions, e.g. 'smiling'), not {text!r}")
    return words[0]


def source_captions(source: ImageSource, sample: DatasetSample) -> tuple[list[str], bool]:
    """(captions, from the whole source): every caption of the source where it lists them, else the sample's."""
    listed = getattr(source, "all_captions", None)
    captions = list(listed()) if callable(listed) else []
    if captions:
        return captions, True
    return list(sample.captions or []), False


def keyword_images(source: ImageSource, sample: DatasetSample, keyword: str):
    """A collated batch (images (K, C, H, W), labels, captions) of up to KEYWORD_IMAGES images whose caption has
    ``keyword`` (:func:`keyword_of`), evenly spread over them; ValueError with suggestions when too few have it."""
    captions, whole_source = source_captions(source, sample)
    if not captions:
        raise ValueError("this model's training data has no captions, so it has no keyword vectors; "
                         "use the attribute sliders it offers")
    words = [caption_words(caption) for caption in captions]
    having = np.flatnonzero([keyword in group for group in words])  # (M,)
    if len(having) < MIN_KEYWORD_IMAGES:
        counts = collections.Counter(word for group in words for word in group)
        common = ", ".join(word for word, _ in counts.most_common(SUGGESTIONS))
        where = "its training images" if whole_source else f"the {len(captions)} images of its data sample"
        raise ValueError(f"{len(having)} of {where} have {keyword!r} in their caption (it needs "
                         f"{MIN_KEYWORD_IMAGES}); try a keyword such as {common}")
    chosen = having[np.linspace(0, len(having) - 1, min(KEYWORD_IMAGES, len(having))).round().astype(int)]
    if whole_source:
        return collate([source[int(index)] for index in chosen])
    return collate([_sample_example(sample, int(index)) for index in chosen])


def _sample_example(sample: DatasetSample, index: int):
    label = None if sample.labels is None else int(sample.labels[index])
    return Example(image=sample.images[index], label=label, caption=sample.captions[index])


def without_keyword(sample: DatasetSample, keyword: str) -> np.ndarray:
    """(N,) bool: the sample's images whose caption lacks ``keyword`` (all of them when it has no captions)."""
    if not sample.captions:
        return np.ones(sample.images.shape[0], dtype=bool)
    return np.array([keyword not in caption_words(caption or "") for caption in sample.captions])
