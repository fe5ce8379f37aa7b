"""The Wasserstein autoencoder with an MMD penalty (WAE-MMD).

- Tolstikhin, Bousquet, Gelly & Schoelkopf, "Wasserstein Auto-Encoders", ICLR 2018,
  https://arxiv.org/abs/1711.01558 (Algorithm 2, WAE-MMD; section 4 for the kernels and C = 2 L sigma_z^2).

An :class:`~vaestudio.models.ae.AE` (deterministic encoder, same bodies as the VAE) whose loss adds
lambda * MMD^2(Q_Z, P_Z): the codes of the whole batch, taken together, are pushed toward the prior
N(0, sigma_z^2 I) instead of each posterior being pulled to it by a KL. So the decoder can be sampled:
z ~ P_Z, x = G(z). The reconstruction cost c(x, G(z)) is -log p(x | z) under the chosen likelihood.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import torch

from vaestudio.common.batch import Batch
from vaestudio.models import losses
from vaestudio.models.ae import AE, AEConfig
from vaestudio.models.base import TrainingOutput, register_model

PAPER_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)  # multiples of C the paper sums kernels over


@dataclasses.dataclass
class WAEConfig(AEConfig):
    kernel: str = "imq"  # "imq" (the paper's choice: heavy tails) or "rbf"
    mmd_weight: float = 10.0  # lambda, the weight of MMD^2 against the reconstruction cost
    prior_variance: float = 1.0  # sigma_z^2 of the prior N(0, sigma_z^2 I)
    kernel_scales: tuple[float, ...] = PAPER_SCALES  # kernels at scale * C, C = 2 L sigma_z^2, summed

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kernel_scales = tuple(float(scale) for scale in self.kernel_scales)
        if self.kernel not in losses.MMD_KERNELS:
            raise ValueError(f"WAEConfig.kernel must be one of {losses.MMD_KERNELS}, got {self.kernel!r}")
        if self.mmd_weight < 0 or self.prior_variance <= 0:
            raise ValueError(f"mmd_weight must be >= 0 and prior_variance > 0, got {self.mmd_weight} and "
                             f"{self.prior_variance}")
        if not self.kernel_scales or min(self.kernel_scales) <= 0:
            raise ValueError(f"kernel_scales must be positive numbers, got {self.kernel_scales}")

    @property
    def base_scale(self) -> float:
        """C = 2 L sigma_z^2."""
        return 2.0 * self.latent_dim * self.prior_variance


@register_model
class WAE(AE):
    model_type = "wae"
    config_class = WAEConfig
    has_prior: ClassVar[bool] = True  # the codes are matched to N(0, sigma_z^2 I) as a whole

    def mmd_to_prior(self, latents: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Unbiased MMD^2 between codes (B, L) and as many prior draws: a () scalar."""
        noise = torch.randn(latents.shape, generator=generator, device=latents.device, dtype=latents.dtype)
        prior = math.sqrt(self.config.prior_variance) * noise  # (B, L)
        scales = tuple(scale * self.config.base_scale for scale in self.config.kernel_scales)
        return losses.unbiased_mmd(latents, prior, self.config.kernel, scales)

    def training_loss(self, batch: Batch) -> TrainingOutput:
        """Reconstruction cost plus lambda * MMD^2(codes, prior draws), batch mean."""
        output = self(batch.images)
        reconstruction = self.log_likelihood(output.parameters, batch.images)  # (B,)
        mmd = self.mmd_to_prior(output.latents)  # ()
        loss = -reconstruction.mean() + self.config.mmd_weight * mmd
        return TrainingOutput(loss, {"loss": losses.logged_mean(loss),
                                     "reconstruction": losses.logged_mean(reconstruction),
                                     "mmd": losses.logged_mean(mmd)})

    @torch.no_grad()
    def sample(self, num_samples: int, condition=None, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """Images from z ~ N(0, temperature^2 sigma_z^2 I): (num_samples, C, H, W) in [0, 1]."""
        self._unconditional(condition)
        noise = torch.randn(num_samples, self.config.latent_dim, generator=generator, device=self.device)
        return self.decode(temperature * math.sqrt(self.config.prior_variance) * noise)  # (N, C, H, W)
