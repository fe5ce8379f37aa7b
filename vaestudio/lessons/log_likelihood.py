"""Lesson 4: estimating log p(x). Naive prior sampling, importance sampling with q(z|x), and the IWAE-k bound.

log p(x) = log E_{z~p(z)} p(x|z) = log E_{z~q(z|x)} [p(x|z) p(z) / q(z|x)]. Averaging k weights and
taking the log gives, in expectation, a lower bound that rises with k to log p(x) (Burda et al. 2015,
https://arxiv.org/abs/1509.00519); k = 1 is the ELBO, and log p(x) - ELBO = KL(q(z|x) || p(z|x)).

Both curves come from one pool of draws per proposal: the estimate at k averages log-mean-exp over
disjoint blocks of k draws, over many random orders of the pool. That approximates the average over
*all* k-subsets of the pool, which is non-decreasing in k for any pool (the IWAE argument applied to
the pool), so the drawn curve's monotonicity is the theorem's, not luck.
"""

from __future__ import annotations

import numpy as np
import torch

from vaestudio.lessons.base import Control, Figure, Lesson
from vaestudio.lessons.cache import load_role
from vaestudio.lessons.data import held_out
from vaestudio.lessons.figures import COLOURS, Series, beside, line_chart, stacked, text_panel, tiles, titled
from vaestudio.models.losses import standard_normal_log_density

POOL = 5000  # draws per proposal
ORDERS = 64  # random orders of the pool averaged at each k
SAMPLE_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2500, 5000)
IMAGES = 100


def subset_average(log_weights: np.ndarray, k: int, orders: int, rng: np.random.Generator) -> float:
    """The mean over disjoint k-blocks (of ``orders`` random orders of the pool) of log (1/k) sum exp w."""
    blocks = len(log_weights) // k
    values = []
    for _ in range(orders if blocks > 1 else 1):
        shuffled = rng.permutation(log_weights)[: blocks * k].reshape(blocks, k)  # (blocks, k)
        top = shuffled.max(1, keepdims=True)
        values.append(np.mean(np.log(np.exp(shuffled - top).mean(1)) + top[:, 0]))
    return float(np.mean(values))


@torch.no_grad()
def log_weights(model, image: torch.Tensor, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """For one image (1, C, H, W): log w = log p(x|z) + log p(z) - log q(z|x) for POOL draws z ~ q, and
    log p(x|z) for POOL draws z ~ p(z) (the naive estimator's weights), float64 (POOL,) each."""
    generator = torch.Generator().manual_seed(seed)
    posterior = model.encode(image)
    from_posterior = posterior.sample(POOL, generator=generator)[:, 0]  # (S, L)
    from_prior = torch.randn(POOL, model.config.latent_dim, generator=generator)  # (S, L)

    def log_likelihood(latents: torch.Tensor) -> torch.Tensor:
        parameters = model.decode_parameters(latents)  # (S, P*C, H, W)
        return model.likelihood.log_prob(parameters, image).flatten(1).sum(1)  # (S,)

    importance = (log_likelihood(from_posterior) + standard_normal_log_density(from_posterior).sum(1)
                  - posterior.log_density(from_posterior[:, None])[:, 0])  # (S,)
    return importance.double().numpy(), log_likelihood(from_prior).double().numpy()


def compute(value: float) -> Figure:
    model = load_role("vae")
    images, labels = held_out("vae", IMAGES)
    index = int(value)
    importance, naive = log_weights(model, images[index : index + 1], seed=index)
    rng = np.random.default_rng(index)
    iwae = [subset_average(importance, k, ORDERS, rng) for k in SAMPLE_SIZES]
    prior_sampling = [subset_average(naive, k, ORDERS, rng) for k in SAMPLE_SIZES]
    elbo = float(importance.mean())
    log_p = iwae[-1]  # importance sampling with every draw: the best estimate of log p(x) here
    numbers = {
        "image_index": index,
        "k": list(SAMPLE_SIZES),
        "iwae_bound": [round(v, 4) for v in iwae],
        "naive_prior_sampling": [round(v, 4) for v in prior_sampling],
        "elbo": round(elbo, 4),
        "log_p_estimate": round(log_p, 4),
        "kl_q_to_true_posterior_estimate": round(log_p - elbo, 4),
        "elbo_to_iwae_gap": {str(k): round(v - elbo, 4) for k, v in zip(SAMPLE_SIZES, iwae)},
        "importance_effective_sample_size": round(_effective_sample_size(importance), 1),
        "naive_effective_sample_size": round(_effective_sample_size(naive), 1),
        "pool": POOL,
    }
    low = min(elbo, log_p) - 2.5 * max(log_p - elbo, 1.0)
    chart = line_chart(
        [Series("IWAE-k (q proposal)", SAMPLE_SIZES, iwae, COLOURS[0]),
         Series("naive (prior proposal)", SAMPLE_SIZES, prior_sampling, COLOURS[1]),
         Series("ELBO (k = 1 average)", [1, SAMPLE_SIZES[-1]], [elbo, elbo], COLOURS[2], dashed=True, markers=False),
         Series(f"log p(x) ~ {log_p:.2f}", [1, SAMPLE_SIZES[-1]], [log_p, log_p], COLOURS[7], dashed=True,
                markers=False)],
        title="Estimates of log p(x) as k grows (arrows: below the axis)", x_label="k (samples, log scale)",
        y_label="nats", log_x=True, width=620, height=380, y_range=(low, log_p + 0.25 * (log_p - low)))
    label = "" if labels is None else f" (a {int(labels[index])})"
    picture = titled(tiles(images[index : index + 1], 1, pixels=120), f"test image {index}{label}")
    rows = [f"k = {k:>4}: {numbers['elbo_to_iwae_gap'][str(k)]:+.3f}" for k in (1, 10, 100, 1000, 5000)]
    rows += ["", f"KL(q || p(z|x)) ~ {numbers['kl_q_to_true_posterior_estimate']:.3f}",
             f"ESS of q: {numbers['importance_effective_sample_size']:.0f} of {POOL}",
             f"ESS of prior: {numbers['naive_effective_sample_size']:.1f} of {POOL}"]
    gap = stacked(picture, titled(text_panel(rows), "IWAE-k minus ELBO (nats)"))
    return Figure(beside(chart, gap), numbers)


def _effective_sample_size(log_weights: np.ndarray) -> float:
    weights = np.exp(log_weights - log_weights.max())
    return float(weights.sum() ** 2 / (weights**2).sum())


LESSON = Lesson(
    name="log-likelihood",
    number=4,
    title="Estimating log p(x): prior sampling, importance sampling, the IWAE bound",
    paragraph=(
        "A VAE's likelihood log p(x) = log E_p(z)[p(x|z)] is an integral no one can do exactly. Drawing z from "
        "the prior almost never hits the few z that explain x, so the naive average needs astronomically many "
        "draws. Drawing z from the encoder's q(z|x) and reweighting by p(z)/q(z|x) (importance sampling) "
        "works with few: averaging k weights inside the log gives the IWAE-k bound, which is the ELBO at k = 1 "
        "and rises with k toward log p(x). The gap between the ELBO and the IWAE-k curve's top estimates "
        "KL(q(z|x) || p(z|x)), how far the encoder is from the true posterior. Pick a test image."
    ),
    control=Control("Test image", 0, IMAGES - 1, 1, 0, info="which held-out digit to estimate log p(x) of"),
    compute=compute,
    roles=("vae",),
)

