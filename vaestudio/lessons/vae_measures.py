"""Measurements of a Gaussian VAE on held-out images that several lessons share: rate, distortion, KL per dimension."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vaestudio.lessons.base import LessonError

ACTIVE_KL = 0.01  # nats: a latent dimension whose mean KL is below this carries no information (collapsed)


@dataclass(frozen=True)
class RateDistortion:
    rate: float  # mean KL(q(z|x) || p(z)), nats
    distortion: float  # mean -E_q log p(x|z), nats
    kl_per_dimension: list[float]  # (L,) mean KL of each latent dimension, nats

    @property
    def active_dimensions(self) -> int:
        return sum(value > ACTIVE_KL for value in self.kl_per_dimension)


def require_vae(model, role: str) -> None:
    if getattr(model, "model_type", None) != "vae":
        raise LessonError(f"the role {role!r} needs a Gaussian VAE, got a {getattr(model, 'model_type', 'bundle')}; "
                          "point it at a VAE in vaestudio/lessons/models.py")


@torch.no_grad()
def rate_distortion(model, images: torch.Tensor, draws: int = 8, seed: int = 0) -> RateDistortion:
    """Rate and distortion of ``model`` on ``images`` (N, C, H, W), the distortion averaged over ``draws`` z per image."""
    posterior = model.encode(images)
    generator = torch.Generator().manual_seed(seed)
    latents = posterior.sample(draws, generator=generator)  # (S, N, L)
    parameters = model.decode_parameters(latents.flatten(0, 1))  # (S*N, P*C, H, W)
    parameters = parameters.view(draws, images.shape[0], *parameters.shape[1:])  # (S, N, P*C, H, W)
    log_likelihood = model.likelihood.log_prob(parameters, images).flatten(2).sum(2)  # (S, N)
    per_dimension = posterior.kl_per_dimension().mean(0)  # (L,)
    return RateDistortion(float(per_dimension.sum()), float(-log_likelihood.mean()),
                          [round(float(value), 4) for value in per_dimension])


@torch.no_grad()
def traversal(model, image: torch.Tensor, dimensions: list[int], span: float, steps: int = 7) -> torch.Tensor:
    """Decodes of the image's posterior mean with one dimension swept over [-span, span] (absolute values, as the
    prior's standard deviations): (len(dimensions) * steps, C, H, W), one row per dimension."""
    mean = model.encode(image).mean[0]  # (L,)
    values = torch.linspace(-span, span, steps)  # (steps,)
    latents = mean.repeat(len(dimensions) * steps, 1)  # (D*steps, L)
    for row, dimension in enumerate(dimensions):
        latents[row * steps : (row + 1) * steps, dimension] = values
    return model.decode(latents)
