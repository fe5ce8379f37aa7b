"""Lesson 3: the reparameterisation trick. Pathwise vs score-function (REINFORCE) gradient estimators, measured.

The gradient of E_{q(z|x)}[log p(x|z)] with respect to the encoder's outputs (mean, log-variance) has
two unbiased one-sample estimators: the pathwise one, d/dphi log p(x | mu + sigma * eps), and the score
function one, log p(x|z) * d/dphi log q(z|x). Kingma & Welling (https://arxiv.org/abs/1312.6114)
train with the first because its variance is far lower; this lesson measures both on the same model,
images and draws (plus REINFORCE with a baseline, the usual variance cure).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from vaestudio.lessons.base import Control, Figure, Lesson
from vaestudio.lessons.cache import load_role
from vaestudio.lessons.data import held_out
from vaestudio.lessons.figures import COLOURS, Series, bar_chart, beside, line_chart

DRAWS = 6000  # eps draws per image
IMAGES = 8
BASELINE_DRAWS = 2000  # separate draws that estimate E[log p(x|z)] for the baseline


def per_draw_gradients(model, images: torch.Tensor, seed: int) -> dict[str, np.ndarray]:
    """Per-draw gradient estimates w.r.t. (mean, log-variance), (S, B, 2L) float64 each, for the three estimators."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        posterior = model.encode(images)
    mean, log_variance = posterior.mean, posterior.log_variance  # (B, L) each
    sigma = (0.5 * log_variance).exp()  # (B, L)

    def log_likelihood(latents: torch.Tensor) -> torch.Tensor:  # (S, B, L) -> (S, B)
        parameters = model.decode_parameters(latents.flatten(0, 1))  # (S*B, P*C, H, W)
        parameters = parameters.view(*latents.shape[:2], *parameters.shape[1:])  # (S, B, P*C, H, W)
        return model.likelihood.log_prob(parameters, images).flatten(2).sum(2)

    noise = torch.randn(DRAWS, *mean.shape, generator=generator)  # (S, B, L)
    latents = (mean + sigma * noise).requires_grad_(True)  # (S, B, L)
    values = log_likelihood(latents)  # (S, B)
    (slope,) = torch.autograd.grad(values.sum(), latents)  # (S, B, L): d log p(x|z) / dz per draw
    with torch.no_grad():
        baseline = log_likelihood(mean + sigma * torch.randn(BASELINE_DRAWS, *mean.shape, generator=generator))
        baseline = baseline.mean(0)  # (B,)
    values, noise, sigma = values.detach().double(), noise.double(), sigma.double()
    slope = slope.double()
    pathwise = torch.cat([slope, slope * noise * sigma / 2], -1)  # dz/dmu = 1, dz/dlogvar = eps * sigma / 2
    score = torch.cat([noise / sigma, (noise**2 - 1) / 2], -1)  # d log q / d(mu, logvar) at z = mu + sigma eps
    return {
        "pathwise": pathwise.numpy(),
        "reinforce": (values[..., None] * score).numpy(),
        "reinforce_baseline": ((values - baseline.double())[..., None] * score).numpy(),
    }


def compute(value: float) -> Figure:
    model = load_role("vae")
    images, _ = held_out("vae", IMAGES)
    per_sample = int(value)
    gradients = per_draw_gradients(model, images, seed=0)
    names = {"pathwise": "pathwise", "reinforce": "REINFORCE", "reinforce_baseline": "REINFORCE + baseline"}
    # variance of an estimate that averages `per_sample` draws: the per-draw variance / per_sample,
    # summed over the 2L gradient components, averaged over images
    variance = {name: float(g.var(0, ddof=1).sum(-1).mean() / per_sample) for name, g in gradients.items()}
    means = {name: g.mean(0) for name, g in gradients.items()}  # (B, 2L)
    standard_error = np.sqrt(gradients["reinforce"].var(0, ddof=1) / DRAWS + gradients["pathwise"].var(0, ddof=1) / DRAWS)
    agreement = np.abs(means["reinforce"] - means["pathwise"]) / standard_error  # (B, 2L)
    numbers = {
        "samples_per_estimate": per_sample,
        "variance": {name: round(v, 4) for name, v in variance.items()},
        "variance_ratio_reinforce_to_pathwise": round(variance["reinforce"] / variance["pathwise"], 1),
        "variance_ratio_baseline_to_pathwise": round(variance["reinforce_baseline"] / variance["pathwise"], 1),
        "means_agree_within_3_standard_errors": round(float((agreement < 3).mean()), 3),
        "images": IMAGES,
        "draws_per_image": DRAWS,
    }
    bars = bar_chart([names[name] for name in variance], [math.log10(v) for v in variance.values()],
                     title=f"Gradient variance, {per_sample} draw(s) per estimate",
                     y_label="log10 total variance (summed over mean and log-variance)", width=440, height=360,
                     value_format="{:.2f}")
    # one component (d/d mean_1 of the first image): estimates at `per_sample` draws, as histograms
    series = []
    for colour, name in zip(COLOURS, ("pathwise", "reinforce")):
        draws = gradients[name][:, 0, 0]  # (S,)
        estimates = draws[: len(draws) // per_sample * per_sample].reshape(-1, per_sample).mean(1)
        series.append((names[name], estimates, colour))
    low = min(np.percentile(e, 1) for _, e, _ in series)
    high = max(np.percentile(e, 99) for _, e, _ in series)
    edges = np.linspace(low, high, 41)
    curves = []
    for label, estimates, colour in series:
        counts, _ = np.histogram(estimates, edges, density=True)
        curves.append(Series(label, (edges[:-1] + edges[1:]) / 2, counts, colour, markers=False))
    histogram = line_chart(curves, title="Estimates of one gradient component (image 0, d/d mean_1)",
                           x_label="gradient estimate", y_label="density", width=480, height=360,
                           legend="upper")
    return Figure(beside(bars, histogram), numbers)


LESSON = Lesson(
    name="reparameterisation",
    number=3,
    title="The reparameterisation trick: pathwise vs score-function gradients",
    paragraph=(
        "To train the encoder we need the gradient of an expectation over its own samples, E_q(z|x)[log p(x|z)]. "
        "The score-function (REINFORCE) estimator weights each sample's log-likelihood by the gradient of "
        "log q: unbiased, but it only sees how good a sample was, not which way to move it. Writing "
        "z = mean + sigma * eps lets the gradient flow through the decoder instead (the pathwise estimator): "
        "same expectation, orders of magnitude less variance. Both are measured here on the same model, "
        "images and draws; the control averages more draws per estimate, which divides both variances alike."
    ),
    control=Control("Draws per estimate", 1, 64, 1, 1, info="samples averaged into one gradient estimate"),
    compute=compute,
    roles=("vae",),
)
