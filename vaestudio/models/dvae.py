"""DALL-E's discrete VAE: K logits per code-map position, Gumbel-softmax relaxation, logit-Laplace pixels.

Ramesh et al., "Zero-Shot Text-to-Image Generation", https://arxiv.org/abs/2102.12092 (section 2.1, A.2, A.3).
Gumbel-softmax: Jang, Gu & Poole, https://arxiv.org/abs/1611.01144;
Maddison, Mnih & Teh, https://arxiv.org/abs/1611.00712.

The encoder gives logits over K codes at every position of an (h, w) map. In training the decoder
sees a relaxed one-hot sample, softmax((logits + Gumbel noise) / temperature), optionally made hard
in the forward pass (straight-through). The temperature is annealed geometrically from
``temperature_start`` to ``temperature_end`` over ``anneal_steps`` optimizer steps
(tau(s) = start * (end / start) ** min(s / anneal_steps, 1)), set by ``on_train_step_end``; it is a
buffer, so a checkpoint resumes at the temperature it was saved with. The ELBO's KL term is the KL of
the encoder's categorical to the uniform prior over K, weighted by ``kl_weight`` (DALL-E's beta).
Out of training mode the decoder sees the argmax codes.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from vaestudio.common.batch import Batch
from vaestudio.models import losses
from vaestudio.models.base import CodeMapModel, TrainingOutput, register_model
from vaestudio.models.layers import ConvDecoder, ConvEncoder
from vaestudio.models.outputs import DVAEOutput


@dataclasses.dataclass
class DVAEConfig:
    image_channels: int = 3
    image_size: int = 64
    hidden_channels: int = 64
    num_residual_blocks: int = 2
    residual_channels: int = 32
    downsample_factor: int = 4  # 4: a 16x16 code map for 64x64 images; DALL-E uses 8
    num_codes: int = 512
    code_dim: int = 64  # width of the code embedding the decoder starts from
    temperature_start: float = 1.0
    temperature_end: float = 1.0 / 16.0
    anneal_steps: int = 5000
    straight_through: bool = False
    kl_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.image_size % self.downsample_factor:
            raise ValueError(
                f"image_size {self.image_size} must be divisible by downsample_factor "
                f"{self.downsample_factor}"
            )
        if not 0 < self.temperature_end <= self.temperature_start:
            raise ValueError("temperatures must satisfy 0 < temperature_end <= temperature_start")

    def temperature_at(self, step: int) -> float:
        """The annealed Gumbel-softmax temperature after ``step`` optimizer steps."""
        progress = min(max(step, 0) / self.anneal_steps, 1.0) if self.anneal_steps > 0 else 1.0
        return self.temperature_start * (self.temperature_end / self.temperature_start) ** progress


def gumbel_softmax(
    logits: torch.Tensor,
    temperature: float,
    hard: bool = False,
    dim: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A relaxed one-hot sample softmax((logits + g) / temperature), g ~ Gumbel(0, 1) iid, along ``dim``.

    With ``hard`` the forward value is the one-hot of its argmax and the gradient the relaxed one's.
    """
    uniform = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=logits.dtype)
    tiny = torch.finfo(logits.dtype).tiny
    gumbel = -torch.log(-torch.log(uniform.clamp(tiny, 1.0 - 1e-7)))  # same shape as logits
    soft = F.softmax((logits + gumbel) / temperature, dim=dim)
    if not hard:
        return soft
    one_hot = torch.zeros_like(soft).scatter_(dim, soft.argmax(dim, keepdim=True), 1.0)
    return one_hot - soft.detach() + soft


def categorical_kl_to_uniform(logits: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """KL(softmax(logits) || uniform over K) = sum q log q + log K, reducing ``dim``."""
    log_probabilities = F.log_softmax(logits, dim=dim)
    return (log_probabilities.exp() * log_probabilities).sum(dim) + math.log(logits.shape[dim])


@register_model
class DVAE(CodeMapModel):
    model_type = "dvae"
    config_class = DVAEConfig

    def __init__(self, config: DVAEConfig) -> None:
        super().__init__(config)
        self.likelihood = losses.LogitLaplaceLikelihood()
        self.encoder = ConvEncoder(
            config.image_channels,
            config.hidden_channels,
            config.num_codes,
            config.downsample_factor,
            config.num_residual_blocks,
            config.residual_channels,
        )
        # one-hot codes (B, K, h, w) -> embedded codes (B, D, h, w)
        self.code_embedding = nn.Conv2d(config.num_codes, config.code_dim, kernel_size=1, bias=False)
        self.decoder = ConvDecoder(
            config.code_dim,
            config.hidden_channels,
            2 * config.image_channels,
            config.downsample_factor,
            config.num_residual_blocks,
            config.residual_channels,
        )
        self.register_buffer("temperature", torch.tensor(float(config.temperature_start)))

    def on_train_step_end(self, step: int) -> None:
        self.temperature.fill_(self.config.temperature_at(step))

    def code_logits(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W) in [0, 1] -> logits (B, K, h, w)."""
        return self.encoder(2.0 * images - 1.0)

    def encode_codes(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W) -> the most likely code at every position (B, h, w) int64."""
        return self.code_logits(images).argmax(1)

    def decode_soft_codes(self, soft_codes: torch.Tensor) -> torch.Tensor:
        """(relaxed) one-hot codes (B, K, h, w) -> logit-Laplace parameters (B, 2C, H, W)."""
        return self.decoder(self.code_embedding(soft_codes))

    def decode_code_parameters(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, h, w) -> logit-Laplace parameters (B, 2C, H, W): the one-hot path as a lookup."""
        table = self.code_embedding.weight[:, :, 0, 0].t()  # (K, D)
        embedded = F.embedding(codes, table).permute(0, 3, 1, 2)  # (B, D, h, w)
        return self.decoder(embedded)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, h, w) -> images (B, C, H, W) in [0, 1]."""
        return self.likelihood.image(self.decode_code_parameters(codes))

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> DVAEOutput:
        logits = self.code_logits(images)  # (B, K, h, w)
        if self.training:
            temperature = float(self.temperature)
            soft_codes = gumbel_softmax(logits, temperature, self.config.straight_through, 1, generator)
        else:
            one_hot = F.one_hot(logits.argmax(1), self.config.num_codes)  # (B, h, w, K)
            soft_codes = one_hot.permute(0, 3, 1, 2).to(logits.dtype)  # (B, K, h, w)
        parameters = self.decode_soft_codes(soft_codes)  # (B, 2C, H, W)
        return DVAEOutput(logits, soft_codes, parameters, self.likelihood.image(parameters))

    def training_loss(self, batch: Batch) -> TrainingOutput:
        """(negative log-likelihood + kl_weight * KL to uniform) per example, divided by C*H*W, batch mean."""
        images = batch.images
        output = self(images)
        num_dimensions = images[0].numel()
        log_likelihood = self.likelihood.log_prob(output.parameters, images)  # (B, C, H, W)
        negative_log_likelihood = -log_likelihood.flatten(1).sum(1)  # (B,)
        kl = categorical_kl_to_uniform(output.logits).flatten(1).sum(1)  # (B,)
        loss = (negative_log_likelihood + self.config.kl_weight * kl).mean() / num_dimensions
        codes = output.logits.argmax(1).flatten()  # (B*h*w,)
        frequencies = torch.bincount(codes, minlength=self.config.num_codes).float() / codes.numel()  # (K,)
        entropy = -(frequencies * torch.log(frequencies.clamp_min(1e-12))).sum()
        bound = negative_log_likelihood + kl  # (B,) relaxed negative ELBO
        logs = {
            "loss": losses.logged_mean(loss),
            "reconstruction": losses.logged_mean(-negative_log_likelihood),
            "kl": losses.logged_mean(kl),
            "bits_per_dim": losses.logged_mean(losses.bits_per_dim(bound, num_dimensions, 256)),
            "mse": losses.logged_mean((output.reconstruction - images).pow(2)),
            "temperature": float(self.temperature),
            "perplexity": float(entropy.exp()),
            "usage": float((frequencies > 0).float().mean()),
        }
        return TrainingOutput(loss, logs)
