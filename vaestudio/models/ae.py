"""The deterministic autoencoder: the baseline every course defines the VAE against.

- Hinton & Salakhutdinov, "Reducing the Dimensionality of Data with Neural Networks", Science 2006,
  https://www.cs.toronto.edu/~hinton/absps/science.pdf
- Goodfellow, Bengio & Courville, "Deep Learning", chapter 14 (Autoencoders),
  https://www.deeplearningbook.org/contents/autoencoders.html

The same encoder and decoder bodies as :class:`vaestudio.models.vae.VAE` (MLP or conv), but the encoder
emits the code z = f(x) itself (L numbers, no variance) and the loss is the reconstruction term alone,
-log p(x | z) under the VAE's likelihoods. Nothing shapes the codes toward a prior, so an AE has no
prior to sample from: it encodes, interpolates and scatters, but does not generate.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch

from vaestudio.common.batch import Batch
from vaestudio.models import losses
from vaestudio.models.base import StudioModel, TrainingOutput, register_model
from vaestudio.models.outputs import AEOutput
from vaestudio.models.vae import BodyConfig, ConvBody, MLPBody


@dataclasses.dataclass
class AEConfig(BodyConfig):
    """The VAE's body settings; the likelihood's -log p(x | z) is the reconstruction cost."""

    @property
    def condition_dim(self) -> int:
        return 0  # unconditional: the shared bodies append no condition vector


@register_model
class AE(StudioModel):
    model_type = "ae"
    config_class = AEConfig
    has_prior: ClassVar[bool] = False  # codes are not matched to any prior: no sampling

    def __init__(self, config: AEConfig) -> None:
        super().__init__(config)
        self.likelihood = losses.make_likelihood(config.likelihood, config.gaussian_scale)
        out_channels = self.likelihood.parameters_per_channel * config.image_channels
        body = MLPBody if config.body == "mlp" else ConvBody
        self.body = body(config, out_channels, encoder_outputs=config.latent_dim)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @staticmethod
    def _unconditional(condition) -> None:
        if condition is not None:
            raise ValueError("this autoencoder is unconditional; pass condition=None")

    def encode(self, images: torch.Tensor, condition=None) -> torch.Tensor:
        """images (B, C, H, W) in [0, 1] -> codes (B, L)."""
        self._unconditional(condition)
        return self.body.encode(images, None)  # (B, L)

    def decode_parameters(self, latents: torch.Tensor, condition=None) -> torch.Tensor:
        """codes (N, L) -> likelihood parameters (N, P * C, H, W)."""
        self._unconditional(condition)
        return self.body.decode(latents, None)

    def decode(self, latents: torch.Tensor, condition=None) -> torch.Tensor:
        """codes (N, L) -> images (N, C, H, W) in [0, 1] (the likelihood's mean or median)."""
        return self.likelihood.image(self.decode_parameters(latents, condition))

    def forward(self, images: torch.Tensor, condition=None) -> AEOutput:
        latents = self.encode(images, condition)  # (B, L)
        parameters = self.body.decode(latents, None)  # (B, P*C, H, W)
        return AEOutput(latents, parameters, self.likelihood.image(parameters))

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, condition=None) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W) in [0, 1]."""
        return self.decode(self.encode(images, condition))

    def log_likelihood(self, parameters: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """log p(x | z) summed over pixels: parameters (B, P*C, H, W), images (B, C, H, W) -> (B,)."""
        return self.likelihood.log_prob(parameters, images).flatten(-3).sum(-1)

    def training_loss(self, batch: Batch) -> TrainingOutput:
        """The reconstruction cost -log p(x | f(x)), batch mean, in nats per image."""
        output = self(batch.images)
        reconstruction = self.log_likelihood(output.parameters, batch.images)  # (B,)
        loss = -reconstruction.mean()
        return TrainingOutput(loss, {"loss": losses.logged_mean(loss),
                                     "reconstruction": losses.logged_mean(reconstruction)})
