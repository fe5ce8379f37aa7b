"""Which latent dimensions of a Gaussian VAE carry information: active units and KL per dimension.

- Active units: Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", https://arxiv.org/abs/1509.00519
  (section 5.2): dimension u is active when A_u = Cov_x(E_{q(z|x)}[z_u]) > 0.01, i.e. its posterior mean moves
  with the image. A collapsed dimension has q(z_u | x) = p(z_u) for every x: mean 0 always, A_u = 0.
- KL per dimension: the data mean of the closed-form KL(q(z_u | x) || N(0, 1)), in nats; it sums to the KL term.
"""

from __future__ import annotations

from typing import Any

import torch

from vaestudio.common.limits import LATENT_UNIT_IMAGES
from vaestudio.models.conditioning import condition_from_data, condition_kind
from vaestudio.pipelines.dataset_sample import open_model_source, read_sample

ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al.'s threshold on the variance of a dimension's posterior mean


class LatentUnits:
    """Accumulates posterior means and per-dimension KLs over batches (float64 sums: exact enough for 10^5)."""

    def __init__(self, threshold: float = ACTIVE_UNIT_THRESHOLD) -> None:
        self.threshold = threshold
        self.count = 0
        self.mean_sum: torch.Tensor | None = None  # (L,) sum of E_q[z]
        self.square_sum: torch.Tensor | None = None  # (L,) sum of E_q[z]^2
        self.kl_sum: torch.Tensor | None = None  # (L,) sum of KL per dimension

    def add(self, means: torch.Tensor, kl_per_dimension: torch.Tensor) -> None:
        """means (B, L) posterior means, kl_per_dimension (B, L) in nats."""
        means, kl = means.detach().double().cpu(), kl_per_dimension.detach().double().cpu()
        if self.mean_sum is None:
            self.mean_sum = torch.zeros(means.shape[1], dtype=torch.float64)
            self.square_sum = torch.zeros_like(self.mean_sum)
            self.kl_sum = torch.zeros_like(self.mean_sum)
        self.mean_sum += means.sum(0)
        self.square_sum += means.pow(2).sum(0)
        self.kl_sum += kl.sum(0)
        self.count += means.shape[0]

    def activity(self) -> torch.Tensor:
        """A_u = Cov_x(E_q[z_u]) for every dimension: (L,), the variance over the images seen (ddof 0)."""
        if self.count == 0:
            raise ValueError("no images added: the active units need at least one batch")
        mean = self.mean_sum / self.count
        return (self.square_sum / self.count - mean.pow(2)).clamp_min(0.0)  # (L,)

    def summary(self) -> dict[str, Any]:
        activity = self.activity()
        kl = self.kl_sum / self.count  # (L,)
        return {
            "active_units": int((activity > self.threshold).sum()),
            "unit_activity": [round(float(value), 6) for value in activity],
            "kl_per_dimension": [round(float(value), 6) for value in kl],
        }


@torch.no_grad()
def measure_latent_units(model, source=None, num_images: int = 500, batch_size: int = 100) -> dict[str, Any]:
    """Active units and KL per dimension of a Gaussian VAE over ``num_images`` test images of ``source`` (a spec
    or a source; None: the data its recipe trained on). The summary of :class:`LatentUnits`, plus ``kl`` (their
    sum), ``latent_dim``, ``threshold``, ``images`` and ``measured_on``. A ValueError for other models."""
    if getattr(model, "model_type", None) != "vae":
        raise ValueError(f"active units are measured on Gaussian VAEs; this model is a {model.model_type}")
    low, high = LATENT_UNIT_IMAGES
    if not low <= num_images <= high:
        raise ValueError(f"measure active units over {low} to {high} images (a unit's activity is a variance over "
                         f"images), not {num_images}")
    data = open_model_source(model, source, "test", model.config.image_size)
    sample = read_sample(data, int(num_images))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    units = LatentUnits()
    try:
        for start in range(0, sample.images.shape[0], batch_size):
            images = sample.images[start : start + batch_size].to(device)  # (b, C, H, W)
            labels = None if sample.labels is None else sample.labels[start : start + batch_size]
            captions = None if sample.captions is None else sample.captions[start : start + batch_size]
            condition = condition_from_data(condition_kind(model), labels, captions, "this VAE")
            posterior = model.encode(images, condition) if condition is not None else model.encode(images)
            units.add(posterior.mean, posterior.kl_per_dimension())  # (b, L) each
    finally:
        model.train(was_training)
    summary = units.summary()
    return {**summary, "kl": float(sum(summary["kl_per_dimension"])), "latent_dim": model.config.latent_dim,
            "threshold": units.threshold, "images": units.count, "measured_on": sample.description}
