"""Regional conditioning: different captions for different parts of the code map.

A text-conditioned PixelCNN adds a condition bias to every layer at every position (per position
with ``spatial_condition``). A prompt with several objects asks the prior to bind each object's
words to its place, which a small prior trained on a CPU does poorly; a prompt with one object it
draws well. A :class:`vaestudio.common.RegionalCondition` gives each object its own one-object caption and a weight
map over the code map, and the prior's bias becomes the weighted sum of the captions' biases::

    bias[b, l, :, y, x] = sum_r weights[r, y, x] * bias(captions[r])[b, l, :, y, x]

(regional prompting; in spirit the region-wise conditioning of MultiDiffusion, Bar-Tal et al.,
https://arxiv.org/abs/2302.08113, here on an autoregressive prior's biases). The sampler ops take
a position-dependent bias as they are, so nothing below the prior changes. A prior can also be trained
on them (one per map, mixed with plain captions: ``training.layout``,
:mod:`vaestudio.training.regional_captions`), so it learns to draw each region's object whatever the
other regions already hold.
"""

from __future__ import annotations

import torch


def combine_biases(biases: list[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """Per-caption biases, each (B, L, 4C) or (B, L, 4C, h, w), and weights (R, h, w) -> (B, L, 4C, h, w)."""
    height, width = weights.shape[-2:]
    combined = None
    for bias, weight in zip(biases, weights):
        if bias.dim() == 3:
            bias = bias[..., None, None]  # (B, L, 4C, 1, 1): the same at every position
        term = bias * weight.to(bias)  # (B, L, 4C, h, w)
        combined = term if combined is None else combined + term
    return combined.expand(*combined.shape[:3], height, width).contiguous()  # (B, L, 4C, h, w)
