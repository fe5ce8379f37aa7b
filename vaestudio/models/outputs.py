"""What the models of the family return: one small dataclass per kind of call.

Shapes use B for the batch, L for the latent dimension, S for importance samples,
C/H/W for images, K for the number of codes, D for a code vector and h/w for a code map.
"""

from __future__ import annotations

import dataclasses
from typing import Generic, NamedTuple, TypeVar

import torch

from vaestudio.models import losses

T = TypeVar("T")


@dataclasses.dataclass
class Posterior:
    """A diagonal Gaussian q(z | x) = N(mean, exp(log_variance))."""

    mean: torch.Tensor  # (B, L)
    log_variance: torch.Tensor  # (B, L)

    @property
    def standard_deviation(self) -> torch.Tensor:
        return torch.exp(0.5 * self.log_variance)  # (B, L)

    def sample(
        self, num_samples: int | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Reparameterised draws: (B, L), or (S, B, L) when ``num_samples`` is given."""
        shape = self.mean.shape if num_samples is None else (num_samples, *self.mean.shape)
        noise = torch.randn(shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.standard_deviation * noise  # (B, L) or (S, B, L)

    def log_density(self, latents: torch.Tensor) -> torch.Tensor:
        """log q(z | x) summed over latent dimensions: latents (..., B, L) -> (..., B)."""
        return losses.gaussian_log_density(latents, self.mean, self.log_variance).sum(-1)

    def kl_per_dimension(self) -> torch.Tensor:
        """Closed-form KL(q || N(0, I)) for each latent dimension: (B, L)."""
        return losses.gaussian_kl(self.mean, self.log_variance)

    def kl(self) -> torch.Tensor:
        """Closed-form KL(q || N(0, I)): (B,)."""
        return self.kl_per_dimension().sum(-1)


@dataclasses.dataclass
class VAEOutput:
    """One pass of a VAE: posterior, the latents drawn from it and what the decoder made of them."""

    posterior: Posterior
    latents: torch.Tensor  # (B, L)
    parameters: torch.Tensor  # (B, P * C, H, W) likelihood parameters (P per channel)
    reconstruction: torch.Tensor  # (B, C, H, W) in [0, 1]


class Bounds(NamedTuple):
    """Per-example bounds on log p(x) in nats from the same S importance samples.

    ``elbo`` is the Monte Carlo ELBO (mean of the log weights), ``iwae`` the IWAE-S
    bound (log of the mean weight): ``iwae >= elbo`` always, equal when S = 1.
    """

    elbo: torch.Tensor  # (B,)
    iwae: torch.Tensor  # (B,)


@dataclasses.dataclass
class Hierarchy(Generic[T]):
    """The top and bottom maps of a two-level VQ-VAE (codes (B, h, w) or latents (B, D, h, w))."""

    top: T
    bottom: T


@dataclasses.dataclass
class VQVAEOutput:
    """One pass of a VQ-VAE: codes at every level, the decoder's parameters and its image."""

    codes: torch.Tensor | Hierarchy[torch.Tensor]  # (B, h, w) per level
    parameters: torch.Tensor  # (B, P * C, H, W)
    reconstruction: torch.Tensor  # (B, C, H, W) in [0, 1]
    commitment_loss: torch.Tensor  # () summed over levels, already weighted
    perplexity: torch.Tensor  # () of the bottom (or only) code map
    codebook_loss: torch.Tensor | None = None  # () summed over levels (codebook_update "loss"); None with EMA


@dataclasses.dataclass
class DVAEOutput:
    """One pass of a dVAE: code logits, the relaxed one-hot codes fed to the decoder, the image."""

    logits: torch.Tensor  # (B, K, h, w)
    soft_codes: torch.Tensor  # (B, K, h, w) Gumbel-softmax sample (one-hot in the forward when hard)
    parameters: torch.Tensor  # (B, P * C, H, W) likelihood parameters (logit-Laplace: location and log-scale)
    reconstruction: torch.Tensor  # (B, C, H, W) in [0, 1]


@dataclasses.dataclass
class TokenizedText:
    """Token ids padded to the longest prompt of the batch; ``mask`` is True on positions that attend."""

    token_ids: torch.Tensor  # (B, T) int64
    mask: torch.Tensor  # (B, T) bool


@dataclasses.dataclass
class TokenFeatures:
    """Per-token features of a text encoder and the mask of positions that hold them."""

    features: torch.Tensor  # (B, T, E)
    mask: torch.Tensor  # (B, T) bool


@dataclasses.dataclass
class ContrastiveEmbeddings:
    """Unit-norm image and text embeddings in the shared space and the learned logit scale."""

    image_embeddings: torch.Tensor  # (B, E)
    text_embeddings: torch.Tensor  # (B, E)
    logit_scale: torch.Tensor  # () exp of the learned log scale (1 / temperature)


@dataclasses.dataclass
class AEOutput:
    """One pass of a deterministic autoencoder (AE, WAE): the code of each image and its decoding."""

    latents: torch.Tensor  # (B, L) the encoder's output, no noise
    parameters: torch.Tensor  # (B, P * C, H, W) likelihood parameters
    reconstruction: torch.Tensor  # (B, C, H, W) in [0, 1]
