"""`evaluate` on a dVAE whose code use is known: codebook usage and perplexity, PSNR, and the bounds with the
uniform prior over codes (ELBO, IWAE, bits per dimension)."""

from __future__ import annotations

import math

import pytest
import torch

from vaestudio.common.metrics import mean_squared_error, psnr
from vaestudio.data import open_source
from vaestudio.evaluation import evaluate
from vaestudio.models import DVAE, DVAEConfig

PATTERN = torch.tensor([[0, 1], [1, 0]])  # the code map every image gets: codes 0 and 1, half the positions each


def patterned_dvae(likelihood: str) -> DVAE:
    """An 8x8 dVAE (2x2 code maps, K = 8) whose encoder is sure of PATTERN whatever the image."""
    torch.manual_seed(0)
    model = DVAE(DVAEConfig(image_channels=1, image_size=8, hidden_channels=8, residual_channels=4,
                            num_residual_blocks=1, downsample_factor=4, num_codes=8, code_dim=4,
                            likelihood=likelihood))

    def confident_logits(images: torch.Tensor) -> torch.Tensor:
        one_hot = torch.nn.functional.one_hot(PATTERN, 8).permute(2, 0, 1).float()  # (K, 2, 2)
        return (100.0 * one_hot)[None].expand(images.shape[0], -1, -1, -1)  # (B, K, 2, 2)

    model.code_logits = confident_logits  # instance attribute: encode_codes, forward and bounds all read it
    return model.eval()


@pytest.mark.parametrize("likelihood, bins", [("bernoulli", None), ("logit_laplace", 256)])
def test_a_dvae_with_known_code_use_evaluates_to_known_numbers(likelihood, bins):
    model = patterned_dvae(likelihood)
    source = open_source("digits", split="test")
    result = evaluate(model, source, batch_size=25, iwae_k=3, limit=60)
    codebook = result["codebook"]
    assert codebook["codes_counted"] == 60 * 4 and codebook["used_codes"] == 2 and codebook["dead_codes"] == 6
    assert codebook["perplexity"] == pytest.approx(2.0)  # two codes, equally often
    images = torch.stack([source[index].image for index in range(60)])  # (60, 1, 8, 8)
    codes = PATTERN.expand(60, 2, 2)
    with torch.no_grad():
        parameters = model.decode_code_parameters(codes)
        log_likelihood = model.likelihood.log_prob(parameters, images).flatten(1).sum(1)  # (60,)
        reconstructions = model.likelihood.image(parameters)
    assert result["psnr"] == pytest.approx(float(psnr(mean_squared_error(images, reconstructions)).mean()), rel=1e-5)
    expected_elbo = float(log_likelihood.mean()) - 4 * math.log(8)  # KL of a sure q to uniform: log K a position
    assert result["elbo"] == pytest.approx(expected_elbo, rel=1e-4)
    assert result["iwae"] == pytest.approx(expected_elbo, rel=1e-4)  # every draw is the same map
    assert result["nll"] == pytest.approx(-expected_elbo, rel=1e-4) and result["iwae_k"] == 3
    bits = -expected_elbo / (64 * math.log(2)) + (math.log2(bins) if bins else 0.0)
    assert result["bits_per_dim"] == pytest.approx(bits, rel=1e-4)


def test_iwae_k_zero_skips_the_bounds_of_a_dvae():
    result = evaluate(patterned_dvae("bernoulli"), open_source("digits", split="test"), iwae_k=0, limit=10)
    assert "elbo" not in result and "bits_per_dim" not in result and result["codebook"]["used_codes"] == 2
