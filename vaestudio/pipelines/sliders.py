"""Latent sliders: orthonormal directions in the flattened latent space, each with a scale.

A slider's value for a latent z is ((z - origin) . direction) / scale; moving a slider from v to v'
adds (v' - v) * scale * direction, which leaves the other sliders' values unchanged (the
directions are orthonormal).

- Gaussian models: one slider per *active* dimension (mean KL over a data sample above a
  threshold), most informative first; origin 0, scale 1 (the prior's standard deviation), so the
  value is the latent coordinate itself.
- VQ models: the principal directions of the pre-quantisation latent maps over a data sample;
  origin the mean map, scale the standard deviation along the direction.
"""

from __future__ import annotations

import dataclasses

import torch

SLIDER_RANGE = 3.0


@dataclasses.dataclass
class SliderSpec:
    """What a UI needs for one slider."""

    label: str
    minimum: float
    maximum: float
    step: float
    value: float


@dataclasses.dataclass
class SliderSet:
    labels: list[str]
    directions: torch.Tensor  # (S, F) orthonormal rows
    scales: torch.Tensor  # (S,)
    origin: torch.Tensor  # (F,)

    def __len__(self) -> int:
        return len(self.labels)

    def values(self, flat: torch.Tensor) -> torch.Tensor:
        """(B, F) -> slider values (B, S)."""
        return ((flat - self.origin) @ self.directions.t()) / self.scales  # (B, S)

    def move(self, flat: torch.Tensor, old_values: torch.Tensor, new_values: torch.Tensor) -> torch.Tensor:
        """flat (B, F) with sliders moved from old (B, S) to new (B, S) values."""
        shift = (new_values - old_values) * self.scales  # (B, S)
        return flat + shift @ self.directions  # (B, F)

    def specs(self, values: list[float]) -> list[SliderSpec]:
        return [
            SliderSpec(label, min(-SLIDER_RANGE, float(value) - 0.5), max(SLIDER_RANGE, float(value) + 0.5), 0.05,
                       float(value))
            for label, value in zip(self.labels, values)
        ]


def gaussian_sliders(kl_per_dimension: torch.Tensor, threshold: float) -> SliderSet:
    """kl_per_dimension (L,) mean KL in nats; active dimensions ordered by KL, largest first."""
    order = torch.argsort(kl_per_dimension, descending=True, stable=True)  # (L,)
    active = [int(index) for index in order if float(kl_per_dimension[index]) > threshold]
    size = kl_per_dimension.numel()
    directions = torch.eye(size)[active] if active else torch.zeros(0, size)  # (S, L)
    labels = [f"z{index} (KL {float(kl_per_dimension[index]):.2f} nats)" for index in active]
    return SliderSet(labels, directions, torch.ones(len(active)), torch.zeros(size))


def principal_sliders(flat_latents: torch.Tensor, count: int) -> SliderSet:
    """flat_latents (N, F): the top ``count`` principal directions, labelled with their share of variance."""
    origin = flat_latents.mean(0)  # (F,)
    centred = (flat_latents - origin).double()  # (N, F)
    count = max(0, min(count, centred.shape[0] - 1, centred.shape[1]))
    _, singular_values, right = torch.linalg.svd(centred, full_matrices=False)  # right: (min(N, F), F)
    variances = singular_values.pow(2) / max(1, centred.shape[0] - 1)  # (min(N, F),)
    total = float(variances.sum()) or 1.0
    directions = right[:count].float()  # (S, F)
    scales = variances[:count].sqrt().clamp_min(1e-8).float()  # (S,)
    labels = [f"PC{index + 1} ({100 * float(variances[index]) / total:.0f}% of variance)" for index in range(count)]
    return SliderSet(labels, directions, scales, origin.float())
