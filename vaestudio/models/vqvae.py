"""VQ-VAE and its two-level form VQ-VAE-2.

- VQ-VAE: van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation Learning",
  https://arxiv.org/abs/1711.00937 — conv encoder, nearest-code quantisation with a straight-through
  gradient, commitment loss, conv decoder; a PixelCNN prior is learned afterwards on the codes.
- VQ-VAE-2: Razavi, van den Oord & Vinyals, "Generating Diverse High-Fidelity Images with VQ-VAE-2",
  https://arxiv.org/abs/1906.00446 — EMA codebook updates and a hierarchy: a top code map (coarse,
  global) is decoded and conditions the bottom one; the decoder sees both.

Two levels, with f = downsample_factor and t = top_downsample_factor::

    features = encoder(x)                                     (B, hidden, H/f, W/f)
    top      = quantize_top(top_encoder(features))            (B, D, H/(f t), W/(f t))
    bottom   = quantize_bottom(conv1x1([features, top_decoder(top)]))   (B, D, H/f, W/f)
    image    = decoder([bottom, upsample(top)])

The codebooks (in :class:`VectorQuantizer`) stay in fp32 under autocast. Encoders see 2x - 1. They learn
by EMA (the default) or, with ``codebook_update = "loss"``, by the paper's codebook loss ||sg[z_e] - e||^2.
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
from vaestudio.models.layers import ConvDecoder, ConvEncoder, UpsampleStack, num_halvings
from vaestudio.models.outputs import Hierarchy, VQVAEOutput
from vaestudio.models.quantizer import CodebookUsage, QuantizerConfig, QuantizerOutput, VectorQuantizer

VQ_LIKELIHOODS = ("mse", "logit_laplace")

Codes = torch.Tensor | Hierarchy[torch.Tensor]  # (B, h, w), or top and bottom maps for two levels
Latents = torch.Tensor | Hierarchy[torch.Tensor]  # (B, D, h, w), or top and bottom maps for two levels


@dataclasses.dataclass
class VQVAEConfig:
    image_channels: int = 3
    image_size: int = 64
    hidden_channels: int = 128
    residual_channels: int = 64  # inside each residual block
    num_residual_blocks: int = 2
    downsample_factor: int = 4  # 4: 16x16 codes for 64x64 images; 8: 8x8
    num_codes: int = 512
    code_dim: int = 64
    ema_decay: float = 0.99
    eps: float = 1e-5
    commitment_weight: float = 0.25
    kmeans_init: bool = True  # k-means on the first training batch
    kmeans_iterations: int = 10
    dead_code_threshold: float = 1.0  # revive codes whose EMA cluster size (per batch) drops below; 0: never
    codebook_update: str = "ema"  # "ema": moving averages; "loss": the paper's ||sg[z_e] - e||^2, by gradient
    likelihood: str = "mse"  # "mse" or "logit_laplace"
    levels: int = 1  # 1: VQ-VAE; 2: VQ-VAE-2 (top and bottom code maps)
    top_downsample_factor: int = 2  # levels == 2: how much smaller the top map is than the bottom one

    def __post_init__(self) -> None:
        self.quantizer_config()  # checks codebook_update and its pairing with dead_code_threshold
        if self.likelihood not in VQ_LIKELIHOODS:
            raise ValueError(
                f"VQVAEConfig.likelihood must be one of {VQ_LIKELIHOODS}, got {self.likelihood!r}"
            )
        if self.levels not in (1, 2):
            raise ValueError(f"VQVAEConfig.levels must be 1 or 2, got {self.levels}")
        total = self.downsample_factor * (self.top_downsample_factor if self.levels == 2 else 1)
        for factor in (self.downsample_factor, self.top_downsample_factor):
            num_halvings(factor)  # raises unless a power of two
        if self.image_size % total:
            raise ValueError(
                f"image_size {self.image_size} must be divisible by the total downsampling {total}"
            )

    def quantizer_config(self) -> QuantizerConfig:
        return QuantizerConfig(
            num_codes=self.num_codes,
            code_dim=self.code_dim,
            ema_decay=self.ema_decay,
            eps=self.eps,
            commitment_weight=self.commitment_weight,
            kmeans_init=self.kmeans_init,
            kmeans_iterations=self.kmeans_iterations,
            dead_code_threshold=self.dead_code_threshold,
            codebook_update=self.codebook_update,
        )


@register_model
class VQVAE(CodeMapModel):
    model_type = "vqvae"
    config_class = VQVAEConfig

    def __init__(self, config: VQVAEConfig) -> None:
        super().__init__(config)
        hidden, code_dim = config.hidden_channels, config.code_dim
        blocks = (config.num_residual_blocks, config.residual_channels)
        self.likelihood = losses.LogitLaplaceLikelihood() if config.likelihood == "logit_laplace" else None
        out_channels = config.image_channels * (2 if self.likelihood is not None else 1)
        two_levels = config.levels == 2
        self.encoder = ConvEncoder(
            config.image_channels,
            hidden,
            hidden if two_levels else code_dim,
            config.downsample_factor,
            *blocks,
        )
        self.quantizer = VectorQuantizer(config.quantizer_config())  # the bottom (or only) codebook
        self.decoder = ConvDecoder(
            code_dim * (2 if two_levels else 1), hidden, out_channels, config.downsample_factor, *blocks
        )
        if two_levels:
            factor = config.top_downsample_factor
            self.top_encoder = ConvEncoder(hidden, hidden, code_dim, factor, *blocks)
            self.top_quantizer = VectorQuantizer(config.quantizer_config())
            self.top_decoder = ConvDecoder(code_dim, hidden, code_dim, factor, *blocks)
            self.bottom_projection = nn.Conv2d(hidden + code_dim, code_dim, kernel_size=1)
            self.top_upsample = UpsampleStack([code_dim] * num_halvings(factor), code_dim, "relu")

    @property
    def code_map_shapes(self) -> tuple[tuple[int, int], ...]:
        """(h, w) of every code map, top first for two levels."""
        if self.config.levels == 1:
            return (self.code_map_shape,)
        side = self.code_map_shape[0] // self.config.top_downsample_factor
        return (side, side), self.code_map_shape

    def _quantizers(self) -> list[VectorQuantizer]:
        return [self.top_quantizer, self.quantizer] if self.config.levels == 2 else [self.quantizer]

    def reset_usage(self) -> None:
        """Starts a new codebook-usage count in every quantiser (call at the start of an epoch)."""
        for quantizer in self._quantizers():
            quantizer.reset_usage()

    def codebook_usage(self) -> CodebookUsage | Hierarchy[CodebookUsage]:
        """Fraction of codes used and their perplexity since ``reset_usage``; per level for two levels."""
        if self.config.levels == 2:
            return Hierarchy(self.top_quantizer.usage(), self.quantizer.usage())
        return self.quantizer.usage()

    # -- the network -------------------------------------------------------------------------
    def _bottom_latents(self, features: torch.Tensor, top_quantized: torch.Tensor) -> torch.Tensor:
        """Bottom pre-quantisation latents from encoder features and the quantised top map: (B, D, h, w)."""
        return self.bottom_projection(torch.cat([features, self.top_decoder(top_quantized)], dim=1))

    def _decode_quantized(self, quantized: torch.Tensor | Hierarchy[torch.Tensor]) -> torch.Tensor:
        """Quantised maps -> decoder parameters (B, P*C, H, W)."""
        if isinstance(quantized, Hierarchy):
            return self.decoder(torch.cat([quantized.bottom, self.top_upsample(quantized.top)], dim=1))
        return self.decoder(quantized)

    def _image(self, parameters: torch.Tensor) -> torch.Tensor:
        if self.likelihood is not None:
            return self.likelihood.image(parameters)
        return parameters.clamp(0.0, 1.0)

    def forward(self, images: torch.Tensor) -> VQVAEOutput:
        """images (B, C, H, W) in [0, 1] -> codes, parameters, reconstruction and the quantisers' losses.

        In training mode the quantisers update their codebooks (EMA, k-means init, revival).
        """
        features = self.encoder(2.0 * images - 1.0)  # (B, hidden or D, h, w)
        if self.config.levels == 1:
            result: QuantizerOutput = self.quantizer(features)
            parameters = self._decode_quantized(result.quantized)  # (B, P*C, H, W)
            return VQVAEOutput(
                result.codes, parameters, self._image(parameters), result.commitment_loss, result.perplexity,
                result.codebook_loss,
            )
        top = self.top_quantizer(self.top_encoder(features))  # codes (B, h/t, w/t)
        bottom = self.quantizer(self._bottom_latents(features, top.quantized))  # codes (B, h, w)
        parameters = self._decode_quantized(Hierarchy(top.quantized, bottom.quantized))  # (B, P*C, H, W)
        return VQVAEOutput(
            Hierarchy(top.codes, bottom.codes),
            parameters,
            self._image(parameters),
            top.commitment_loss + bottom.commitment_loss,
            bottom.perplexity,
            None if bottom.codebook_loss is None else top.codebook_loss + bottom.codebook_loss,
        )

    # -- inference helpers (never update the codebooks) ---------------------------------------
    @staticmethod
    def _nearest_codes(quantizer: VectorQuantizer, latents: torch.Tensor) -> torch.Tensor:
        """latents (B, D, h, w) -> nearest codes (B, h, w), in fp32; leaves codebooks and usage alone."""
        batch, dim, height, width = latents.shape
        vectors = latents.detach().float().permute(0, 2, 3, 1).reshape(-1, dim)  # (B*h*w, D)
        codes, _ = ops.nearest_code(vectors, quantizer.codebook.detach())  # (B*h*w,)
        return codes.view(batch, height, width)

    @torch.no_grad()
    def encode_latents(self, images: torch.Tensor) -> Latents:
        """Pre-quantisation latents (B, D, h, w); for two levels the top map and the bottom map (computed from
        the quantised top, as in the forward pass)."""
        features = self.encoder(2.0 * images - 1.0)  # (B, hidden or D, h, w)
        if self.config.levels == 1:
            return features
        top = self.top_encoder(features)  # (B, D, h/t, w/t)
        top_codes = self._nearest_codes(self.top_quantizer, top)  # (B, h/t, w/t)
        top_quantized = self.top_quantizer.lookup(top_codes)  # (B, D, h/t, w/t)
        return Hierarchy(top, self._bottom_latents(features, top_quantized.to(features.dtype)))

    @torch.no_grad()
    def encode_codes(self, images: torch.Tensor) -> Codes:
        """Code maps (B, h, w) int64; ``Hierarchy(top, bottom)`` for two levels."""
        latents = self.encode_latents(images)
        if isinstance(latents, Hierarchy):
            return Hierarchy(
                self._nearest_codes(self.top_quantizer, latents.top),
                self._nearest_codes(self.quantizer, latents.bottom),
            )
        return self._nearest_codes(self.quantizer, latents)

    @torch.no_grad()
    def decode_codes(self, codes: Codes) -> torch.Tensor:
        """Code maps -> images (B, C, H, W) in [0, 1]."""
        if self.config.levels == 2:
            if not isinstance(codes, Hierarchy):
                raise TypeError("a two-level VQ-VAE decodes Hierarchy(top, bottom) code maps")
            quantized = Hierarchy(self.top_quantizer.lookup(codes.top), self.quantizer.lookup(codes.bottom))
            return self._image(self._decode_quantized(quantized))
        if isinstance(codes, Hierarchy):
            raise TypeError("a one-level VQ-VAE decodes a (B, h, w) code map, not a Hierarchy")
        return self._image(self._decode_quantized(self.quantizer.lookup(codes)))

    @torch.no_grad()
    def decode_latents(self, latents: Latents) -> torch.Tensor:
        """Quantises latents (as returned by ``encode_latents``, possibly edited) and decodes them."""
        if self.config.levels == 2:
            if not isinstance(latents, Hierarchy):
                raise TypeError("a two-level VQ-VAE decodes Hierarchy(top, bottom) latents")
            codes = Hierarchy(
                self._nearest_codes(self.top_quantizer, latents.top),
                self._nearest_codes(self.quantizer, latents.bottom),
            )
            return self.decode_codes(codes)
        return self.decode_codes(self._nearest_codes(self.quantizer, latents))

    @torch.no_grad()
    def decode_vectors(self, vectors: torch.Tensor) -> torch.Tensor:
        """Code vectors (B, D, h, w) decoded as they are, without quantising -> images (B, C, H, W) in [0, 1].

        For vectors off the codebook, e.g. a Gumbel-softmax relaxation: a weighted mix of codebook rows. One level.
        """
        if self.config.levels != 1:
            raise TypeError("decode_vectors decodes a one-level VQ-VAE's code vectors; use decode_codes for two levels")
        return self._image(self._decode_quantized(vectors))

    # -- training ----------------------------------------------------------------------------
    def training_loss(self, batch: Batch) -> TrainingOutput:
        """Reconstruction (MSE, or logit-Laplace negative log-likelihood per dimension) + commitment."""
        images = batch.images
        output = self(images)
        mse = (output.reconstruction - images.to(output.reconstruction.dtype)).pow(2).mean()
        if self.likelihood is None:
            reconstruction_loss = F.mse_loss(output.parameters, images.to(output.parameters.dtype))
        else:
            reconstruction_loss = -self.likelihood.log_prob(output.parameters.float(), images.float()).mean()
        loss = reconstruction_loss + output.commitment_loss
        if output.codebook_loss is not None:  # codebook_update "loss": the codebook learns by this term
            loss = loss + output.codebook_loss
        logs = {
            "loss": losses.logged_mean(loss),
            "reconstruction": losses.logged_mean(reconstruction_loss),
            "commitment": losses.logged_mean(output.commitment_loss),
            "mse": losses.logged_mean(mse),
            "psnr": -10.0 * math.log10(max(losses.logged_mean(mse), 1e-10)),
            "perplexity": losses.logged_mean(output.perplexity),
        }
        if output.codebook_loss is not None:
            logs["codebook_loss"] = losses.logged_mean(output.codebook_loss)
        usage = self.quantizer.usage()  # since the last reset_usage(): over the epoch so far
        logs["usage"], logs["usage_perplexity"] = usage.alive_fraction, usage.perplexity
        if self.config.levels == 2:
            logs["top_usage"] = self.top_quantizer.usage().alive_fraction
        return TrainingOutput(loss, logs)
