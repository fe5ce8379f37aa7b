"""Lesson 1: autoencoder vs VAE. Decode draws from N(0, I) with each; only the VAE's latent space is filled.

Both models are the same network trained on the same digits; the autoencoder is trained without the
KL term (beta = 0), so nothing pulls its codes toward the prior and a draw from N(0, I) often lands in a
hole between them. The VAE's KL term (Kingma & Welling, https://arxiv.org/abs/1312.6114) makes the
codes of the data cover the prior, so prior draws decode to digits.
"""

from __future__ import annotations

import math

import torch

from vaestudio.lessons.base import Control, Figure, Lesson
from vaestudio.lessons.cache import load_role
from vaestudio.lessons.data import held_out
from vaestudio.lessons.digit_classifier import CONFIDENT, classifier_for
from vaestudio.lessons.figures import beside, stacked, tiles, titled
from vaestudio.lessons.vae_measures import require_vae

SAMPLES = 1000  # scored; the first SHOWN are drawn
SHOWN = 48


def psnr(first: torch.Tensor, second: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / ((first - second) ** 2).mean()))


def prior_norm_mean(dimensions: int) -> float:
    """E ||z|| for z ~ N(0, I) in ``dimensions`` dimensions (the chi distribution's mean)."""
    return math.sqrt(2) * math.exp(math.lgamma((dimensions + 1) / 2) - math.lgamma(dimensions / 2))


@torch.no_grad()
def compute(value: float) -> Figure:
    seed = int(value)
    reader = classifier_for(load_role("vae"))
    images, _ = held_out("vae", 360)
    numbers, panels = {"seed": seed, "samples": SAMPLES, "confident_reading": CONFIDENT,
                       "classifier_test_accuracy": round(reader.test_accuracy, 4)}, []
    for role, name in (("autoencoder", "autoencoder"), ("vae", "VAE")):
        model = load_role(role)
        require_vae(model, role)
        samples = model.sample(SAMPLES, generator=torch.Generator().manual_seed(seed))  # (N, C, H, W)
        confidence = reader.probabilities(samples).max(1).values  # (N,)
        codes = model.encode(images).mean  # (360, L)
        reconstruction = psnr(model.reconstruct(images), images)
        read = float((confidence >= CONFIDENT).float().mean())
        numbers[role] = {
            "beta": float(model.config.beta),
            "fraction_read_as_a_digit": round(read, 4),
            "mean_classifier_confidence": round(float(confidence.mean()), 4),
            "reconstruction_psnr_db": round(reconstruction, 2),
            "code_norm_mean": round(float(codes.norm(dim=1).mean()), 3),
            "prior_norm_mean": round(prior_norm_mean(codes.shape[1]), 3),
        }
        grid = tiles(samples[:SHOWN], columns=8, pixels=40)
        panels.append(titled(grid, f"{name} (beta {model.config.beta:g}): {100 * read:.0f} % of {SAMPLES} prior "
                           f"samples read as a digit; reconstructions {reconstruction:.1f} dB", size=13))
    test_confidence = reader.probabilities(images).max(1).values
    numbers["test_digits_read_as_a_digit"] = round(float((test_confidence >= CONFIDENT).float().mean()), 4)
    numbers["vae_minus_autoencoder"] = round(numbers["vae"]["fraction_read_as_a_digit"]
                                             - numbers["autoencoder"]["fraction_read_as_a_digit"], 4)
    note = titled(tiles(images[:8], columns=8, pixels=40), f"for reference, test digits: "
                  f"{100 * numbers['test_digits_read_as_a_digit']:.0f} % of them read as a digit")
    return Figure(stacked(beside(*panels, gap=30), note), numbers)


LESSON = Lesson(
    name="autoencoder-vs-vae",
    number=1,
    title="Autoencoder vs VAE: sampling from the prior",
    paragraph=(
        "An autoencoder learns to compress and rebuild its training images, but nothing tells it where in the "
        "latent space the codes should go. Decode random draws from N(0, I) and many land in holes between the "
        "codes: smudges no classifier recognises. A VAE is the same network with one more term in its loss, the "
        "KL from each code distribution to N(0, I), which makes the data's codes fill the prior; its prior "
        "samples are digits. The autoencoder reconstructs better (it spends nothing on the KL): it is a good "
        "compressor and a bad generator. A classifier trained on the digits reads each sample; the fraction "
        "it reads with at least 90 % confidence is shown. The control draws another set of samples."
    ),
    control=Control("Sample seed", 0, 99, 1, 0, info="another draw of prior samples"),
    compute=compute,
    roles=("autoencoder", "vae"),
)
