"""evaluate(): the JSON fields for each kind of model, on small data."""

from __future__ import annotations

import math

import pytest
import torch

from vaestudio.data import open_source
from vaestudio.evaluation import evaluate
from vaestudio.models import VAE, VAEConfig


@pytest.fixture(scope="module")
def digits_test():
    return open_source("digits", split="test")


def test_vae_report_has_bounds_nll_and_bits(digits_test):
    torch.manual_seed(0)
    model = VAE(VAEConfig(image_size=8, latent_dim=2, hidden_sizes=(16,)))
    result = evaluate(model, digits_test, batch_size=32, iwae_k=20, limit=70)
    assert result["model_type"] == "vae" and result["images"] == 70 and result["iwae_k"] == 20
    for key in ("elbo", "iwae", "nll", "bits_per_dim", "mse", "psnr", "bounds_seconds_per_1000_images"):
        assert math.isfinite(result[key]), key
    assert result["iwae"] >= result["elbo"]
    assert result["nll"] == -result["iwae"]
    assert result["bits_per_dim"] == pytest.approx(result["nll"] / (64 * math.log(2)))
    assert model.training  # evaluate() puts the mode back


def test_the_same_seed_gives_the_same_report(digits_test):
    model = VAE(VAEConfig(image_size=8, latent_dim=2, hidden_sizes=(16,)))
    first, second = (evaluate(model, digits_test, iwae_k=5, limit=40, seed=3) for _ in range(2))
    assert first["iwae"] == second["iwae"] and first["elbo"] == second["elbo"]


def test_more_importance_samples_tighten_the_bound(digits_test):
    torch.manual_seed(1)
    model = VAE(VAEConfig(image_size=8, latent_dim=2, hidden_sizes=(16,)))
    loose = evaluate(model, digits_test, iwae_k=1, limit=100)
    tight = evaluate(model, digits_test, iwae_k=200, limit=100)
    assert loose["iwae"] == pytest.approx(loose["elbo"], abs=1e-4)  # k = 1 is the ELBO
    assert tight["iwae"] > loose["iwae"]


def test_iwae_k_zero_skips_the_bounds(digits_test):
    model = VAE(VAEConfig(image_size=8, latent_dim=2, hidden_sizes=(16,)))
    result = evaluate(model, digits_test, iwae_k=0, limit=10)
    assert "iwae" not in result and "mse" in result


def test_autoencoder_reports_the_mmd_of_its_codes_to_the_prior(digits_test):
    from vaestudio.models import AE, AEConfig, losses

    torch.manual_seed(0)
    model = AE(AEConfig(image_size=8, latent_dim=3, hidden_sizes=(16,)))
    result = evaluate(model, digits_test, batch_size=32, limit=70, seed=5)
    images = torch.stack([digits_test[index].image for index in range(70)])  # (70, 1, 8, 8)
    with torch.no_grad():
        codes = model.encode(images).double()  # (70, 3)
    prior = torch.randn(70, 3, generator=torch.Generator().manual_seed(5)).double()
    assert result["mmd_to_prior"] == pytest.approx(float(losses.unbiased_mmd(codes, prior, "imq", (6.0,))), rel=1e-6)
    with torch.no_grad():  # codes pushed far from N(0, I) are further from it
        model.body.encoder[-1].bias.add_(5.0)
    assert evaluate(model, digits_test, limit=70, seed=5)["mmd_to_prior"] > 5 * abs(result["mmd_to_prior"])
    assert "mmd_to_prior" not in evaluate(VAE(VAEConfig(image_size=8, latent_dim=2, hidden_sizes=(16,))),
                                          digits_test, limit=20)
