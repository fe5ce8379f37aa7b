"""One face for the latent spaces the editor works in.

- ``GaussianSpace`` (VAE, beta-VAE, CVAE): the latent of an image is its posterior mean (B, L);
  decoding is the decoder's mean image.
- ``PointSpace`` (AE, WAE-MMD): the latent is the deterministic code f(x) (B, L); it has a prior to
  sample (and a manifold to draw) only when the model matched its codes to N(0, I) (``has_prior``).
- ``CodeMapSpace`` (one-level VQ-VAE): the latent is the pre-quantisation map (B, D, h, w);
  decoding re-quantises (nearest code) and decodes, so any edited latent gives a valid image. A dVAE
  is one too: its latent is the argmax code's embedding, re-quantised to the nearest code embedding.

Both flatten to (B, F) for the linear algebra of sliders, attribute vectors and interpolation.
"""

from __future__ import annotations

import torch

from vaestudio.models.base import StudioModel
from vaestudio.models.conditioning import condition_kind


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

    def __init__(self, model: StudioModel) -> None:
        if getattr(model.config, "levels", 1) != 1:
            raise ValueError("the editor works on one-level VQ-VAEs (one code map)")
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


def latent_space(model: StudioModel) -> LatentSpace:
    """The latent space of a VAE, an AE or WAE, or a one-level VQ-VAE."""
    if hasattr(model, "encode_latents") and hasattr(model, "decode_latents"):
        return CodeMapSpace(model)
    if hasattr(model, "has_prior") and hasattr(model.config, "latent_dim"):
        return PointSpace(model)
    if hasattr(model, "encode") and hasattr(model.config, "latent_dim"):
        return GaussianSpace(model)
    raise TypeError(f"the editor works on VAEs, autoencoders and VQ-VAEs, not on a {type(model).__name__}")
