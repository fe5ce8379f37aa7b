"""A few real examples of a packaged data set, shipped in the package, for the editor when the data set is absent.

``vaestudio/data/samples/NAME-images-idx3-ubyte.gz`` (and the matching ``-labels-idx1-ubyte.gz``) hold the first
10 images of each class of NAME's test split (100 MNIST digits, about 30 kB), written by
``scripts/ship_data_samples.py``. A model trained on NAME can then be edited (sliders, attribute vectors, its
latent scatter) without ``vaestudio data get NAME``; training and evaluation never read these.
"""

from __future__ import annotations

import os

from vaestudio.data.idx import IdxSource

SAMPLES_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples")
PER_CLASS = 10


def samples_path(name: str) -> str:
    """Where the shipped images of the data set ``name`` are (or would be)."""
    return os.path.join(SAMPLES_FOLDER, f"{name}-images-idx3-ubyte.gz")


def has_shipped_samples(name: str) -> bool:
    return os.path.isfile(samples_path(name))


def open_shipped_samples(name: str, label_names: list[str] | None = None,
                         image_size: int | None = None) -> IdxSource:
    """The shipped examples of ``name`` as a source (every split is all of them); FileNotFoundError when none."""
    path = samples_path(name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no shipped samples of {name!r} (looked for {path})")
    source = IdxSource(path, split="all", image_size=image_size)
    source.spec = f"{name} ({len(source)} shipped samples)"
    if label_names is not None:
        source.label_names = list(label_names)
    return source
