"""Any picture through the general image VQ-VAE (``photo_vqvae``): reconstruction, code map view, inpainting.

The shipped ``photos`` bundle holds that VQ-VAE (``vqvae``) and an unconditional PixelCNN prior over its
codes (``prior``). An upload keeps its own resolution, up to ``max_pixels`` (larger ones are scaled down
to fit, with a note): the model pads it to a multiple of 4 and crops the decode back
(:class:`~vaestudio.models.photo_vqvae.PhotoVQVAE`).

- ``encode``: the code map (h, w) = (ceil(H / 4), ceil(W / 4)), the reconstruction and its PSNR, and a
  picture of the code map: each code coloured by the first three principal components of its codebook
  vector (codes that look alike have similar colours), one 4 x 4 block per code.
- ``inpaint``: the painted code cells are resampled by the prior, every other code is kept exactly. For
  speed the prior samples only the rows and columns around the painted cells that its receptive field
  reads, and only the pixels that the changed codes reach are decoded again; outside the painted cells the
  candidates keep the uploaded pixels.

``is_off_world(image, model)`` says whether an upload is not from a model's own world (not a square of its
image size): the studio's Edit tab then hands it to this pipeline and says so.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from PIL import Image

from vaestudio.checkpoints import Bundle
from vaestudio.common import limits, metrics
from vaestudio.data.images import load_image, pixels_to_tensor
from vaestudio.models.base import StudioModel
from vaestudio.pipelines.convert import to_pil
from vaestudio.pipelines.inpainting import code_mask, mask_picture
from vaestudio.pipelines.text_to_image import check_range

MAX_PIXELS = 1920 * 1088  # uploads above this many pixels are scaled down to fit (the decode's time grows with it)
TEMPERATURE = 0.7  # inpainting's default: at 1.0 the small prior's fills look like noise, at 0.6-0.7 like the picture
DECODER_REACH = 4  # code cells: how far a changed code can change the decoded pixels (the decoder's receptive field)


@dataclasses.dataclass
class PhotoEncoding:
    image: Image.Image  # what was encoded: the upload, RGB, scaled down when above max_pixels
    codes: torch.Tensor  # (h, w) int64
    reconstruction: Image.Image  # same size as ``image``
    code_map: Image.Image  # same size as ``image``: a colour per code
    psnr: float  # dB, reconstruction against image
    notes: list[str]

    @property
    def summary(self) -> str:
        height, width = self.codes.shape
        text = (f"{self.image.width}x{self.image.height} pixels -> {width}x{height} codes; "
                f"reconstruction PSNR {self.psnr:.1f} dB")
        return "; ".join([text, *self.notes])


@dataclasses.dataclass
class PhotoInpainting:
    images: list[Image.Image]  # the candidates, in seed order, at the encoded size
    code_mask: torch.Tensor  # (h, w) bool: the resampled cells
    original_codes: torch.Tensor  # (h, w) int64
    codes: torch.Tensor  # (R, h, w) int64: each candidate's code map
    notes: list[str]


def is_off_world(image: Image.Image, model: StudioModel) -> bool:
    """True when ``image`` is not a picture of ``model``'s own world: not a square of its image size."""
    size = int(getattr(model.config, "image_size", 0) or 0)
    return image.size != (size, size)


def code_colours(codebook: torch.Tensor) -> np.ndarray:
    """(K, D) codebook -> (K, 3) uint8: the first three principal components of the code vectors, each
    stretched to 0..255 (fewer components than 3 leave the rest at 128)."""
    vectors = codebook.detach().double()
    centred = vectors - vectors.mean(dim=0)  # (K, D)
    _, _, directions = torch.linalg.svd(centred, full_matrices=False)  # (min(K, D), D)
    components = centred @ directions[:3].t()  # (K, <=3)
    low, high = components.min(dim=0).values, components.max(dim=0).values
    scaled = (components - low) / (high - low).clamp_min(1e-12)  # (K, <=3) in [0, 1]
    colours = np.full((vectors.shape[0], 3), 128, dtype=np.uint8)
    colours[:, : scaled.shape[1]] = np.round(scaled.numpy() * 255).astype(np.uint8)
    return colours


class PhotoEditing:
    """``PhotoEditing(bundle)`` over a photos bundle (``vqvae`` a photo_vqvae, ``prior`` optional)."""

    def __init__(self, model: Bundle | StudioModel, max_pixels: int = MAX_PIXELS) -> None:
        self.prior = None
        if isinstance(model, Bundle):
            self.prior = model.get("prior")
            model = model["vqvae"]
        if not hasattr(model, "encode_any"):
            raise TypeError(f"photo editing needs a photo_vqvae (any size), not a {type(model).__name__}")
        self.vqvae = model.eval()
        self.max_pixels = int(max_pixels)
        self.factor = int(model.config.downsample_factor)
        self._colours = code_colours(model.quantizer.codebook)  # (K, 3)

    # -- the upload ------------------------------------------------------------------------------
    def working_image(self, image) -> tuple[Image.Image, list[str]]:
        """The upload as RGB, scaled down (LANCZOS) when it has more than ``max_pixels`` pixels."""
        picture = load_image(image)
        notes = []
        if picture.width * picture.height > self.max_pixels:
            scale = math.sqrt(self.max_pixels / (picture.width * picture.height))
            size = (max(1, int(picture.width * scale)), max(1, int(picture.height * scale)))
            notes.append(f"scaled down from {picture.width}x{picture.height} to {size[0]}x{size[1]} "
                         f"(at most {self.max_pixels / 1e6:.1f} megapixels)")
            picture = picture.resize(size, Image.Resampling.LANCZOS)
        return picture, notes

    def code_map_picture(self, codes: torch.Tensor, size: tuple[int, int]) -> Image.Image:
        """(h, w) codes -> an RGB picture of ``size`` (width, height): one 4 x 4 block of colour per code."""
        colours = self._colours[codes.numpy()]  # (h, w, 3)
        blocks = np.repeat(np.repeat(colours, self.factor, axis=0), self.factor, axis=1)  # (4h, 4w, 3)
        return Image.fromarray(np.ascontiguousarray(blocks[: size[1], : size[0]]), mode="RGB")

    # -- encode ----------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, image) -> PhotoEncoding:
        picture, notes = self.working_image(image)
        pixels = pixels_to_tensor(np.asarray(picture))[None]  # (1, 3, H, W)
        encoded = self.vqvae.encode_any(pixels)
        decoded = self.vqvae.decode_any(encoded)  # (1, 3, H, W)
        psnr = float(metrics.psnr(metrics.mean_squared_error(pixels, decoded))[0])
        codes = encoded.codes[0]  # (h, w)
        return PhotoEncoding(picture, codes, to_pil(decoded)[0], self.code_map_picture(codes, picture.size), psnr,
                             notes)

    # -- inpaint ---------------------------------------------------------------------------------
    def prior_reach(self) -> int:
        """Rows and columns of codes the prior reads around a position: its layers' receptive field."""
        config = self.prior.config
        return int(config.num_layers) * (int(config.kernel_size) // 2) + 1

    @torch.no_grad()
    def inpaint(self, image, mask, num_candidates: int = 4, seed: int = 0, temperature: float = TEMPERATURE,
                top_k: int = 0) -> PhotoInpainting:
        """Candidates whose painted code cells are resampled by the prior (seeds ``seed``, ``seed`` + 1...)."""
        if self.prior is None:
            raise ValueError("inpainting needs the photos bundle's prior; load the 'photos' model")
        check_range("num_candidates", num_candidates, *limits.INPAINT_CANDIDATES)
        picture, notes = self.working_image(image)
        width, height = picture.size
        pixels = pixels_to_tensor(np.asarray(picture))[None]  # (1, 3, H, W)
        encoded = self.vqvae.encode_any(pixels)
        codes = encoded.codes[0]  # (h, w)
        code_height, code_width = codes.shape
        painted = Image.new("L", (code_width * self.factor, code_height * self.factor), 0)
        painted.paste(mask_picture(mask, picture.size), (0, 0))
        cells = code_mask(painted, (code_height, code_width))  # (h, w) bool
        if not bool(cells.any()):
            notes.append("the mask is empty: nothing to inpaint, the upload is returned")
            return PhotoInpainting([picture] * int(num_candidates), cells, codes,
                                   codes.expand(int(num_candidates), -1, -1).clone(), notes)
        rows, columns = torch.nonzero(cells, as_tuple=True)
        top, bottom = int(rows.min()), int(rows.max()) + 1
        left, right = int(columns.min()), int(columns.max()) + 1
        reach = self.prior_reach()
        window = (max(0, top - reach), bottom, max(0, left - reach), min(code_width, right + reach))
        sampled = self._sample_window(codes, cells, window, int(num_candidates), int(seed), temperature, top_k)
        images = [self._composite(picture, codes_i, cells, (top, bottom, left, right)) for codes_i in sampled]
        return PhotoInpainting(images, cells, codes, sampled, notes)

    def _sample_window(self, codes: torch.Tensor, cells: torch.Tensor, window: tuple[int, int, int, int],
                       count: int, seed: int, temperature: float, top_k: int) -> torch.Tensor:
        """Candidates' full code maps (R, h, w): the prior resamples the painted cells inside ``window``."""
        top, bottom, left, right = window
        fixed = codes[top:bottom, left:right]  # (wh, ww)
        resample = cells[top:bottom, left:right]  # (wh, ww)
        height, width = fixed.shape
        sampled = self.prior.sample(count, height, width, float(temperature), int(top_k), seed,
                                    fixed_codes=fixed.expand(count, height, width).contiguous(),
                                    resample_mask=resample.expand(count, height, width).contiguous())  # (R, wh, ww)
        full = codes.expand(count, -1, -1).clone()  # (R, h, w)
        full[:, top:bottom, left:right] = sampled
        return full

    def _composite(self, picture: Image.Image, codes: torch.Tensor, cells: torch.Tensor,
                   box: tuple[int, int, int, int]) -> Image.Image:
        """The upload with its painted cells' pixels replaced by the decode of ``codes`` (h, w).

        Only the codes within DECODER_REACH of the painted box are decoded (a decoder sees no further), with
        another DECODER_REACH of context around them.
        """
        code_height, code_width = codes.shape
        top, bottom, left, right = box
        reach = DECODER_REACH
        outer = (max(0, top - 2 * reach), min(code_height, bottom + 2 * reach),
                 max(0, left - 2 * reach), min(code_width, right + 2 * reach))
        decoded = self.vqvae.decode_codes(codes[None, outer[0]:outer[1], outer[2]:outer[3]])[0]  # (3, oh*f, ow*f)
        f = self.factor
        cell_pixels = torch.repeat_interleave(torch.repeat_interleave(cells, f, dim=0), f, dim=1)  # (h*f, w*f)
        region = cell_pixels[outer[0] * f:outer[1] * f, outer[2] * f:outer[3] * f]  # (oh*f, ow*f)
        original = pixels_to_tensor(np.asarray(picture))  # (3, H, W)
        canvas = torch.zeros(3, code_height * f, code_width * f)  # (3, h*f, w*f)
        canvas[:, : picture.height, : picture.width] = original
        window = canvas[:, outer[0] * f:outer[1] * f, outer[2] * f:outer[3] * f]  # a view into canvas
        window[:, region] = decoded[:, region]
        return to_pil(canvas[None, :, : picture.height, : picture.width])[0]
