"""PixelCNN prior over the bottom code map of a VQ-VAE-2, conditioned on its top code map (and a class).

Paper: Razavi, van den Oord & Vinyals, "Generating Diverse High-Fidelity Images with VQ-VAE-2",
https://arxiv.org/abs/1906.00446 (section 3.2: the bottom prior is a PixelCNN over the bottom codes
conditioned on the top codes, which are all known when it runs). The network over the bottom codes is
the gated PixelCNN of :mod:`vaestudio.models.pixelcnn` (van den Oord et al. 2016,
https://arxiv.org/abs/1606.05328); the top codes enter it as a per-position condition bias, which the
cached sampler (``ops.pixelcnn_sample``) already takes. With K_t top codes, L layers of C channels and
a top map t times smaller than the bottom one::

    top   = top_embedding[top_codes]                     (B, E, h/t, w/t)
    top   = top_stack(top)                               (B, E, h/t, w/t)  residual 3x3 blocks, not causal:
                                                                           the whole top map is known
    top   = top_upsample(top)                            (B, E, h, w)      stride-2 transposed convolutions
    bias  = top_projection(top)                          (B, L * 4C, h, w) -> (B, L, 4C, h, w)
    bias += class bias                                   (B, L, 4C, 1, 1)  condition == "class" only
    logits = GatedPixelCNN(bottom_codes, bias)           (B, K, h, w)

The bias at a bottom position depends on the top codes only, never on bottom codes, so the prior stays
causal over the bottom map (a test checks it). Its condition is a :class:`TopCondition`.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from vaestudio.common.batch import Batch
from vaestudio.models.base import TrainingOutput, register_model
from vaestudio.models.conditioning import condition_from_data
from vaestudio.models.layers import ResidualStack, UpsampleStack, num_halvings
from vaestudio.models.outputs import Hierarchy
from vaestudio.models.pixelcnn import PixelCNNPrior, PixelCNNPriorConfig


@dataclasses.dataclass
class TopCondition:
    """What the bottom prior is conditioned on: the top code maps (B, h/t, w/t) int64 and, for a
    class-conditional bottom prior, the labels (B,) (else None)."""

    top_codes: torch.Tensor  # (B, h/t, w/t) int64
    labels: torch.Tensor | None = None  # (B,) int64

    def __len__(self) -> int:
        return int(self.top_codes.shape[0])


@dataclasses.dataclass
class PixelCNNBottomPriorConfig(PixelCNNPriorConfig):
    """A gated PixelCNN over bottom codes given the top codes; ``condition`` "none" or "class" (a label too)."""

    top_num_codes: int = 512  # K_t: codes of the top codebook
    top_downsample_factor: int = 2  # t: how much smaller the top map is (the VQ-VAE-2's top_downsample_factor)
    top_channels: int = 32  # E: width of the top-code network
    top_residual_blocks: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.condition not in ("none", "class"):
            raise ValueError(f"a bottom prior is conditioned on the top codes and optionally a class; "
                             f"condition must be 'none' or 'class', got {self.condition!r}")
        if self.spatial_condition:
            raise ValueError("a bottom prior's position-dependent condition is its top codes; "
                             "leave spatial_condition false")
        if min(self.top_num_codes, self.top_channels) < 1 or self.top_residual_blocks < 0:
            raise ValueError("top_num_codes and top_channels must be positive, top_residual_blocks >= 0")
        num_halvings(self.top_downsample_factor)  # raises unless a power of two


@register_model
class PixelCNNBottomPrior(PixelCNNPrior):
    """p(bottom codes | top codes[, class]) of a VQ-VAE-2, with the cached sampler and inpainting of
    :class:`~vaestudio.models.pixelcnn.PixelCNNPrior` (pass a :class:`TopCondition` as the condition)."""

    model_type = "pixelcnn_bottom_prior"
    config_class = PixelCNNBottomPriorConfig

    def __init__(self, config: PixelCNNBottomPriorConfig) -> None:
        super().__init__(config)
        width = config.top_channels
        self.top_embedding = nn.Embedding(config.top_num_codes, width)
        self.top_stack = ResidualStack(width, max(1, width // 2), config.top_residual_blocks)
        halvings = num_halvings(config.top_downsample_factor)
        self.top_upsample = UpsampleStack([width] * halvings, width, "relu") if halvings else nn.Identity()
        self.top_projection = nn.Conv2d(width, config.num_layers * self.network.condition_size, kernel_size=1)

    def top_bias(self, top_codes: torch.Tensor) -> torch.Tensor:
        """Top code maps (B, h/t, w/t) -> per-layer, per-position biases (B, L, 4C, h, w)."""
        if top_codes.dim() != 3:
            raise ValueError(f"top codes are (B, h, w) code maps, got shape {tuple(top_codes.shape)}")
        top = self.top_embedding(top_codes.long()).permute(0, 3, 1, 2)  # (B, E, h/t, w/t)
        features = self.top_upsample(self.top_stack(top))  # (B, E, h, w)
        bias = self.top_projection(features)  # (B, L * 4C, h, w)
        batch, _, height, width = bias.shape
        return bias.view(batch, self.config.num_layers, self.network.condition_size, height, width)

    def condition_bias(self, condition: TopCondition, batch_size: int) -> torch.Tensor:
        """Per-layer, per-position biases (B, L, 4C, h, w) from the top codes (and the labels)."""
        if not isinstance(condition, TopCondition):
            raise TypeError("a bottom prior is conditioned on the top codes: pass TopCondition(top_codes, labels), "
                            "labels only for a class-conditional one")
        if len(condition) != batch_size:
            raise ValueError(f"got {len(condition)} top code maps for {batch_size} bottom code maps")
        labels = condition.labels if self.config.condition == "class" else None
        if labels is None and self.config.condition == "class":
            raise ValueError("this bottom prior is class-conditional: give TopCondition(top_codes, labels)")
        if condition.labels is not None and self.config.condition == "none":
            raise ValueError("this bottom prior is conditioned on the top codes only; give no labels")
        class_bias = super().condition_bias(labels, batch_size)  # (B, L, 4C), zeros when unconditional
        return self.top_bias(condition.top_codes) + class_bias[..., None, None]  # (B, L, 4C, h, w)

    def training_loss(self, batch: Batch) -> TrainingOutput:
        if batch.codes is None or batch.top_codes is None:
            raise ValueError("a bottom prior trains on batch.codes (the bottom maps) and batch.top_codes: "
                             "name a two-level VQ-VAE as the recipe's model.vqvae")
        codes = batch.codes  # (B, h, w)
        labels = condition_from_data(self.config.condition, batch.labels, batch.captions, "this bottom prior")
        logits = self.logits(codes, TopCondition(batch.top_codes, labels))  # (B, K, h, w)
        loss = F.cross_entropy(logits, codes)  # mean nats per code
        nats = float(loss.detach())
        return TrainingOutput(loss=loss, logs={"loss": nats, "nll_nats_per_code": nats,
                                               "bits_per_code": nats / math.log(2.0)})


def is_prior(model: object) -> bool:
    """Whether ``model`` is a PixelCNN prior over VQ codes (plain or bottom)."""
    return isinstance(model, PixelCNNPrior)


def prior_inputs(prior: PixelCNNPrior, codes: torch.Tensor | Hierarchy[torch.Tensor], condition=None):
    """(the code map ``prior`` models, the condition it reads) from a VQ-VAE's codes: a one-level map (B, h, w)
    as it is; over a VQ-VAE-2's ``Hierarchy(top, bottom)`` a plain prior models the top map and a bottom prior
    the bottom map given ``TopCondition(top, condition)``. ``condition``: the labels or captions from the data."""
    bottom = isinstance(prior, PixelCNNBottomPrior)
    if isinstance(codes, Hierarchy):
        return (codes.bottom, TopCondition(codes.top, condition)) if bottom else (codes.top, condition)
    if bottom:
        raise ValueError("a bottom prior models the bottom codes of a two-level VQ-VAE; this VQ-VAE has one level")
    return codes, condition
