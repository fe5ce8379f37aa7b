"""An image's code maps as pictures: every cell of a VQ model's map drawn in its code's colour, one picture per
level (a VQ-VAE-2's top and bottom maps; one map otherwise), beside the reconstruction from those codes.

Code k always gets the same colour (hues spaced by the golden angle, so neighbouring indices differ), so the
same code shows as the same colour in every map and every image of a model.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from PIL import Image

from vaestudio.common import metrics
from vaestudio.models.outputs import Hierarchy
from vaestudio.pipelines.convert import to_pil

GOLDEN_ANGLE = (3.0 - math.sqrt(5.0)) / 2.0  # of a turn


@dataclasses.dataclass
class CodeMapLevel:
    name: str  # "top" and "bottom", or "" for a one-level model's only map
    codes: np.ndarray  # (h, w) int64
    picture: Image.Image  # RGB, the cells enlarged to ``size`` pixels

    @property
    def caption(self) -> str:
        height, width = self.codes.shape
        prefix = f"{self.name} " if self.name else ""
        return f"{prefix}codes ({height} x {width}, {len(np.unique(self.codes))} distinct)"


@dataclasses.dataclass
class CodeMapView:
    image: Image.Image  # the model's input
    reconstruction: Image.Image  # decoded from the codes shown
    levels: list[CodeMapLevel]  # top first
    psnr: float  # dB, of the reconstruction


def palette(num_codes: int) -> np.ndarray:
    """(K, 3) uint8: a fixed colour per code index."""
    hues = (np.arange(num_codes) * GOLDEN_ANGLE) % 1.0  # (K,)
    lightness = 0.45 + 0.2 * ((np.arange(num_codes) // 7) % 2)  # (K,) two shades against close hues
    red, green, blue = (np.clip(lightness + 0.35 * np.cos(2 * np.pi * (hues - shift)), 0, 1)
                        for shift in (0.0, 1 / 3, 2 / 3))
    return (np.stack([red, green, blue], axis=1) * 255).round().astype(np.uint8)  # (K, 3)


def code_picture(codes: torch.Tensor, num_codes: int, size: int) -> Image.Image:
    """A (h, w) code map -> an RGB picture of ``size`` x ``size`` pixels (cells enlarged, nearest neighbour)."""
    cells = palette(num_codes)[codes.long().cpu().numpy()]  # (h, w, 3)
    return Image.fromarray(cells, mode="RGB").resize((size, size), Image.Resampling.NEAREST)


@torch.no_grad()
def code_map_view(model, pixels: torch.Tensor, size: int = 256) -> CodeMapView:
    """The code maps of one image (1, C, H, W) in [0, 1] under a VQ model (one or two levels)."""
    codes = model.encode_codes(pixels)  # (1, h, w), or top and bottom
    named = [("top", codes.top), ("bottom", codes.bottom)] if isinstance(codes, Hierarchy) else [("", codes)]
    levels = [CodeMapLevel(name, level[0].cpu().numpy(), code_picture(level[0], model.config.num_codes, size))
              for name, level in named]
    decoded = model.decode_codes(codes).clamp(0, 1)  # (1, C, H, W)
    psnr = float(metrics.psnr(metrics.mean_squared_error(pixels, decoded))[0])
    return CodeMapView(to_pil(pixels)[0], to_pil(decoded)[0], levels, psnr)
