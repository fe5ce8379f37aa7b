"""Sampling and inpainting with a VQ-VAE-2 and its two priors (Razavi et al. 2019, https://arxiv.org/abs/1906.00446).

A ``two_level`` bundle holds ``vqvae`` (a two-level VQ-VAE), ``top_prior`` (a PixelCNN prior over its top code
maps) and ``bottom_prior`` (a :class:`~vaestudio.models.bottom_prior.PixelCNNBottomPrior` over its bottom maps
given the top ones). Sampling draws the top maps, then the bottom maps given them, each level in one cached
``ops.pixelcnn_sample`` call, and decodes both. Inpainting resamples, at both levels, the code cells that the
painted region touches and keeps every other code of both maps exactly (``level="bottom"`` keeps the whole top
map and redraws only the painted details). The same arguments and seed give the same images.

A class-conditional bottom prior takes the class from ``label``; the shipped top priors are unconditional.
"""

from __future__ import annotations

import dataclasses

import torch
from PIL import Image

from vaestudio.checkpoints import Bundle
from vaestudio.common import limits
from vaestudio.data.images import fit_to_square, load_image, to_model_input
from vaestudio.models.base import StudioModel
from vaestudio.models.bottom_prior import PixelCNNBottomPrior, TopCondition
from vaestudio.models.outputs import Hierarchy
from vaestudio.pipelines.convert import to_pil
from vaestudio.pipelines.inpainting import code_mask, mask_picture
from vaestudio.pipelines.text_to_image import ImageSequence, check_range

BUNDLE_KIND = "two_level"
LEVELS = ("both", "bottom")  # what inpainting resamples


@dataclasses.dataclass
class TwoLevelImage:
    image: Image.Image
    codes: Hierarchy[torch.Tensor]  # top (h/t, w/t) and bottom (h, w) int64 maps the image was decoded from
    score: float | None = None  # no reranking: kept for the studio's result lists


@dataclasses.dataclass
class TwoLevelResult(ImageSequence):
    """Sampled or inpainted images in seed order; for inpainting, the resampled cells of each level."""

    images: list[TwoLevelImage]
    masks: Hierarchy[torch.Tensor] | None = None  # top (h/t, w/t) and bottom (h, w) bool: resampled cells
    original_codes: Hierarchy[torch.Tensor] | None = None  # the inpainted image's own maps
    warnings: list[str] = dataclasses.field(default_factory=list)


class TwoLevel:
    """``TwoLevel(bundle)`` or ``TwoLevel(vqvae, top_prior, bottom_prior)``: ``sample`` and ``inpaint``."""

    def __init__(self, vqvae: StudioModel | Bundle, top_prior: StudioModel | None = None,
                 bottom_prior: StudioModel | None = None, options: dict | None = None) -> None:
        """options: the bundle's (``temperature``: the default sampling temperature, 1 when absent)."""
        options = dict(options or {})
        if isinstance(vqvae, Bundle):
            if vqvae.kind != BUNDLE_KIND:
                raise ValueError(f"a {vqvae.kind} bundle is not a VQ-VAE-2 with its priors (kind {BUNDLE_KIND!r})")
            options = {**vqvae.options, **options}
            vqvae, top_prior, bottom_prior = vqvae["vqvae"], vqvae["top_prior"], vqvae["bottom_prior"]
        if getattr(vqvae.config, "levels", 1) != 2:
            raise ValueError("two-level sampling needs a two-level VQ-VAE (VQ-VAE-2: levels = 2)")
        if top_prior is None or bottom_prior is None:
            raise ValueError("two-level sampling needs a top prior and a bottom prior")
        if not isinstance(bottom_prior, PixelCNNBottomPrior):
            raise ValueError(f"the bottom prior must be a pixelcnn_bottom_prior, got a {bottom_prior.model_type}")
        if top_prior.config.condition != "none":
            raise ValueError("the top prior must be unconditional (the bottom prior may take a class)")
        codes = vqvae.config.num_codes
        for name, count in (("top prior", top_prior.config.num_codes), ("bottom prior", bottom_prior.config.num_codes),
                            ("bottom prior's top codes", bottom_prior.config.top_num_codes)):
            if count != codes:
                raise ValueError(f"the {name} models {count} codes but the VQ-VAE has {codes}")
        if bottom_prior.config.top_downsample_factor != vqvae.config.top_downsample_factor:
            raise ValueError("the bottom prior's top_downsample_factor differs from the VQ-VAE's")
        self.vqvae, self.top_prior, self.bottom_prior = vqvae.eval(), top_prior.eval(), bottom_prior.eval()
        self.temperature = float(options.get("temperature", 1.0))
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        self.top_shape, self.bottom_shape = (tuple(shape) for shape in vqvae.code_map_shapes)

    @property
    def condition_kind(self) -> str:
        """"class" when the bottom prior takes a label, else "none"."""
        return self.bottom_prior.config.condition

    # -- codes --------------------------------------------------------------------------------
    def _labels(self, label: int | None, count: int) -> torch.Tensor | None:
        if self.condition_kind != "class":
            if label is not None:
                raise ValueError("this VQ-VAE-2's priors are unconditional; pass no class")
            return None
        classes = self.bottom_prior.config.num_classes
        if label is None:
            return torch.arange(count) % classes  # every class in turn
        return torch.full((count,), check_range("label", label, 0, classes - 1), dtype=torch.int64)

    @torch.no_grad()
    def sample_codes(self, count: int, seed: int = 0, temperature: float | None = None, top_k: int = 0,
                     label: int | None = None, fixed: Hierarchy[torch.Tensor] | None = None,
                     masks: Hierarchy[torch.Tensor] | None = None) -> Hierarchy[torch.Tensor]:
        """``count`` pairs of maps: top (N, h/t, w/t) from the top prior, then bottom (N, h, w) given them.

        fixed / masks (one map each, or N): codes to keep where the mask is false (inpainting).
        """
        temperature = self.temperature if temperature is None else float(temperature)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        check_range("top_k", top_k, 0, self.vqvae.config.num_codes)
        levels = {}
        for name, shape in (("top", self.top_shape), ("bottom", self.bottom_shape)):
            if fixed is None:
                levels[name] = {}
            else:  # (1 or N, h, w) -> (N, h, w)
                levels[name] = {"fixed_codes": getattr(fixed, name).expand(count, *shape).contiguous(),
                                "resample_mask": getattr(masks, name).expand(count, *shape).contiguous()}
        top = self.top_prior.sample(count, *self.top_shape, temperature, int(top_k), int(seed),
                                    **levels["top"])  # (N, h/t, w/t)
        condition = TopCondition(top, self._labels(label, count))
        bottom = self.bottom_prior.sample(condition, *self.bottom_shape, temperature, int(top_k), int(seed) + 1,
                                          **levels["bottom"])  # (N, h, w)
        return Hierarchy(top, bottom)

    def _result(self, codes: Hierarchy[torch.Tensor], **details) -> TwoLevelResult:
        pictures = to_pil(self.vqvae.decode_codes(codes))  # N pictures
        images = [TwoLevelImage(picture, Hierarchy(codes.top[index].clone(), codes.bottom[index].clone()))
                  for index, picture in enumerate(pictures)]
        return TwoLevelResult(images, **details)

    # -- what the studio calls ----------------------------------------------------------------
    @torch.no_grad()
    def sample(self, num_images: int = 4, seed: int = 0, temperature: float | None = None, top_k: int = 0,
               label: int | None = None) -> TwoLevelResult:
        """``num_images`` new images: top maps, then bottom maps given them, decoded."""
        count = check_range("num_images", num_images, *limits.PRIOR_SAMPLES)
        return self._result(self.sample_codes(count, seed, temperature, top_k, label))

    @torch.no_grad()
    def inpaint(self, image, mask, num_candidates: int = 4, seed: int = 0, temperature: float | None = None,
                top_k: int = 0, level: str = "both", label: int | None = None) -> TwoLevelResult:
        """Redraws the painted region of ``image`` (mask: painted > 127, any size; see
        :mod:`vaestudio.pipelines.inpainting`) at both levels, or only in the bottom map (``level="bottom"``);
        every code outside the touched cells stays as the image's own."""
        count = check_range("num_candidates", num_candidates, *limits.INPAINT_CANDIDATES)
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        config = self.vqvae.config
        upload = load_image(image)
        pixels = to_model_input(upload, config.image_size, config.image_channels)[None]  # (1, C, S, S)
        painted = fit_to_square(mask_picture(mask, upload.size), config.image_size, background=(0, 0, 0))
        bottom_cells = code_mask(painted, self.bottom_shape)  # (h, w)
        top_cells = code_mask(painted, self.top_shape) if level == "both" else torch.zeros(self.top_shape, dtype=bool)
        codes = self.vqvae.encode_codes(pixels)  # Hierarchy of (1, h/t, w/t) and (1, h, w)
        masks = Hierarchy(top_cells, bottom_cells)
        original = Hierarchy(codes.top[0], codes.bottom[0])
        if not bool(bottom_cells.any()):
            return self._result(codes, masks=masks, original_codes=original,
                                warnings=["the mask is empty: nothing to inpaint, the reconstruction is returned"])
        resampled = self.sample_codes(count, seed, temperature, top_k, label, fixed=codes, masks=masks)
        return self._result(resampled, masks=masks, original_codes=original)
