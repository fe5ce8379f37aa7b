"""A few real examples of a packaged data set, shipped in the package, for the editor when the data set is absent.

``vaestudio/data/samples/NAME-images-idx3-ubyte.gz`` (and the matching ``-labels-idx1-ubyte.gz``) hold the first
images of each class of NAME's test split, written by ``scripts/ship_data_samples.py``: 10 per digit of
MNIST (100 digits, 16 kB); one per style of each CLDR subgroup of emoji (213 colour images of held-out emoji,
470 kB, with ``NAME-label-names.txt`` naming the subgroups, since emoji's label names come from its data files,
and ``NAME-captions.txt`` holding each image's complete caption, for the keyword attribute vectors). A model trained on NAME can then be edited
(sliders, attribute vectors, its latent scatter, its codebook usage) without ``vaestudio data get NAME``;
training and evaluation never read these. Licences of the shipped images: ``samples/LICENCES.md``.
"""

from __future__ import annotations

import dataclasses
import os

from vaestudio.data.idx import IdxSource
from vaestudio.data.source import Example

SAMPLES_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples")
PER_CLASS = {"mnist": 10, "emoji": 3}  # images per class of each data set that ships samples


def samples_path(name: str) -> str:
    """Where the shipped images of the data set ``name`` are (or would be)."""
    return os.path.join(SAMPLES_FOLDER, f"{name}-images-idx3-ubyte.gz")


def label_names_path(name: str) -> str:
    """The file naming the classes of NAME's shipped samples, one per line, when its labels are not digits."""
    return os.path.join(SAMPLES_FOLDER, f"{name}-label-names.txt")


def captions_path(name: str) -> str:
    """The file holding the caption of each of NAME's shipped images, one per line, when its images have some."""
    return os.path.join(SAMPLES_FOLDER, f"{name}-captions.txt")


def _lines(path: str) -> list[str] | None:
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as stream:
        return [line.rstrip("\n") for line in stream if line.strip()]


class ShippedSamples(IdxSource):
    """The shipped images of a data set (every split is all of them), with their captions where some ship."""

    def __init__(self, name: str, image_size: int | None = None) -> None:
        super().__init__(samples_path(name), split="all", image_size=image_size)
        self.spec = f"{name} ({len(self)} shipped samples)"
        self.captions = _lines(captions_path(name))
        if self.captions is not None and len(self.captions) != len(self):
            raise ValueError(f"{captions_path(name)} has {len(self.captions)} captions for {len(self)} images; "
                             f"write the samples again with scripts/ship_data_samples.py {name}")
        self.has_captions = self.captions is not None

    def all_captions(self) -> list[str]:
        """Every caption (for typed keywords, ``pipelines.keyword_vectors``); [] when none ship."""
        return list(self.captions or [])

    def read(self, index: int) -> Example:
        example = super().read(index)
        if self.captions is None:
            return example
        return dataclasses.replace(example, caption=self.captions[index])


def has_shipped_samples(name: str) -> bool:
    return os.path.isfile(samples_path(name))


def shipped_label_names(name: str) -> list[str] | None:
    """The class names written beside NAME's samples, or None when there is no such file."""
    return _lines(label_names_path(name))


def open_shipped_samples(name: str, label_names: list[str] | None = None,
                         image_size: int | None = None) -> ShippedSamples:
    """The shipped examples of ``name`` as a source (every split is all of them); FileNotFoundError when none."""
    path = samples_path(name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no shipped samples of {name!r} (looked for {path})")
    source = ShippedSamples(name, image_size)
    names = shipped_label_names(name) or label_names
    if names:
        source.label_names = list(names)
    return source
