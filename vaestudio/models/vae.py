"""The Gaussian VAE: diagonal posterior, reparameterisation, ELBO or IWAE-k, optional conditioning.

- VAE: Kingma & Welling, "Auto-Encoding Variational Bayes", https://arxiv.org/abs/1312.6114
- IWAE: Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", https://arxiv.org/abs/1509.00519
- beta-VAE: Higgins et al., ICLR 2017, https://openreview.net/forum?id=Sy2fzU9gl
- Conditional VAE: Sohn, Lee & Yan, NeurIPS 2015 (the condition is fed to encoder and decoder).
- Free bits: Kingma et al., "Improved Variational Inference with Inverse Autoregressive Flow",
  https://arxiv.org/abs/1606.04934 (a floor under each latent dimension's KL in the loss).
- PixelVAE (``decoder = "pixelcnn"``): Gulrajani et al., https://arxiv.org/abs/1611.05013 - an autoregressive
  decoder p(x | z) = prod_i p(x_i | x_<i, z) (:mod:`vaestudio.models.pixel_decoder`), strong enough to ignore z.

``VAEConfig.iwae_mnist()`` is the IWAE paper's one-stochastic-layer MNIST model exactly: encoder
784-200-200-(2 x 50) and decoder 50-200-200-784, tanh, Bernoulli pixels.

All numbers are in nats per example unless named ``bits_per_dim``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
from torch import nn

from vaestudio.common.batch import Batch
from vaestudio.models import losses
from vaestudio.models.base import StudioModel, TrainingOutput, register_model
from vaestudio.models.conditioning import CONDITIONS, condition_from_data
from vaestudio.models.layers import ACTIVATIONS, MLP, DownsampleStack, UpsampleStack, make_activation
from vaestudio.models.outputs import Bounds, Posterior, VAEOutput
from vaestudio.models.pixel_decoder import PixelDecoder
from vaestudio.models.text import TextEncoder, TextEncoderConfig

BODIES = ("mlp", "conv")
OBJECTIVES = ("elbo", "iwae")
DECODERS = ("body", "pixelcnn")

# A condition is a class id per example (int64 (B,)), a prompt per example, or an already embedded
# condition vector (float (B, condition_dim)); sample() also takes one int or one prompt for all.
Condition = torch.Tensor | Sequence[str] | str | int | None


@dataclasses.dataclass
class BodyConfig:
    """The settings of the encoder and decoder bodies and the pixel likelihood: shared by the VAE and the
    deterministic autoencoders (vaestudio.models.ae)."""

    image_channels: int = 1
    image_size: int = 28
    latent_dim: int = 32
    body: str = "mlp"  # "mlp" (images flattened) or "conv" (stride-2 conv stages, then a linear layer)
    hidden_sizes: tuple[int, ...] = (512, 256)  # mlp: layer widths; conv: channels per stride-2 stage
    activation: str = "relu"  # "tanh", "relu" or "silu"
    likelihood: str = "bernoulli"  # "bernoulli", "gaussian" (discretised, 256 levels) or "logit_laplace"
    gaussian_scale: float | None = None  # fixed pixel scale of the Gaussian likelihood; None: learned

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(size) for size in self.hidden_sizes)
        for name, value, allowed in (
            ("body", self.body, BODIES),
            ("activation", self.activation, ACTIVATIONS),
            ("likelihood", self.likelihood, losses.LIKELIHOODS),
        ):
            if value not in allowed:
                raise ValueError(f"{type(self).__name__}.{name} must be one of {allowed}, got {value!r}")
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {self.latent_dim}")
        if self.body == "conv" and (not self.hidden_sizes or self.image_size % 2 ** len(self.hidden_sizes)):
            raise ValueError(
                f"a conv body halves the image once per hidden size: image_size {self.image_size} must be "
                f"divisible by 2**{len(self.hidden_sizes)}"
            )

    @property
    def num_dimensions(self) -> int:
        return self.image_channels * self.image_size * self.image_size


@dataclasses.dataclass
class VAEConfig(BodyConfig):
    beta: float = 1.0  # weight of the KL (ELBO) or of log p(z) - log q(z|x) in the log weights (IWAE)
    objective: str = "elbo"  # "elbo" or "iwae"
    iwae_samples: int = 5  # k of the IWAE-k training objective
    free_bits: float = 0.0  # ELBO: each dimension's batch-mean KL counts at least this many nats (0: off)
    condition: str = "none"  # "none", "class" or "text"
    num_classes: int = 10
    class_embedding_dim: int = 32
    text_encoder: TextEncoderConfig = dataclasses.field(default_factory=TextEncoderConfig)  # condition "text"
    decoder: str = "body"  # "body" (the mirrored body) or "pixelcnn" (autoregressive, binary images: PixelVAE)
    pixelcnn_channels: int = 16  # decoder "pixelcnn": channels C of the gated layers
    pixelcnn_layers: int = 4  # decoder "pixelcnn": gated layers (the receptive field grows with them)
    pixelcnn_kernel_size: int = 5  # decoder "pixelcnn": odd
    pixelcnn_head_channels: int = 32  # decoder "pixelcnn": hidden width of the per-pixel output head

    def __post_init__(self) -> None:
        super().__post_init__()
        self.text_encoder = TextEncoderConfig.of(self.text_encoder)
        for name, value, allowed in (
            ("objective", self.objective, OBJECTIVES),
            ("condition", self.condition, CONDITIONS),
            ("decoder", self.decoder, DECODERS),
        ):
            if value not in allowed:
                raise ValueError(f"VAEConfig.{name} must be one of {allowed}, got {value!r}")
        if self.free_bits < 0 or (self.free_bits > 0 and self.objective != "elbo"):
            raise ValueError(f"free_bits must be >= 0 and applies to the ELBO objective, got {self.free_bits} "
                             f"with objective {self.objective!r}")
        if self.iwae_samples < 1:
            raise ValueError(f"iwae_samples must be at least 1, got {self.iwae_samples}")
        if self.condition == "text" and not self.text_encoder.vocabulary:
            raise ValueError("condition='text' needs text_encoder.vocabulary (vaestudio.models.text.build_vocabulary)")
        if self.decoder == "pixelcnn" and (self.likelihood != "bernoulli" or self.image_channels != 1):
            raise ValueError("decoder='pixelcnn' models binary one-channel images: it needs likelihood 'bernoulli' "
                             f"and image_channels 1, got {self.likelihood!r} and {self.image_channels}")
        if self.decoder == "pixelcnn" and (self.pixelcnn_kernel_size < 1 or self.pixelcnn_kernel_size % 2 == 0
                                           or min(self.pixelcnn_channels, self.pixelcnn_layers,
                                                  self.pixelcnn_head_channels) < 1):
            raise ValueError("pixelcnn_kernel_size must be odd and positive, and pixelcnn_channels, pixelcnn_layers "
                             "and pixelcnn_head_channels positive")

    @classmethod
    def iwae_mnist(cls, objective: str = "iwae", iwae_samples: int = 5) -> VAEConfig:
        """The IWAE paper's MNIST model with one stochastic layer: 784-200-200-50, tanh, Bernoulli."""
        return cls(
            image_channels=1,
            image_size=28,
            latent_dim=50,
            body="mlp",
            hidden_sizes=(200, 200),
            activation="tanh",
            likelihood="bernoulli",
            objective=objective,
            iwae_samples=iwae_samples,
        )

    @property
    def condition_dim(self) -> int:
        return {"none": 0, "class": self.class_embedding_dim, "text": self.text_encoder.embedding_dim}[self.condition]


def _with_condition(features: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
    """Appends the condition vector (B, Cd) to flat features (B, F) -> (B, F + Cd)."""
    return features if condition is None else torch.cat([features, condition.to(features.dtype)], dim=1)


class MLPBody(nn.Module):
    """Flat images through an MLP to (mean, log-variance); latents through the mirrored MLP to parameters.

    ``encoder_outputs``: features the encoder emits (default 2L: mean and log-variance; an autoencoder's L).
    """

    def __init__(self, config: VAEConfig, out_channels: int, encoder_outputs: int | None = None,
                 with_decoder: bool = True) -> None:
        super().__init__()
        self.out_shape = (out_channels, config.image_size, config.image_size)
        in_features = config.num_dimensions + config.condition_dim
        outputs = 2 * config.latent_dim if encoder_outputs is None else encoder_outputs
        self.encoder = MLP(in_features, config.hidden_sizes, outputs, config.activation)
        if not with_decoder:  # another module decodes (the PixelCNN decoder)
            return
        self.decoder = MLP(
            config.latent_dim + config.condition_dim,
            config.hidden_sizes[::-1],
            math.prod(self.out_shape),
            config.activation,
        )

    def encode(self, images: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        return self.encoder(_with_condition(images.flatten(1), condition))  # (B, 2L) (autoencoder: (B, L))

    def decode(self, latents: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        flat = self.decoder(_with_condition(latents, condition))  # (N, P*C*H*W)
        return flat.view(-1, *self.out_shape)  # (N, P*C, H, W)


class ConvBody(nn.Module):
    """Stride-2 conv stages, then a linear layer to (mean, log-variance); the decoder mirrors it."""

    def __init__(self, config: VAEConfig, out_channels: int, encoder_outputs: int | None = None,
                 with_decoder: bool = True) -> None:
        super().__init__()
        channels = list(config.hidden_sizes)
        side = config.image_size // 2 ** len(channels)
        self.feature_shape = (channels[-1], side, side)
        flat = math.prod(self.feature_shape)
        self.encoder_features = DownsampleStack(config.image_channels, channels, config.activation)
        outputs = 2 * config.latent_dim if encoder_outputs is None else encoder_outputs
        self.encoder_head = nn.Linear(flat + config.condition_dim, outputs)
        if not with_decoder:  # another module decodes (the PixelCNN decoder)
            return
        self.decoder_input = nn.Sequential(
            nn.Linear(config.latent_dim + config.condition_dim, flat), make_activation(config.activation)
        )
        self.decoder_features = UpsampleStack(channels[::-1], out_channels, config.activation)

    def encode(self, images: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        features = self.encoder_features(images).flatten(1)  # (B, c * s * s)
        return self.encoder_head(_with_condition(features, condition))  # (B, 2L)

    def decode(self, latents: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        features = self.decoder_input(_with_condition(latents, condition))  # (N, c * s * s)
        return self.decoder_features(features.view(-1, *self.feature_shape))  # (N, P*C, H, W)


@register_model
class VAE(StudioModel):
    model_type = "vae"
    config_class = VAEConfig

    def __init__(self, config: VAEConfig) -> None:
        super().__init__(config)
        self.likelihood = losses.make_likelihood(config.likelihood, config.gaussian_scale)
        out_channels = self.likelihood.parameters_per_channel * config.image_channels
        pixelcnn = config.decoder == "pixelcnn"
        body = MLPBody if config.body == "mlp" else ConvBody
        self.body = body(config, out_channels, with_decoder=not pixelcnn)
        if pixelcnn:
            self.pixel_decoder = PixelDecoder(
                config.latent_dim + config.condition_dim, config.image_size, config.pixelcnn_channels,
                config.pixelcnn_layers, config.pixelcnn_kernel_size, config.pixelcnn_head_channels)
        if config.condition == "class":
            self.class_embedding = nn.Embedding(config.num_classes, config.class_embedding_dim)
        elif config.condition == "text":
            self.text_encoder = TextEncoder(config.text_encoder)
        self.kl_weight_factor = 1.0  # times beta in the training loss: the trainer's KL warm-up ramps it to 1

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- conditioning ------------------------------------------------------------------------
    def condition_vector(self, condition: Condition, batch_size: int) -> torch.Tensor | None:
        """Class ids, prompts or a ready vector -> (B, condition_dim), or None for an unconditional VAE.

        A single int or prompt is repeated ``batch_size`` times.
        """
        kind = self.config.condition
        if kind == "none":
            if condition is not None:
                raise ValueError("this VAE is unconditional (condition='none'); pass condition=None")
            return None
        if condition is None:
            needs = "class ids (int64 tensor)" if kind == "class" else "prompts (list of str)"
            raise ValueError(f"this VAE is conditioned on {kind}: pass {needs}")
        if isinstance(condition, torch.Tensor) and condition.is_floating_point():
            if condition.shape != (batch_size, self.config.condition_dim):
                raise ValueError(
                    f"a condition vector must be {(batch_size, self.config.condition_dim)}, "
                    f"got {tuple(condition.shape)}"
                )
            return condition.to(self.device)  # (B, Cd)
        if kind == "class":
            labels = torch.as_tensor(condition, dtype=torch.int64, device=self.device)
            labels = labels.expand(batch_size) if labels.dim() == 0 else labels  # (B,)
            if labels.shape != (batch_size,):
                raise ValueError(f"expected {batch_size} class ids, got shape {tuple(labels.shape)}")
            return self.class_embedding(labels)  # (B, Cd)
        prompts = [condition] * batch_size if isinstance(condition, str) else list(condition)
        if len(prompts) != batch_size:
            raise ValueError(f"expected {batch_size} prompts, got {len(prompts)}")
        return self.text_encoder(prompts)  # (B, Cd)

    # -- encoder and decoder -----------------------------------------------------------------
    def _encode(self, images: torch.Tensor, condition: torch.Tensor | None) -> Posterior:
        mean, log_variance = self.body.encode(images, condition).chunk(2, dim=1)  # (B, L) each
        return Posterior(mean, log_variance)

    def encode(self, images: torch.Tensor, condition: Condition = None) -> Posterior:
        """images (B, C, H, W) in [0, 1] -> q(z | x, c) = N(mean (B, L), exp(log_variance) (B, L))."""
        return self._encode(images, self.condition_vector(condition, images.shape[0]))

    @property
    def is_autoregressive(self) -> bool:
        """True with the PixelCNN decoder: p(x | z) needs x itself (teacher forcing); images are drawn pixel by pixel."""
        return self.config.decoder == "pixelcnn"

    def _decode_parameters(
        self, latents: torch.Tensor, condition: torch.Tensor | None, images: torch.Tensor | None = None
    ) -> torch.Tensor:
        """latents (N, L), condition (N, Cd) or None -> likelihood parameters (N, P*C, H, W); the PixelCNN
        decoder also reads ``images`` (N, C, H, W) (each pixel's parameters see only the pixels before it)."""
        if not self.is_autoregressive:
            return self.body.decode(latents, condition)
        if images is None:
            raise ValueError("a PixelCNN decoder's likelihood parameters depend on the image: pass images, or use "
                             "decode() to draw images pixel by pixel")
        return self.pixel_decoder.logits(_with_condition(latents, condition), images)  # (N, 1, H, W)

    def _decode_images(self, latents: torch.Tensor, condition: torch.Tensor | None, seed: int = 0) -> torch.Tensor:
        """latents (N, L) -> images (N, C, H, W): the likelihood's mean, or with the PixelCNN decoder a binary
        image drawn pixel by pixel (``seed`` fixes the draw)."""
        if self.is_autoregressive:
            return self.pixel_decoder.sample(_with_condition(latents, condition), seed=seed)
        return self.likelihood.image(self.body.decode(latents, condition))

    def decode_parameters(
        self, latents: torch.Tensor, condition: Condition = None, images: torch.Tensor | None = None
    ) -> torch.Tensor:
        """latents (N, L) -> likelihood parameters (N, P * C, H, W).

        Bernoulli: logits; Gaussian: mean (and log-scale when learned); logit-Laplace: location and log-scale.
        The PixelCNN decoder needs ``images`` too (teacher forcing).
        """
        return self._decode_parameters(latents, self.condition_vector(condition, latents.shape[0]), images)

    def decode(self, latents: torch.Tensor, condition: Condition = None) -> torch.Tensor:
        """latents (N, L) -> images (N, C, H, W) in [0, 1]: the likelihood's mean (logit-Laplace: median);
        with the PixelCNN decoder, a binary image drawn pixel by pixel (seed 0, so the same latents give the same image)."""
        return self._decode_images(latents, self.condition_vector(condition, latents.shape[0]))

    def forward(
        self, images: torch.Tensor, condition: Condition = None, generator: torch.Generator | None = None
    ) -> VAEOutput:
        vector = self.condition_vector(condition, images.shape[0])
        posterior = self._encode(images, vector)
        latents = posterior.sample(generator=generator)  # (B, L)
        parameters = self._decode_parameters(latents, vector, images)  # (B, P*C, H, W)
        return VAEOutput(posterior, latents, parameters, self.likelihood.image(parameters))

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, condition: Condition = None) -> torch.Tensor:
        """Decodes the posterior mean: (B, C, H, W) -> (B, C, H, W) in [0, 1]."""
        vector = self.condition_vector(condition, images.shape[0])
        return self._decode_images(self._encode(images, vector).mean, vector)

    @torch.no_grad()
    def sample(
        self,
        num_samples: int,
        condition: Condition = None,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """Images from z ~ N(0, temperature^2 I): (num_samples, C, H, W) in [0, 1]."""
        vector = self.condition_vector(condition, num_samples)
        noise = torch.randn(num_samples, self.config.latent_dim, generator=generator, device=self.device)
        latents = temperature * noise  # (N, L)
        seed = 0
        if self.is_autoregressive and generator is not None:  # the pixels' draw follows the generator too
            seed = int(torch.randint(2**31, (), generator=generator, device=generator.device))
        return self._decode_images(latents, vector, seed)

    # -- objectives --------------------------------------------------------------------------
    def _log_likelihood(self, parameters: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """log p(x | z) summed over pixels: parameters (..., P*C, H, W), images broadcast -> (...)."""
        return self.likelihood.log_prob(parameters, images).flatten(-3).sum(-1)

    def _importance_terms(
        self,
        images: torch.Tensor,
        posterior: Posterior,
        condition: torch.Tensor | None,
        num_samples: int,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """For S draws z_s ~ q(z | x): log p(x | z_s) (S, B) and log p(z_s) - log q(z_s | x) (S, B)."""
        batch_size = images.shape[0]
        latents = posterior.sample(num_samples, generator=generator)  # (S, B, L)
        repeated = None if condition is None else condition.repeat(num_samples, 1)  # (S*B, Cd)
        repeated_images = images.repeat(num_samples, 1, 1, 1) if self.is_autoregressive else None  # (S*B, C, H, W)
        parameters = self._decode_parameters(latents.flatten(0, 1), repeated, repeated_images)  # (S*B, P*C, H, W)
        parameters = parameters.view(num_samples, batch_size, *parameters.shape[1:])  # (S, B, P*C, H, W)
        log_likelihood = self._log_likelihood(parameters, images)  # (S, B)
        log_prior = losses.standard_normal_log_density(latents).sum(-1)  # (S, B)
        log_ratio = log_prior - posterior.log_density(latents)  # (S, B)
        return log_likelihood, log_ratio

    def _bits_per_dim(self, negative_log_likelihood: torch.Tensor) -> float:
        bits = losses.bits_per_dim(
            negative_log_likelihood, self.config.num_dimensions, self.likelihood.density_bins
        )
        return float(bits.mean())

    def training_loss(self, batch: Batch) -> TrainingOutput:
        """Negative ELBO (closed-form KL weighted by beta) or negative IWAE-k bound; batch mean."""
        images = batch.images
        vector = self.condition_vector(
            condition_from_data(self.config.condition, batch.labels, batch.captions, "this VAE"), images.shape[0])
        posterior = self._encode(images, vector)
        kl = posterior.kl()  # (B,)
        beta = self.config.beta * self.kl_weight_factor
        if self.config.objective == "elbo":
            latents = posterior.sample()  # (B, L)
            reconstruction = self._log_likelihood(self._decode_parameters(latents, vector, images), images)  # (B,)
            elbo = reconstruction - kl  # (B,)
            if self.config.free_bits > 0:  # a dimension below the floor costs the floor: no gain in collapsing it
                kl_term = posterior.kl_per_dimension().mean(0).clamp_min(self.config.free_bits).sum()
                loss = -reconstruction.mean() + beta * kl_term
            else:
                loss = -(reconstruction - beta * kl).mean()
            logs = {"elbo": losses.logged_mean(elbo), "bits_per_dim": self._bits_per_dim(-elbo.detach())}
        else:
            log_likelihood, log_ratio = self._importance_terms(
                images, posterior, vector, self.config.iwae_samples
            )
            log_weights = log_likelihood + beta * log_ratio  # (S, B)
            bound = losses.iwae_bound(log_weights)  # (B,)
            reconstruction = log_likelihood.mean(0)  # (B,)
            loss = -bound.mean()
            logs = {
                "iwae": losses.logged_mean(bound),
                "elbo": losses.logged_mean(log_likelihood + log_ratio),
                "bits_per_dim": self._bits_per_dim(-bound.detach()),
            }
        logs.update(
            loss=losses.logged_mean(loss),
            kl=losses.logged_mean(kl),
            reconstruction=losses.logged_mean(reconstruction),
            kl_weight=beta,
        )
        return TrainingOutput(loss, logs)

    @torch.no_grad()
    def bounds(
        self,
        images: torch.Tensor,
        num_samples: int,
        condition: Condition = None,
        chunk_size: int = 4096,
        generator: torch.Generator | None = None,
    ) -> Bounds:
        """Per-example Monte Carlo ELBO and IWAE-``num_samples`` bound on log p(x | c), in nats (B,) each.

        Both come from the same draws (see :class:`Bounds`). At most ``chunk_size`` (example, sample)
        pairs are decoded at once, chunking over examples and over samples, so memory stays bounded
        whatever ``num_samples`` is (k = 5000 on MNIST is fine). The bound uses beta = 1.
        """
        if num_samples < 1 or chunk_size < 1:
            raise ValueError("num_samples and chunk_size must be at least 1")
        vector = self.condition_vector(condition, images.shape[0])  # (B, Cd) or None
        samples_per_chunk = min(num_samples, chunk_size)
        examples_per_chunk = max(1, chunk_size // samples_per_chunk)
        elbos, iwaes = [], []
        for start in range(0, images.shape[0], examples_per_chunk):
            chunk = images[start : start + examples_per_chunk]  # (b, C, H, W)
            chunk_vector = None if vector is None else vector[start : start + examples_per_chunk]  # (b, Cd)
            posterior = self._encode(chunk, chunk_vector)
            log_sum_exp = torch.full((chunk.shape[0],), -math.inf, device=chunk.device)  # (b,)
            total = torch.zeros(chunk.shape[0], device=chunk.device)  # (b,)
            for drawn in range(0, num_samples, samples_per_chunk):
                count = min(samples_per_chunk, num_samples - drawn)
                log_likelihood, log_ratio = self._importance_terms(
                    chunk, posterior, chunk_vector, count, generator
                )
                log_weights = (log_likelihood + log_ratio).float()  # (s, b)
                log_sum_exp = torch.logaddexp(log_sum_exp, torch.logsumexp(log_weights, dim=0))
                total += log_weights.sum(0)
            elbos.append(total / num_samples)
            iwaes.append(log_sum_exp - math.log(num_samples))
        return Bounds(torch.cat(elbos), torch.cat(iwaes))

    @torch.no_grad()
    def kl_per_dimension(self, images: torch.Tensor, condition: Condition = None) -> torch.Tensor:
        """Mean closed-form KL of each latent dimension over ``images``: (L,). Large: a dimension in use."""
        return self.encode(images, condition).kl_per_dimension().mean(0)
