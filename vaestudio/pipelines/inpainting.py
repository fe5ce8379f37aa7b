"""Inpainting on the code map: the painted region's codes are resampled by the PixelCNN prior.

The mask is at the uploaded image's resolution (any mode: the alpha channel when there is one,
else the grey level; > 127 is painted). It goes through the same square fit as the image
(``vaestudio.data.images.fit_to_square``), and every code cell that any painted model pixel touches
is resampled (a model pixel counts as painted when at least 1/8 of it is); every other code is
kept exactly. With a prompt, the candidates are sampled under it
and reranked by the scorer; without one, under the neutral prompt, in seed order.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vaestudio.common import limits
from vaestudio.data.images import fit_to_square, load_image, to_model_input
from vaestudio.models.base import StudioModel
from vaestudio.pipelines.text_to_image import GeneratedImage, ImageSequence, TextToImage, check_range

PAINTED = 127  # mask values above this are painted
TOUCHED = 32  # a model pixel at least 1/8 painted after the resize touches its code cell (resampling
# rings to about 20/255 beside an edge, which must not spill into the neighbouring cell)


@dataclasses.dataclass
class InpaintingResult(ImageSequence):
    images: list[GeneratedImage]  # best first when reranked
    code_mask: torch.Tensor  # (h, w) bool: the resampled code cells
    original_codes: torch.Tensor  # (h, w) int64
    warnings: list[str]


def mask_picture(mask, size: tuple[int, int]) -> Image.Image:
    """A mask (PIL image, array or tensor, painted > 127 or True) -> an L picture of ``size`` (0 or 255)."""
    if isinstance(mask, Image.Image):
        has_alpha = mask.mode in ("RGBA", "LA", "PA") or "transparency" in mask.info
        values = np.asarray(mask.convert("RGBA").getchannel("A") if has_alpha else mask.convert("L"))
    else:
        values = np.asarray(mask.detach().cpu() if hasattr(mask, "detach") else mask)
        values = np.squeeze(values)
        if values.dtype == bool:
            values = values.astype(np.uint8) * 255
        elif values.dtype.kind == "f":
            values = np.clip(values * 255.0, 0, 255)
        if values.ndim != 2:
            raise ValueError(f"a mask is a 2-D array (height, width), got shape {values.shape}")
    picture = Image.fromarray(np.where(values > PAINTED, 255, 0).astype(np.uint8), mode="L")
    return picture if picture.size == size else picture.resize(size, Image.Resampling.NEAREST)


def code_mask(mask_at_model_size: Image.Image, code_map_shape: tuple[int, int]) -> torch.Tensor:
    """(H, W) L picture -> (h, w) bool: True where any pixel of the cell is painted."""
    pixels = torch.from_numpy(np.asarray(mask_at_model_size, dtype=np.float32))[None, None]  # (1, 1, H, W)
    height, width = code_map_shape
    factor = pixels.shape[-1] // width
    return (F.max_pool2d(pixels, factor)[0, 0] > TOUCHED)[:height, :width]  # (h, w)


@torch.no_grad()
def masked_code_map(vqvae: StudioModel, image, mask, code_map_shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """An upload and its painted mask -> the image's code map (h, w) int64 and the cells to resample (h, w) bool.

    Image and mask go through the same square fit (the project's image policy) at the VQ-VAE's size."""
    config = vqvae.config
    upload = load_image(image)
    pixels = to_model_input(upload, config.image_size, config.image_channels)[None]  # (1, C, S, S)
    painted = fit_to_square(mask_picture(mask, upload.size), config.image_size, background=(0, 0, 0))
    return vqvae.encode_codes(pixels)[0], code_mask(painted, code_map_shape)  # (h, w), (h, w)


class Inpainter:
    """``Inpainter(vqvae, prior, scorer=None)``; call it with an image, a mask and an optional prompt."""

    def __init__(self, vqvae: StudioModel, prior: StudioModel, scorer: StudioModel | None = None,
                 neutral_prompt: str = "", options: dict | None = None) -> None:
        """options: the bundle's (its negative_prompt and guidance_scale guide prompted inpainting)."""
        self.generator = TextToImage(vqvae, prior, scorer, neutral_prompt, options)
        self.vqvae = vqvae

    @torch.no_grad()
    def __call__(
        self,
        image,
        mask,
        prompt: str | None = "",
        num_candidates: int = 4,
        seed: int = 0,
        temperature: float | None = None,
        top_k: int = 0,
        num_results: int | None = None,
        guidance_scale: float | None = None,
    ) -> InpaintingResult:
        check_range("num_candidates", num_candidates, *limits.INPAINT_CANDIDATES)
        num_results = int(num_candidates) if num_results is None else min(int(num_results), int(num_candidates))
        temperature = self.generator.sampling_temperature(temperature)
        codes, cells = masked_code_map(self.vqvae, image, mask, self.generator.code_map_shape)  # (h, w) each
        prepared = self.generator.prepare(prompt)
        if not bool(cells.any()):
            prepared.warnings.append("the mask is empty: nothing to inpaint, the reconstruction is returned")
            images = self.generator.decode_and_rank(codes[None], prepared.text, 1, rerank=False)
            return InpaintingResult(images, cells, codes, prepared.warnings)
        count = int(num_candidates)
        height, width = self.generator.code_map_shape
        guidance = self.generator.guidance(count, guidance_scale) if (prompt or "").strip() else {}
        resampled = self.generator.prior.sample(
            self.generator.condition(prepared.text, count), height, width, float(temperature), int(top_k),
            int(seed), fixed_codes=codes.expand(count, height, width).contiguous(),
            resample_mask=cells.expand(count, height, width).contiguous(), **guidance,
        )  # (R, h, w)
        rerank = bool((prompt or "").strip())
        images = self.generator.decode_and_rank(resampled, prepared.text, num_results, rerank=rerank)
        return InpaintingResult(images, cells, codes, prepared.warnings)

