"""Near misses: copies of flat-colour images whose shapes are drawn badly, as negatives for a scorer.

A text-to-image sample fails most often by drawing the right object badly: a square with rounded,
wobbly sides, a small star whose points melt into a blob. Real training images never look like that,
so a scorer trained on them alone has no reason to rank a crisp square above a wobbly one. These
functions make such failures out of real images, keeping colour, size and position:

- ``round_corners``: the per-channel median over a disk, which on flat colours is a majority vote of
  the neighbourhood; corners round off with the disk's radius and thin parts (a star's points) vanish,
  while straight edges stay sharp;
- ``wobble``: a smooth random displacement field (bicubic from a coarse grid of Gaussian offsets),
  which bends straight edges;
- ``near_misses``: one of those per image, or both, at random strengths (torch's global generator,
  or the one given, so a seeded run repeats).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ROUNDING_DIAMETERS = (5, 7, 9)  # pixels; a small shape is 14 px across
WOBBLE_RANGE = (1.0, 2.5)  # pixels of displacement (standard deviation of the coarse offsets)
WOBBLE_CELLS = 5  # the coarse grid of offsets, per side


def round_corners(images: torch.Tensor, diameter: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W): each pixel the per-channel median over a disk of odd ``diameter``."""
    if diameter < 1 or diameter % 2 == 0:
        raise ValueError(f"round_corners needs an odd diameter of at least 1 pixel, got {diameter}")
    radius = diameter // 2
    height, width = images.shape[-2:]
    if images.numel() == 0 or radius == 0:
        return images.clone()
    padded = F.pad(images, (radius, radius, radius, radius), mode="replicate")  # (B, C, H + 2r, W + 2r)
    shifts = [(dy, dx) for dy in range(diameter) for dx in range(diameter)
              if (dy - radius) ** 2 + (dx - radius) ** 2 <= radius * radius]  # the n offsets inside the disk
    windows = [padded[..., dy : dy + height, dx : dx + width] for dy, dx in shifts]  # n of (B, C, H, W)
    values = torch.stack(windows, dim=-1)  # (B, C, H, W, n)
    return values.median(dim=-1).values


def wobble(images: torch.Tensor, amplitude: float, generator: torch.Generator | None = None,
           cells: int = WOBBLE_CELLS) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W) resampled along a smooth random field of about ``amplitude`` pixels."""
    batch, _, height, width = images.shape
    if images.numel() == 0:
        return images.clone()
    offsets = torch.randn(batch, 2, cells, cells, generator=generator) * float(amplitude)  # (B, 2, g, g) pixels
    field = F.interpolate(offsets.to(images), size=(height, width), mode="bicubic", align_corners=True)  # (B, 2, H, W)
    ys = torch.linspace(-1.0, 1.0, height, device=images.device, dtype=images.dtype)  # (H,)
    xs = torch.linspace(-1.0, 1.0, width, device=images.device, dtype=images.dtype)  # (W,)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) each
    scale = torch.tensor([2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)],
                         device=images.device, dtype=images.dtype)  # pixels -> grid units, (x, y)
    grid = torch.stack([grid_x, grid_y], dim=-1) + field.permute(0, 2, 3, 1) * scale  # (B, H, W, 2) as (x, y)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def near_misses(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W): each image rounded (40 %), wobbled (40 %) or both (20 %)."""
    copies = []
    for image in images.split(1):  # (1, C, H, W) each
        choice = float(torch.rand((), generator=generator))
        if choice < 0.4:
            diameter = ROUNDING_DIAMETERS[int(torch.randint(len(ROUNDING_DIAMETERS), (), generator=generator))]
            image = round_corners(image, diameter)
        elif choice < 0.8:
            image = wobble(image, _uniform(*WOBBLE_RANGE, generator), generator)
        else:
            image = wobble(round_corners(image, ROUNDING_DIAMETERS[0]), _uniform(WOBBLE_RANGE[0], 2.0, generator),
                           generator)
        copies.append(image)
    return torch.cat(copies) if copies else images.clone()
