"""A general image VQ-VAE for photos and drawings of any size: fully convolutional, one code map at 1/4 scale.

Razavi, van den Oord & Vinyals, "Generating Diverse High-Fidelity Images with VQ-VAE-2",
https://arxiv.org/abs/1906.00446 — the bottom level of its hierarchy: a map of K = 512 codes at a quarter
of the image's resolution, EMA codebook, convolutions only, so one trained on small random crops encodes
an image of any size (van den Oord et al., https://arxiv.org/abs/1711.00937, for the VQ-VAE itself).

It is a :class:`~vaestudio.models.vqvae.VQVAE` with two differences:

- a light encoder (:class:`PatchEncoder`: one 8 x 8 convolution of stride 4 over overlapping patches,
  1 x 1 residual blocks, a 3 x 3 convolution to the code vectors) and the usual, heavier decoder
  (``hidden_channels``): encoding a 1024 x 1024 upload must be fast on two CPU cores (about 21 k
  multiply-adds per code, plus K x D = 8 k for the nearest code), while the reconstruction quality lives
  mostly in the decoder;
- any size: ``image_size`` is only the training crop. ``encode_any`` pads an image whose sides are not
  multiples of the downsampling factor (edge replication, right and bottom) and remembers its size;
  ``decode_any`` crops the decoded image back to it. ``reconstruct_any`` does both.

Shapes, with f = downsample_factor (4)::

    image     (B, 3, H, W)                   any H, W >= 1
    padded    (B, 3, H', W')                 H' = ceil(H / f) * f
    codes     (B, H' / f, W' / f)            int64 in [0, K)
    decoded   (B, 3, H', W') -> cropped (B, 3, H, W)
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from vaestudio.models.base import register_model
from vaestudio.models.vqvae import VQVAE, VQVAEConfig


@dataclasses.dataclass
class PhotoVQVAEConfig(VQVAEConfig):
    image_size: int = 64  # the training crop's side; at use, any size (padded to a multiple of 4)
    hidden_channels: int = 64  # the decoder's width
    residual_channels: int = 32  # inside the decoder's residual blocks
    encoder_channels: int = 48  # the encoder's width (light: encoding speed on a CPU)
    encoder_residual_channels: int = 24
    num_codes: int = 512
    code_dim: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.levels != 1:
            raise ValueError("a photo_vqvae has one code map (levels = 1); use model type vqvae for VQ-VAE-2")
        if self.encoder_channels < 1 or self.encoder_residual_channels < 1:
            raise ValueError("encoder_channels and encoder_residual_channels must be positive")


class PatchEncoder(nn.Module):
    """(B, C, H, W) -> (B, D, H / f, W / f): a stride-f convolution over overlapping 2f x 2f patches, 1 x 1
    residual blocks (ReLU, 1x1, ReLU, 1x1), ReLU, a 3 x 3 convolution to the code vectors."""

    def __init__(self, in_channels: int, channels: int, residual_channels: int, num_blocks: int,
                 out_channels: int, factor: int) -> None:
        super().__init__()
        self.patches = nn.Conv2d(in_channels, channels, kernel_size=2 * factor, stride=factor, padding=factor // 2)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Conv2d(channels, residual_channels, 1), nn.ReLU(),
                          nn.Conv2d(residual_channels, channels, 1))
            for _ in range(num_blocks)
        )
        self.project = nn.Conv2d(channels, out_channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.patches(x)  # (B, channels, H / f, W / f)
        for block in self.blocks:
            hidden = hidden + block(hidden)  # (B, channels, H / f, W / f)
        return self.project(torch.relu(hidden))  # (B, D, H / f, W / f)


@dataclasses.dataclass
class PaddedCodes:
    """The codes of an image of any size and the size to crop its decode back to."""

    codes: torch.Tensor  # (B, h, w) int64, h = ceil(H / f)
    height: int  # H, the image's own height in pixels
    width: int  # W


@register_model
class PhotoVQVAE(VQVAE):
    model_type = "photo_vqvae"
    config_class = PhotoVQVAEConfig

    def __init__(self, config: PhotoVQVAEConfig) -> None:
        super().__init__(config)
        self.encoder = PatchEncoder(  # replaces VQVAE's symmetric encoder with the light one
            config.image_channels,
            config.encoder_channels,
            config.encoder_residual_channels,
            config.num_residual_blocks,
            config.code_dim,
            config.downsample_factor,
        )

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """The smallest multiples of the downsampling factor at least (height, width)."""
        factor = self.config.downsample_factor
        return -(-height // factor) * factor, -(-width // factor) * factor

    def code_map_size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) of the code map of an image of (height, width) pixels."""
        padded_height, padded_width = self.padded_size(height, width)
        factor = self.config.downsample_factor
        return padded_height // factor, padded_width // factor

    def pad(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H', W'), the right and bottom edges replicated up to multiples of the factor."""
        height, width = images.shape[-2:]
        padded_height, padded_width = self.padded_size(height, width)
        if (padded_height, padded_width) == (height, width):
            return images
        return F.pad(images, (0, padded_width - width, 0, padded_height - height), mode="replicate")

    @torch.no_grad()
    def encode_any(self, images: torch.Tensor) -> PaddedCodes:
        """images (B, C, H, W) in [0, 1], any H and W -> their code maps and size."""
        height, width = images.shape[-2:]
        return PaddedCodes(self.encode_codes(self.pad(images)), int(height), int(width))

    @torch.no_grad()
    def decode_any(self, encoded: PaddedCodes) -> torch.Tensor:
        """The decode of ``encode_any``'s codes (possibly edited), cropped to the image's size: (B, C, H, W)."""
        return self.decode_codes(encoded.codes)[..., : encoded.height, : encoded.width]

    @torch.no_grad()
    def reconstruct_any(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W), any size -> reconstructions (B, C, H, W) in [0, 1]."""
        return self.decode_any(self.encode_any(images))
