"""What `vaestudio data show` and the studio show of a source: counts per label and a few images of each.

Works for every source: labelled ones are counted from their label array when they keep one
(``source.labels``: idx, mnist, fashion-mnist, digits), else by reading each example.
"""

from __future__ import annotations

import numpy as np
import torch

from vaestudio.data.source import ImageSource


def labels_of(source: ImageSource) -> np.ndarray | None:
    """(N,) int64 labels of the whole split, or None when the source has none."""
    if source.label_names is None:
        return None
    stored = getattr(source, "labels", None)
    if stored is not None and len(stored) == len(source):
        return np.asarray(stored, dtype=np.int64)
    return np.asarray([source.read(index).label for index in range(len(source))], dtype=np.int64)


def label_counts(source: ImageSource) -> dict[str, int] | None:
    """{label name: number of images} in label order, or None when the source has no labels."""
    labels = labels_of(source)
    if labels is None:
        return None
    counts = np.bincount(labels, minlength=len(source.label_names))
    return {name: int(count) for name, count in zip(source.label_names, counts, strict=False)}


def examples_by_label(source: ImageSource, per_label: int) -> torch.Tensor:
    """The first ``per_label`` images of each label, label after label: (L * per_label, C, H, W).

    A label with fewer images leaves blank (white) tiles; a source without labels gives its first
    ``per_label * 8`` images.
    """
    labels = labels_of(source)
    if labels is None:
        count = min(len(source), per_label * 8)
        return torch.stack([source[index].image for index in range(count)])  # (count, C, H, W)
    blank = torch.ones(source.num_channels, source.image_size, source.image_size)  # (C, H, W)
    tiles = []
    for label in range(len(source.label_names)):
        indices = np.flatnonzero(labels == label)[:per_label]
        tiles += [source[int(index)].image for index in indices] + [blank] * (per_label - len(indices))
    return torch.stack(tiles)  # (L * per_label, C, H, W)
