"""Losses and image log-likelihoods of the VAE family, in nats.

- Gaussian KL and the reparameterised ELBO: Kingma & Welling, https://arxiv.org/abs/1312.6114 (appendix B).
- IWAE bound: Burda, Grosse & Salakhutdinov, https://arxiv.org/abs/1509.00519.
- Logit-Laplace likelihood: Ramesh et al. (DALL-E), https://arxiv.org/abs/2102.12092 (section A.3).

Elementwise functions return one value per element; the callers sum over the
dimensions they mean. An :class:`ImageLikelihood` ties a decoder's output
channels to one of these densities, its image and its bits/dim convention.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2.0 * math.pi)
LOGIT_LAPLACE_EPS = 0.1  # DALL-E squashes pixels into [eps, 1 - eps] before the logit-Laplace density
_EDGE = 1e4  # standard scores standing in for -inf / +inf at the outer bins (finite keeps gradients finite)


# -- Gaussian latents -----------------------------------------------------------------------------
def gaussian_kl(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_variance)) || N(0, 1)), elementwise, in closed form."""
    return 0.5 * (mean.pow(2) + log_variance.exp() - 1.0 - log_variance)


def gaussian_log_density(
    values: torch.Tensor, mean: torch.Tensor, log_variance: torch.Tensor
) -> torch.Tensor:
    """log N(values; mean, exp(log_variance)), elementwise."""
    return -0.5 * (LOG_2PI + log_variance + (values - mean).pow(2) * torch.exp(-log_variance))


def standard_normal_log_density(values: torch.Tensor) -> torch.Tensor:
    """log N(values; 0, 1), elementwise."""
    return -0.5 * (LOG_2PI + values.pow(2))


# -- image log-likelihoods ------------------------------------------------------------------------
def bernoulli_log_likelihood(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log Bernoulli(targets; sigmoid(logits)) = x * logit - softplus(logit), elementwise and broadcasting.

    Targets in [0, 1]; grey levels act as soft labels (then it is not a normalised density over grey levels).
    """
    return targets * logits - F.softplus(logits)


def gaussian_log_likelihood(
    mean: torch.Tensor, log_scale: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Continuous log N(targets; mean, exp(log_scale)^2), elementwise."""
    return gaussian_log_density(targets, mean, 2.0 * log_scale)


def _log_normal_mass(lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """log(Phi(upper) - Phi(lower)) for standard scores lower < upper, accurate in both tails.

    Intervals centred above zero are mirrored below it (Phi(b) - Phi(a) = Phi(-a) - Phi(-b)), where
    ``log_ndtr`` is accurate; the difference is log Phi(b) + log(1 - exp(log Phi(a) - log Phi(b))).
    """
    mirror = (lower + upper) > 0
    low = torch.where(mirror, -upper, lower)
    high = torch.where(mirror, -lower, upper)
    log_high = torch.special.log_ndtr(high)
    log_low = torch.special.log_ndtr(low)
    return log_high + torch.log(-torch.expm1(log_low - log_high))


def discretized_gaussian_log_likelihood(
    mean: torch.Tensor, log_scale: torch.Tensor, targets: torch.Tensor, num_bins: int = 256
) -> torch.Tensor:
    """log P(targets) under a Gaussian discretised to ``num_bins`` levels of [0, 1], elementwise.

    Level k sits at k / (num_bins - 1) and owns the interval of width 1 / (num_bins - 1) around it;
    the first and last levels also own the tails, so the masses of all levels sum to one. This is a
    probability (at most 1), so the bound it gives is a true bound on the 8-bit data and the learned
    scale cannot collapse. Targets between levels are scored on the interval centred on them.
    """
    half_bin = 0.5 / (num_bins - 1)
    inverse_scale = torch.exp(-log_scale)
    lower = (targets - half_bin - mean) * inverse_scale  # standard score of the interval's lower edge
    upper = (targets + half_bin - mean) * inverse_scale  # and of its upper edge
    # the first level reaches down to -inf, the last one up to +inf
    lower = torch.where(targets < half_bin, torch.full_like(lower, -_EDGE), lower)
    upper = torch.where(targets > 1.0 - half_bin, torch.full_like(upper, _EDGE), upper)
    return _log_normal_mass(lower, upper)


def logit_laplace_log_density(
    location: torch.Tensor, log_scale: torch.Tensor, values: torch.Tensor
) -> torch.Tensor:
    """Logit-Laplace log density on (0, 1), elementwise:

    f(x | mu, b) = exp(-|logit(x) - mu| / b) / (2 b x (1 - x)),

    the density of sigmoid(y) for y ~ Laplace(mu, b); it integrates to one over (0, 1).
    """
    log_x = torch.log(values)
    log_one_minus_x = torch.log1p(-values)
    logit = log_x - log_one_minus_x
    return (
        -math.log(2.0)
        - log_scale
        - log_x
        - log_one_minus_x
        - (logit - location).abs() * torch.exp(-log_scale)
    )


def squash_pixels(images: torch.Tensor, eps: float = LOGIT_LAPLACE_EPS) -> torch.Tensor:
    """Maps pixels from [0, 1] into [eps, 1 - eps], away from the logit's poles (DALL-E's phi)."""
    return (1.0 - 2.0 * eps) * images + eps


def unsquash_pixels(values: torch.Tensor, eps: float = LOGIT_LAPLACE_EPS) -> torch.Tensor:
    """Inverse of :func:`squash_pixels`, clamped to [0, 1]."""
    return ((values - eps) / (1.0 - 2.0 * eps)).clamp(0.0, 1.0)


def logit_laplace_log_likelihood(
    location: torch.Tensor, log_scale: torch.Tensor, images: torch.Tensor, eps: float = LOGIT_LAPLACE_EPS
) -> torch.Tensor:
    """Log density of pixels in [0, 1] under the logit-Laplace of their squashed values, elementwise.

    The pixel x is scored as the squashed value s = (1 - 2 eps) x + eps, plus the change-of-variables
    term log(1 - 2 eps), so this is a density over pixel space. It integrates to the mass that the
    logit-Laplace puts on [eps, 1 - eps] (at most one): a valid, slightly loose, likelihood.
    """
    squashed = squash_pixels(images, eps)
    return logit_laplace_log_density(location, log_scale, squashed) + math.log(1.0 - 2.0 * eps)


# -- bounds and units -----------------------------------------------------------------------------
def log_mean_exp(values: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log(mean(exp(values))) along ``dim``, stably: logsumexp - log(k)."""
    return torch.logsumexp(values, dim=dim) - math.log(values.shape[dim])


def iwae_bound(log_weights: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """IWAE-k bound from k log importance weights log p(x, z_i) - log q(z_i | x) along ``dim``.

    Its gradient is the importance-weighted one: sum_i w~_i grad log w_i with w~ = softmax(log w),
    which autograd of logsumexp gives exactly. With k = 1 it is the single-sample ELBO.
    """
    return log_mean_exp(log_weights, dim=dim)


def bits_per_dim(negative_log_likelihood: torch.Tensor, num_dimensions: int, num_bins: int | None = None):
    """Nats per example -> bits per dimension.

    For a density over [0, 1] pixels pass ``num_bins`` (256 for 8-bit images): the mass of a bin of
    width 1 / num_bins is about density / num_bins, which adds log2(num_bins) bits per dimension.
    For probabilities (Bernoulli, discretised Gaussian) leave it None.
    """
    bits = negative_log_likelihood / (num_dimensions * math.log(2.0))
    return bits + math.log2(num_bins) if num_bins is not None else bits


def logged_mean(values: torch.Tensor) -> float:
    """A number for ``TrainingOutput.logs``: the mean of ``values``, outside the graph."""
    return float(values.detach().float().mean())


# -- likelihoods as decoder heads -----------------------------------------------------------------
class ImageLikelihood:
    """p(x | decoder output): the decoder emits ``parameters_per_channel`` maps per image channel.

    ``density_bins`` is None when ``log_prob`` is a probability of the (binary or 8-bit) data, or the
    number of levels used to turn a density into bits/dim (see :func:`bits_per_dim`).
    """

    name = ""
    parameters_per_channel = 1
    density_bins: int | None = None

    def log_prob(self, parameters: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """parameters (..., P * C, H, W), images (..., C, H, W) in [0, 1] (broadcast) -> log p per element."""
        raise NotImplementedError

    def image(self, parameters: torch.Tensor) -> torch.Tensor:
        """The image the likelihood centres on, (B, C, H, W) in [0, 1]."""
        raise NotImplementedError


class BernoulliLikelihood(ImageLikelihood):
    """One logit per pixel; the image is the mean sigmoid(logit)."""

    name = "bernoulli"

    def log_prob(self, parameters: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        return bernoulli_log_likelihood(parameters, images)

    def image(self, parameters: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(parameters)


class GaussianLikelihood(ImageLikelihood):
    """Discretised Gaussian over 256 levels; a fixed ``scale`` or a per-pixel learned log-scale.

    With a learned scale the decoder emits (mean, log_scale) per channel, the log-scale clamped to
    [min_log_scale, 2]. The image is the mean clamped to [0, 1].
    """

    name = "gaussian"
    min_log_scale = -7.0

    def __init__(self, scale: float | None = None, num_bins: int = 256) -> None:
        if scale is not None and scale <= 0:
            raise ValueError(f"gaussian scale must be positive or None (learned), got {scale}")
        self.scale = scale
        self.num_bins = num_bins
        self.parameters_per_channel = 1 if scale is not None else 2

    def _split(self, parameters: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.scale is not None:
            return parameters, torch.full_like(parameters, math.log(self.scale))
        mean, log_scale = parameters.chunk(2, dim=-3)  # (..., C, H, W) each
        return mean, log_scale.clamp(self.min_log_scale, 2.0)

    def log_prob(self, parameters: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        mean, log_scale = self._split(parameters)
        return discretized_gaussian_log_likelihood(mean, log_scale, images, self.num_bins)

    def image(self, parameters: torch.Tensor) -> torch.Tensor:
        return self._split(parameters)[0].clamp(0.0, 1.0)


class LogitLaplaceLikelihood(ImageLikelihood):
    """DALL-E's logit-Laplace: (location, log_scale) per channel; the image is the median, unsquashed."""

    name = "logit_laplace"
    parameters_per_channel = 2
    density_bins = 256
    min_log_scale = -7.0

    def __init__(self, eps: float = LOGIT_LAPLACE_EPS) -> None:
        self.eps = eps

    def _split(self, parameters: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        location, log_scale = parameters.chunk(2, dim=-3)  # (..., C, H, W) each
        return location, log_scale.clamp(min=self.min_log_scale)

    def log_prob(self, parameters: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        location, log_scale = self._split(parameters)
        return logit_laplace_log_likelihood(location, log_scale, images, self.eps)

    def image(self, parameters: torch.Tensor) -> torch.Tensor:
        location, _ = self._split(parameters)
        return unsquash_pixels(torch.sigmoid(location), self.eps)


LIKELIHOODS = ("bernoulli", "gaussian", "logit_laplace")


def make_likelihood(name: str, gaussian_scale: float | None = None) -> ImageLikelihood:
    """The likelihood called ``name`` (one of :data:`LIKELIHOODS`)."""
    if name == "bernoulli":
        return BernoulliLikelihood()
    if name == "gaussian":
        return GaussianLikelihood(gaussian_scale)
    if name == "logit_laplace":
        return LogitLaplaceLikelihood()
    raise ValueError(f"unknown likelihood {name!r}; choose one of {LIKELIHOODS}")


# -- maximum mean discrepancy (WAE-MMD) -----------------------------------------------------------
MMD_KERNELS = ("rbf", "imq")


def mmd_kernel(first: torch.Tensor, second: torch.Tensor, kernel: str, scale: float) -> torch.Tensor:
    """Kernel matrix between rows: first (N, L), second (M, L) -> (N, M).

    "rbf": exp(-||x - y||^2 / scale); "imq" (inverse multiquadratic): scale / (scale + ||x - y||^2).
    Tolstikhin et al. take scale = C = 2 L sigma_z^2 for a N(0, sigma_z^2 I) prior.
    """
    distances = torch.cdist(first, second).pow(2)  # (N, M) squared Euclidean
    if kernel == "rbf":
        return torch.exp(-distances / scale)
    if kernel == "imq":
        return scale / (scale + distances)
    raise ValueError(f"unknown MMD kernel {kernel!r}; choose one of {MMD_KERNELS}")


def unbiased_mmd(samples: torch.Tensor, prior_samples: torch.Tensor, kernel: str,
                 scales: tuple[float, ...]) -> torch.Tensor:
    """Unbiased estimate of MMD^2 between the laws of samples (N, L) and prior_samples (M, L), N, M >= 2,
    with the sum of the kernels at ``scales`` (a U-statistic: the diagonals of the within-set sums are left
    out). Tolstikhin et al., https://arxiv.org/abs/1711.01558, Algorithm 2. Returns a () scalar."""
    count, prior_count = samples.shape[0], prior_samples.shape[0]
    if count < 2 or prior_count < 2:
        raise ValueError(f"the unbiased MMD needs at least 2 samples on each side, got {count} and {prior_count}")
    total = samples.new_zeros(())
    for scale in scales:
        within = mmd_kernel(samples, samples, kernel, scale)  # (N, N)
        within_prior = mmd_kernel(prior_samples, prior_samples, kernel, scale)  # (M, M)
        between = mmd_kernel(samples, prior_samples, kernel, scale)  # (N, M)
        total = total + (within.sum() - within.diagonal().sum()) / (count * (count - 1))
        total = total + (within_prior.sum() - within_prior.diagonal().sum()) / (prior_count * (prior_count - 1))
        total = total - 2.0 * between.mean()
    return total
