"""The batch every data source yields and every model trains on, and the regional condition a caption
may be replaced by (see :mod:`vaestudio.models.regions` for how a prior uses it)."""

from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass
class RegionalCondition:
    """``count`` code maps, each conditioned on ``captions[r]`` with weight ``weights[r]`` (R, h, w);
    at every position the weights are non-negative and sum to 1."""

    captions: list[str]
    weights: torch.Tensor  # (R, h, w)
    count: int

    def __post_init__(self) -> None:
        if not self.captions or len(self.captions) != self.weights.shape[0] or self.weights.dim() != 3:
            raise ValueError(f"a regional condition needs one (h, w) weight map per caption; got "
                             f"{len(self.captions)} captions and weights of shape {tuple(self.weights.shape)}")
        if self.count < 0:
            raise ValueError(f"count must be non-negative, got {self.count}")
        total = self.weights.sum(dim=0)  # (h, w)
        if bool((self.weights < 0).any()) or not torch.allclose(total, torch.ones_like(total), atol=1e-5):
            raise ValueError("regional weights must be non-negative and sum to 1 at every position")

    def __len__(self) -> int:
        return self.count


@dataclasses.dataclass
class Batch:
    """One batch from any data source.

    images: (B, C, H, W) float in [0, 1]; labels: (B,) int64 or None; captions: B entries or None, each a
    caption string or (when a prior trains on regional conditions) a one-map RegionalCondition;
    codes: (B, h, w) int64 code maps of a VQ model, filled in by the trainer for prior training (for a
    VQ-VAE-2: the map the prior models, top or bottom); top_codes: (B, h/t, w/t) int64, the top maps of a
    VQ-VAE-2, which a bottom prior is conditioned on.
    """

    images: torch.Tensor
    labels: torch.Tensor | None = None
    captions: list[str | RegionalCondition] | None = None
    codes: torch.Tensor | None = None
    top_codes: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        labels = self.labels.to(device) if self.labels is not None else None
        codes = self.codes.to(device) if self.codes is not None else None
        top_codes = self.top_codes.to(device) if self.top_codes is not None else None
        return Batch(self.images.to(device, non_blocking=True), labels, self.captions, codes, top_codes)
