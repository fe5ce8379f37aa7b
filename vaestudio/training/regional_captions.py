"""Training a text prior the way regional conditioning samples it.

At sampling time a layout (:mod:`vaestudio.worlds.registry`) conditions each object's part of the code
map on that object's one-object caption. A prior trained only on whole captions has learnt that a
one-object caption goes with one object on the map: drawing the second object of a regional prompt, it
sees the first already drawn and often draws nothing. ``training.layout`` (with ``layout_probability``)
trains it on that case: each caption the layout can place becomes, with that probability, the
same regional condition the pipeline would build, so the prior learns to draw every region's object
whatever the other regions hold. Captions the layout cannot place (one object, no positions) stay whole.
"""

from __future__ import annotations

import dataclasses

import torch

from vaestudio.common.batch import Batch, RegionalCondition
from vaestudio.worlds import get_layout


class RegionalCaptions:
    """Replaces a batch's placeable captions by one-map regional conditions, each with ``probability``."""

    def __init__(self, layout: str, probability: float, code_map_shape: tuple[int, int],
                 generator: torch.Generator | None = None) -> None:
        if not 0.0 < probability <= 1.0:
            raise ValueError(f"training.layout_probability must lie in (0, 1], got {probability}")
        self.layout = get_layout(layout)
        self.probability = float(probability)
        self.code_map_shape = tuple(code_map_shape)
        self.generator = generator

    def condition(self, caption: str) -> str | RegionalCondition:
        """The caption, or (with ``probability``) its one-map regional condition when the layout places it."""
        if float(torch.rand((), generator=self.generator)) >= self.probability:
            return caption
        regional = self.layout(caption, self.code_map_shape, 1)
        return caption if regional is None else regional

    def apply(self, batch: Batch) -> Batch:
        if batch.captions is None:
            raise ValueError("training.layout needs a data source with captions")
        return dataclasses.replace(batch, captions=[self.condition(caption) for caption in batch.captions])
