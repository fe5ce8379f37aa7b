"""One face for the latent spaces the editor works in.

- ``GaussianSpace`` (VAE, beta-VAE, CVAE): the latent of an image is its posterior mean (B, L);
  decoding is the decoder's mean image.
- ``PointSpace`` (AE, WAE-MMD): the latent is the deterministic code f(x) (B, L); it has a prior to
  sample (and a manifold to draw) only when the model matched its codes to N(0, I) (``has_prior``).
- ``CodeMapSpace`` (one-level VQ-VAE): the latent is the pre-quantisation map (B, D, h, w);
  decoding re-quantises (nearest code) and decodes, so any edited latent gives a valid image. A dVAE
  is one too: its latent is the argmax code's embedding, re-quantised to the nearest code embedding.
- ``TwoLevelCodeMapSpace`` (VQ-VAE-2): the latent is both pre-quantisation maps, the top one
  (B, D, h/t, w/t) and the bottom one (B, D, h, w), side by side in one flat vector; decoding
  re-quantises each level and decodes both.

All flatten to (B, F) for the linear algebra of sliders, attribute vectors and interpolation.
"""

from __future__ import annotations

import math

import torch

from vaestudio.models.base import StudioModel
from vaestudio.models.conditioning import condition_kind
from vaestudio.models.outputs import Hierarchy


class LatentSpace:
    kind = ""

    def __init__(self, model: StudioModel) -> None:
        self.model = model.eval()
        self.image_size = int(model.config.image_size)
        self.channels = int(model.config.image_channels)

    @property
    def condition_kind(self) -> str:
        return condition_kind(self.model)

    def encode(self, images: torch.Tensor, condition=None) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, latents: torch.Tensor, condition=None) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def latent_shape(self) -> tuple[int, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def flatten(self, latents: torch.Tensor) -> torch.Tensor:
        return latents.reshape(latents.shape[0], -1)  # (B, F)

    def unflatten(self, flat: torch.Tensor) -> torch.Tensor:
        return flat.reshape(flat.shape[0], *self.latent_shape())


class GaussianSpace(LatentSpace):
    kind = "gaussian"

    def latent_shape(self) -> tuple[int, ...]:
        return (int(self.model.config.latent_dim),)

    @torch.no_grad()
    def encode(self, images: torch.Tensor, condition=None) -> torch.Tensor:
        return self.model.encode(images, condition).mean  # (B, L)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, condition=None) -> torch.Tensor:
        return self.model.decode(latents, condition)  # (B, C, H, W)

    @torch.no_grad()
    def kl_per_dimension(self, images: torch.Tensor, condition=None) -> torch.Tensor:
        return self.model.kl_per_dimension(images, condition)  # (L,)


class PointSpace(LatentSpace):
    kind = "point"

    @property
    def has_prior(self) -> bool:
        return bool(getattr(self.model, "has_prior", False))

    def latent_shape(self) -> tuple[int, ...]:
        return (int(self.model.config.latent_dim),)

    @torch.no_grad()
    def encode(self, images: torch.Tensor, condition=None) -> torch.Tensor:
        return self.model.encode(images, condition)  # (B, L)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, condition=None) -> torch.Tensor:
        return self.model.decode(latents, condition)  # (B, C, H, W)


class CodeMapSpace(LatentSpace):
    kind = "vq"
    levels = 1

    def __init__(self, model: StudioModel) -> None:
        if getattr(model.config, "levels", 1) != self.levels:
            raise ValueError(f"a {type(self).__name__} holds the latents of a {self.levels}-level VQ-VAE")
        super().__init__(model)

    @property
    def condition_kind(self) -> str:
        return "none"

    def latent_shape(self) -> tuple[int, ...]:
        height, width = self.model.code_map_shape
        return (int(self.model.config.code_dim), height, width)

    @torch.no_grad()
    def encode(self, images: torch.Tensor, condition=None) -> torch.Tensor:
        return self.model.encode_latents(images)  # (B, D, h, w)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, condition=None) -> torch.Tensor:
        return self.model.decode_latents(latents)  # (B, C, H, W)


class TwoLevelCodeMapSpace(CodeMapSpace):
    levels = 2

    def _sizes(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        dim = int(self.model.config.code_dim)
        return tuple((dim, int(height), int(width)) for height, width in self.model.code_map_shapes)

    def latent_shape(self) -> tuple[int, ...]:
        top, bottom = self._sizes()
        return (math.prod(top) + math.prod(bottom),)

    @torch.no_grad()
    def encode(self, images: torch.Tensor, condition=None) -> torch.Tensor:
        latents = self.model.encode_latents(images)  # top (B, D, h/t, w/t), bottom (B, D, h, w)
        return torch.cat([latents.top.flatten(1), latents.bottom.flatten(1)], dim=1)  # (B, F)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, condition=None) -> torch.Tensor:
        top, bottom = self._sizes()
        size = math.prod(top)
        batch = latents.shape[0]
        split = Hierarchy(latents[:, :size].reshape(batch, *top), latents[:, size:].reshape(batch, *bottom))
        return self.model.decode_latents(split)  # (B, C, H, W)


def latent_space(model: StudioModel) -> LatentSpace:
    """The latent space of a VAE, an AE or WAE, or a VQ-VAE of one or two levels."""
    if hasattr(model, "encode_latents") and hasattr(model, "decode_latents"):
        return TwoLevelCodeMapSpace(model) if getattr(model.config, "levels", 1) == 2 else CodeMapSpace(model)
    if hasattr(model, "has_prior") and hasattr(model.config, "latent_dim"):
        return PointSpace(model)
    if hasattr(model, "encode") and hasattr(model.config, "latent_dim"):
        return GaussianSpace(model)
    raise TypeError(f"the editor works on VAEs, autoencoders and VQ-VAEs, not on a {type(model).__name__}")
