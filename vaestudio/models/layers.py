"""Building blocks shared by the models of the family: MLPs, residual stacks, conv encoder/decoder stacks.

The conv encoder/decoder follow the VQ-VAE paper (van den Oord et al., https://arxiv.org/abs/1711.00937):
stride-2 4x4 convolutions, a 3x3 convolution, residual blocks (ReLU, 3x3, ReLU, 1x1), and the mirror
image with transposed convolutions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = ("tanh", "relu", "silu")


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of :data:`ACTIVATIONS`)."""
    if name == "tanh":
        return nn.Tanh()
    if name == "relu":
        return nn.ReLU()
    if name == "silu":
        return nn.SiLU()
    raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATIONS}")


def num_halvings(factor: int) -> int:
    """log2 of a resampling factor that must be a power of two (1, 2, 4, 8...)."""
    halvings = round(math.log2(factor)) if factor >= 1 else -1
    if halvings < 0 or 2**halvings != factor:
        raise ValueError(f"resampling factor must be a power of two, got {factor}")
    return halvings


class MLP(nn.Sequential):
    """Linear layers of the given hidden sizes with an activation after each hidden layer, none at the end."""

    def __init__(
        self, in_features: int, hidden_sizes: Sequence[int], out_features: int, activation: str
    ) -> None:
        layers: list[nn.Module] = []
        previous = in_features
        for size in hidden_sizes:
            layers += [nn.Linear(previous, size), make_activation(activation)]
            previous = size
        layers.append(nn.Linear(previous, out_features))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """x + conv1x1(relu(conv3x3(relu(x)))): the VQ-VAE residual block."""

    def __init__(self, channels: int, hidden_channels: int) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(channels, hidden_channels, kernel_size=3, padding=1)
        self.conv_out = nn.Conv2d(hidden_channels, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.conv_in(torch.relu(x))  # (B, hidden_channels, H, W)
        return x + self.conv_out(torch.relu(hidden))  # (B, channels, H, W)


class ResidualStack(nn.Sequential):
    """``num_blocks`` residual blocks followed by a ReLU."""

    def __init__(self, channels: int, hidden_channels: int, num_blocks: int) -> None:
        super().__init__(*[ResidualBlock(channels, hidden_channels) for _ in range(num_blocks)], nn.ReLU())


class DownsampleStack(nn.Sequential):
    """A stride-2 4x4 conv + activation per channel count: (B, Cin, H, W) -> (B, c[-1], H/2^n, W/2^n).

    ``convs_per_stage`` adds that many 3x3 conv + activation pairs after each stride-2 conv (depth at every
    resolution; 0 keeps the plain stack and its parameter names).
    """

    def __init__(self, in_channels: int, channels: Sequence[int], activation: str, convs_per_stage: int = 0) -> None:
        layers: list[nn.Module] = []
        previous = in_channels
        for width in channels:
            layers += [
                nn.Conv2d(previous, width, kernel_size=4, stride=2, padding=1),
                make_activation(activation),
            ]
            for _ in range(convs_per_stage):
                layers += [nn.Conv2d(width, width, kernel_size=3, padding=1), make_activation(activation)]
            previous = width
        super().__init__(*layers)


class UpsampleStack(nn.Sequential):
    """Stride-2 4x4 transposed convolutions from ``channels[0]`` through ``channels[1:]`` to ``out_channels``.

    One stage per entry of ``channels`` (so the same list as the mirrored :class:`DownsampleStack`, reversed,
    undoes its resolution); activations between stages, none after the last.
    """

    def __init__(self, channels: Sequence[int], out_channels: int, activation: str) -> None:
        widths = [*channels, out_channels]
        layers: list[nn.Module] = []
        for index, (previous, width) in enumerate(itertools.pairwise(widths)):
            layers.append(nn.ConvTranspose2d(previous, width, kernel_size=4, stride=2, padding=1))
            if index < len(channels) - 1:
                layers.append(make_activation(activation))
        super().__init__(*layers)


class ConvEncoder(nn.Module):
    """VQ-VAE encoder: downsample by ``downsample_factor``, 3x3 conv, residual stack, 1x1 to out_channels."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        downsample_factor: int,
        num_residual_blocks: int,
        residual_channels: int,
    ) -> None:
        super().__init__()
        halvings = num_halvings(downsample_factor)
        self.downsample = DownsampleStack(in_channels, [hidden_channels] * halvings, "relu")
        self.conv = nn.Conv2d(
            hidden_channels if halvings else in_channels, hidden_channels, kernel_size=3, padding=1
        )
        self.residual = ResidualStack(hidden_channels, residual_channels, num_residual_blocks)
        self.project = nn.Conv2d(hidden_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.conv(self.downsample(x))  # (B, hidden, H / f, W / f)
        return self.project(self.residual(hidden))  # (B, out_channels, H / f, W / f)


class ConvDecoder(nn.Module):
    """VQ-VAE decoder: 3x3 conv, residual stack, upsample by ``upsample_factor`` to ``out_channels``."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        upsample_factor: int,
        num_residual_blocks: int,
        residual_channels: int,
    ) -> None:
        super().__init__()
        halvings = num_halvings(upsample_factor)
        self.conv = nn.Conv2d(in_channels, hidden_channels, kernel_size=3, padding=1)
        self.residual = ResidualStack(hidden_channels, residual_channels, num_residual_blocks)
        if halvings:
            self.upsample: nn.Module = UpsampleStack([hidden_channels] * halvings, out_channels, "relu")
        else:
            self.upsample = nn.Conv2d(hidden_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.residual(self.conv(x))  # (B, hidden, h, w)
        return self.upsample(hidden)  # (B, out_channels, h * f, w * f)
