"""A fixed sample of a model's training data, for slider directions, attribute vectors and scatters.

The source is the one the model's recipe names (``recipe.toml`` beside its weights, see
``vaestudio.hub.training_data``) unless the caller gives one; attribute dropout options
(``caption_dropout``) are left out so that captions are complete. When that training data is a packaged
data set that is not installed (``vaestudio data get mnist`` not run), the examples shipped in the package
stand in for it (:mod:`vaestudio.data.shipped_samples`, 100 MNIST test digits) where there are some.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from vaestudio.data import open_source
from vaestudio.data.catalogue import label_names
from vaestudio.data.packaged import DatasetMissingError
from vaestudio.data.shipped_samples import has_shipped_samples, open_shipped_samples
from vaestudio.data.source import ImageSource, collate
from vaestudio.hub import training_data

TRAINING_ONLY_OPTIONS = ("caption_dropout", "caption_blank")
CONTIGUOUS_ABOVE = 5000  # larger sources are read from their start (cheap for chunk-cached renders)


@dataclasses.dataclass
class DatasetSample:
    images: torch.Tensor  # (N, C, H, W) in [0, 1]
    labels: torch.Tensor | None  # (N,) int64
    captions: list[str] | None
    label_names: list[str] | None
    description: str  # e.g. "512 images of shapes (train)"

    def label_texts(self) -> list[str] | None:
        if self.labels is None:
            return None
        names = self.label_names
        return [names[int(label)] if names else str(int(label)) for label in self.labels]


def open_model_source(
    model, spec: str | ImageSource | None, split: str, image_size: int
) -> ImageSource:
    """``spec`` (a source or a spec string) or the source the model was trained on, at its image size (or, when
    that is a packaged data set not installed here, its shipped samples: module docstring)."""
    if isinstance(spec, ImageSource):
        return spec
    options: dict = {}
    own_data = spec is None
    if own_data:
        data = training_data(model)
        if data is None:
            raise ValueError(
                "this model's training data is unknown (no recipe.toml beside its weights); "
                "pass a data source, e.g. source='shapes'"
            )
        spec = data["source"]
        options = {key: value for key, value in dict(data.get("options", {})).items()
                   if key not in TRAINING_ONLY_OPTIONS}
    try:
        return open_source(spec, split=split, image_size=image_size, **options)
    except DatasetMissingError:
        if not own_data or not has_shipped_samples(spec):
            raise
        return open_shipped_samples(spec, label_names(spec), image_size)


def read_sample(source: ImageSource, size: int) -> DatasetSample:
    """``size`` examples: evenly spaced over small sources and over those held whole in one array
    (``source.in_memory``, e.g. emoji, sorted by code point), the first ones of other large sources."""
    count = min(int(size), len(source))
    if count < 1:
        raise ValueError(f"the data source {source!r} is empty")
    if len(source) <= CONTIGUOUS_ABOVE or getattr(source, "in_memory", False):
        indices = np.linspace(0, len(source) - 1, count).round().astype(int)
    else:
        indices = np.arange(count)
    batch = collate([source[int(index)] for index in indices])
    return DatasetSample(
        images=batch.images,
        labels=batch.labels,
        captions=batch.captions,
        label_names=list(source.label_names) if getattr(source, "label_names", None) else None,
        description=f"{count} images of {getattr(source, 'spec', 'data')} ({getattr(source, 'split', '?')})",
    )
