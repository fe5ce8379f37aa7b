"""DALL-E's discrete VAE: K logits per code-map position, Gumbel-softmax relaxation, logit-Laplace pixels.

Ramesh et al., "Zero-Shot Text-to-Image Generation", https://arxiv.org/abs/2102.12092 (section 2.1, A.2, A.3).
Gumbel-softmax: Jang, Gu & Poole, https://arxiv.org/abs/1611.01144;
Maddison, Mnih & Teh, https://arxiv.org/abs/1611.00712.

The encoder gives logits over K codes at every position of an (h, w) map. In training the decoder
sees a relaxed one-hot sample, softmax((logits + Gumbel noise) / temperature), optionally made hard
in the forward pass (straight-through). The temperature is annealed from ``temperature_start`` to
``temperature_end`` over ``anneal_steps`` optimizer steps, set by ``on_train_step_end`` (a buffer, so a
checkpoint resumes at the temperature it was saved with), on one of two schedules, with p = min(s / anneal_steps, 1):

- ``"exponential"`` (DALL-E's): tau(s) = start * (end / start) ** p;
- ``"cosine"``: tau(s) = end + (start - end) * (1 + cos(pi p)) / 2 (stays warm longer, then drops).

The ELBO's KL term is the KL of the encoder's categorical to the uniform prior over K, weighted by
``kl_weight`` (DALL-E's beta) times ``kl_weight_factor``, which the trainer ramps from 0 to 1 over
``training.kl_warmup_steps`` (KL warm-up). Out of training mode the decoder sees the argmax codes, and
the editor's latent is the argmax code's embedding (``encode_latents``), re-quantised to the nearest
code embedding on decoding (``decode_latents``).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from vaestudio import ops
from vaestudio.common.batch import Batch
from vaestudio.models import losses
from vaestudio.models.base import CodeMapModel, TrainingOutput, register_model
from vaestudio.models.layers import ConvDecoder, ConvEncoder
from vaestudio.models.outputs import Bounds, DVAEOutput


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
    temperature_schedule: str = "exponential"  # "exponential" (DALL-E's) | "cosine"
    straight_through: bool = False  # hard one-hot codes in the forward pass, the relaxed gradient
    kl_weight: float = 1.0  # beta on KL(q || uniform); the trainer's kl_warmup_steps ramp it from 0
    logits_init_scale: float = 1.0  # the encoder's last layer starts at this times its default init
    # the pixel likelihood: DALL-E's "logit_laplace"; "bernoulli" for (near-)binary images such as MNIST, where a
    # logit-Laplace spends its first thousands of steps sharpening the background (docs/training-lab.md, dVAE)
    likelihood: str = "logit_laplace"

    def __post_init__(self) -> None:
        if self.image_size % self.downsample_factor:
            raise ValueError(
                f"image_size {self.image_size} must be divisible by downsample_factor "
                f"{self.downsample_factor}"
            )
        if not 0 < self.temperature_end <= self.temperature_start:
            raise ValueError("temperatures must satisfy 0 < temperature_end <= temperature_start")
        if self.temperature_schedule not in TEMPERATURE_SCHEDULES:
            raise ValueError(f"temperature_schedule = {self.temperature_schedule!r}; choose one of "
                             f"{list(TEMPERATURE_SCHEDULES)}")
        if self.likelihood not in losses.LIKELIHOODS:
            raise ValueError(f"likelihood = {self.likelihood!r}; choose one of {list(losses.LIKELIHOODS)}")
        if self.kl_weight < 0 or self.logits_init_scale <= 0:
            raise ValueError("kl_weight must be >= 0 and logits_init_scale > 0")

    def temperature_at(self, step: int) -> float:
        """The annealed Gumbel-softmax temperature after ``step`` optimizer steps."""
        progress = min(max(step, 0) / self.anneal_steps, 1.0) if self.anneal_steps > 0 else 1.0
        start, end = self.temperature_start, self.temperature_end
        if self.temperature_schedule == "cosine":
            return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))
        return start * (end / start) ** progress


TEMPERATURE_SCHEDULES = ("exponential", "cosine")


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
        self.likelihood = losses.make_likelihood(config.likelihood)  # a learned scale for "gaussian"
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
            self.likelihood.parameters_per_channel * config.image_channels,
            config.downsample_factor,
            config.num_residual_blocks,
            config.residual_channels,
        )
        with torch.no_grad():  # small logits at the start: every code about equally likely, so all get used
            self.encoder.project.weight.mul_(config.logits_init_scale)
            self.encoder.project.bias.mul_(config.logits_init_scale)
        self.register_buffer("temperature", torch.tensor(float(config.temperature_start)))
        self.kl_weight_factor = 1.0  # times kl_weight in the training loss: the trainer's KL warm-up ramps it to 1

    def on_train_step_end(self, step: int) -> None:
        self.temperature.fill_(self.config.temperature_at(step))

    def code_logits(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W) in [0, 1] -> logits (B, K, h, w)."""
        return self.encoder(2.0 * images - 1.0)

    def encode_codes(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W) -> the most likely code at every position (B, h, w) int64."""
        return self.code_logits(images).argmax(1)

    def decode_soft_codes(self, soft_codes: torch.Tensor) -> torch.Tensor:
        """(relaxed) one-hot codes (B, K, h, w) -> likelihood parameters (B, P*C, H, W)."""
        return self.decoder(self.code_embedding(soft_codes))

    def decode_code_parameters(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, h, w) -> likelihood parameters (B, P*C, H, W): the one-hot path as a lookup."""
        return self.decoder(self.embed_codes(codes))

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, h, w) -> images (B, C, H, W) in [0, 1]."""
        return self.likelihood.image(self.decode_code_parameters(codes))

    def code_table(self) -> torch.Tensor:
        """The embedding of every code, (K, D): what the decoder starts from for a one-hot code."""
        return self.code_embedding.weight[:, :, 0, 0].t()

    def embed_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, h, w) -> their embeddings (B, D, h, w): the one-hot path as a lookup."""
        return F.embedding(codes, self.code_table()).permute(0, 3, 1, 2)

    @torch.no_grad()
    def encode_latents(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W) -> the embedding of the argmax code at every position (B, D, h, w)."""
        return self.embed_codes(self.encode_codes(images))

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents (B, D, h, w), possibly edited, -> the nearest code embedding at every position -> images."""
        batch, dim, height, width = latents.shape
        vectors = latents.float().permute(0, 2, 3, 1).reshape(-1, dim)  # (B*h*w, D)
        codes, _ = ops.nearest_code(vectors.contiguous(), self.code_table().detach().float().contiguous())
        return self.decode_codes(codes.view(batch, height, width))  # (B, C, H, W)

    @torch.no_grad()
    def bounds(self, images: torch.Tensor, num_samples: int, chunk_size: int = 1024,
               generator: torch.Generator | None = None) -> Bounds:
        """Monte Carlo ELBO and IWAE-``num_samples`` bound on log p(x) in nats per image (B,) each, for the
        discrete model: code maps drawn from the encoder's categorical q (hard, not relaxed), the uniform prior
        p(z) = K^-(h w), the decoder's likelihood of the pixels. At most ``chunk_size`` (image, sample) pairs
        are decoded at once. kl_weight does not enter: this is the bound itself."""
        if num_samples < 1 or chunk_size < 1:
            raise ValueError("num_samples and chunk_size must be at least 1")
        samples_per_chunk = min(num_samples, chunk_size)
        images_per_chunk = max(1, chunk_size // samples_per_chunk)
        elbos, iwaes = [], []
        for start in range(0, images.shape[0], images_per_chunk):
            chunk = images[start : start + images_per_chunk]  # (b, C, H, W)
            log_q = F.log_softmax(self.code_logits(chunk).float(), dim=1)  # (b, K, h, w)
            log_prior = -log_q[0, 0].numel() * math.log(self.config.num_codes)  # log p(z), the same for every map
            log_sum_exp = torch.full((chunk.shape[0],), -math.inf, device=chunk.device)  # (b,)
            total = torch.zeros(chunk.shape[0], device=chunk.device)  # (b,)
            for drawn in range(0, num_samples, samples_per_chunk):
                count = min(samples_per_chunk, num_samples - drawn)
                repeated = log_q.repeat(count, 1, 1, 1)  # (s*b, K, h, w), sample-major
                uniform = torch.rand(repeated.shape, generator=generator, device=repeated.device)
                gumbel = -torch.log(-torch.log(uniform.clamp(1e-20, 1.0 - 1e-7)))  # (s*b, K, h, w)
                codes = (repeated + gumbel).argmax(1)  # (s*b, h, w): exact draws from q (Gumbel-max)
                log_q_codes = repeated.gather(1, codes[:, None]).flatten(1).sum(1)  # (s*b,)
                parameters = self.decode_code_parameters(codes)  # (s*b, P*C, H, W)
                targets = chunk.repeat(count, 1, 1, 1)  # (s*b, C, H, W)
                log_likelihood = self.likelihood.log_prob(parameters, targets).flatten(1).sum(1)  # (s*b,)
                log_weights = (log_likelihood + log_prior - log_q_codes).view(count, -1).float()  # (s, b)
                log_sum_exp = torch.logaddexp(log_sum_exp, torch.logsumexp(log_weights, dim=0))
                total += log_weights.sum(0)
            elbos.append(total / num_samples)
            iwaes.append(log_sum_exp - math.log(num_samples))
        return Bounds(torch.cat(elbos), torch.cat(iwaes))

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> DVAEOutput:
        logits = self.code_logits(images)  # (B, K, h, w)
        if self.training:
            temperature = float(self.temperature)
            soft_codes = gumbel_softmax(logits, temperature, self.config.straight_through, 1, generator)
        else:
            one_hot = F.one_hot(logits.argmax(1), self.config.num_codes)  # (B, h, w, K)
            soft_codes = one_hot.permute(0, 3, 1, 2).to(logits.dtype)  # (B, K, h, w)
        parameters = self.decode_soft_codes(soft_codes)  # (B, P*C, H, W)
        return DVAEOutput(logits, soft_codes, parameters, self.likelihood.image(parameters))

    def training_loss(self, batch: Batch) -> TrainingOutput:
        """(negative log-likelihood + kl_weight * KL to uniform) per example, divided by C*H*W, batch mean."""
        images = batch.images
        output = self(images)
        num_dimensions = images[0].numel()
        log_likelihood = self.likelihood.log_prob(output.parameters, images)  # (B, C, H, W)
        negative_log_likelihood = -log_likelihood.flatten(1).sum(1)  # (B,)
        kl = categorical_kl_to_uniform(output.logits).flatten(1).sum(1)  # (B,)
        kl_weight = self.config.kl_weight * self.kl_weight_factor
        loss = (negative_log_likelihood + kl_weight * kl).mean() / num_dimensions
        codes = output.logits.argmax(1).flatten()  # (B*h*w,)
        frequencies = torch.bincount(codes, minlength=self.config.num_codes).float() / codes.numel()  # (K,)
        entropy = -(frequencies * torch.log(frequencies.clamp_min(1e-12))).sum()
        bound = negative_log_likelihood + kl  # (B,) relaxed negative ELBO
        logs = {
            "loss": losses.logged_mean(loss),
            "reconstruction": losses.logged_mean(-negative_log_likelihood),
            "kl": losses.logged_mean(kl),
            "bits_per_dim": losses.logged_mean(losses.bits_per_dim(bound, num_dimensions, self.likelihood.density_bins)),
            "mse": losses.logged_mean((output.reconstruction - images).pow(2)),
            "temperature": float(self.temperature),
            "kl_weight": float(kl_weight),
            "perplexity": float(entropy.exp()),
            "usage": float((frequencies > 0).float().mean()),
        }
        return TrainingOutput(loss, logs)
