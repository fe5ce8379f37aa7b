"""Metric arithmetic every package may use (evaluation reports, pipeline results): means, MSE and PSNR, bits,
codebook usage over a whole split."""

from __future__ import annotations

import math

import torch

MIN_MSE = 1e-10  # a perfect reconstruction scores 100 dB instead of infinity


def mean_squared_error(images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """Per-image MSE over pixels in [0, 1]: (B, C, H, W) x 2 -> (B,)."""
    return (images.float() - reconstructions.float()).pow(2).flatten(1).mean(1)


def psnr(mse: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB for pixels in [0, 1]: (B,) -> (B,)."""
    return 10.0 * torch.log10(1.0 / mse.clamp_min(MIN_MSE))


def nats_to_bits(nats: float) -> float:
    return nats / math.log(2.0)


class Mean:
    """Running mean of per-item values (float64, so 10^5 items add up exactly enough)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    def add(self, values: torch.Tensor) -> None:
        self.total += float(values.detach().double().sum())
        self.count += values.numel()

    @property
    def value(self) -> float:
        return self.total / self.count if self.count else float("nan")


class CodeUsage:
    """How often each of K codes was chosen over a whole split (not per batch)."""

    def __init__(self, num_codes: int) -> None:
        self.counts = torch.zeros(num_codes, dtype=torch.int64)  # (K,)

    def add(self, codes: torch.Tensor) -> None:
        flat = codes.detach().reshape(-1).long().cpu()  # (N,)
        if flat.numel() and int(flat.max()) >= self.counts.numel():
            self.counts = torch.cat([self.counts, torch.zeros(int(flat.max()) + 1 - self.counts.numel(),
                                                              dtype=torch.int64)])
        self.counts += torch.bincount(flat, minlength=self.counts.numel())

    def summary(self) -> dict[str, float | int]:
        """used / dead codes, the fraction used, and the perplexity exp(entropy) of the code distribution."""
        total = int(self.counts.sum())
        used = int((self.counts > 0).sum())
        probabilities = self.counts.double() / max(total, 1)  # (K,)
        nonzero = probabilities[probabilities > 0]
        entropy = float(-(nonzero * nonzero.log()).sum())
        return {
            "num_codes": self.counts.numel(),
            "used_codes": used,
            "dead_codes": self.counts.numel() - used,
            "usage": used / self.counts.numel(),
            "perplexity": math.exp(entropy),
            "codes_counted": total,
        }
