"""Held-out images of a lesson model's own training data (the source its recipe names), kept per process."""

from __future__ import annotations

import torch

from vaestudio.data.source import collate
from vaestudio.lessons.cache import load_role
from vaestudio.pipelines.dataset_sample import open_model_source

_held_out: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor | None]] = {}


def held_out(role: str, count: int, component: str | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The first ``count`` test images (N, C, H, W) in [0, 1] of the role's model's data (a bundle's
    ``component``'s), and their labels (N,) or None."""
    model = load_role(role)
    if component is not None:
        model = model[component]  # a bundle's component knows its folder (name_or_path), hence its data
    key = (getattr(model, "name_or_path", role), count)
    if key not in _held_out:
        source = open_model_source(model, None, "test", model.config.image_size)
        batch = collate([source[index] for index in range(min(count, len(source)))])
        _held_out[key] = (batch.images, batch.labels)
    return _held_out[key]
