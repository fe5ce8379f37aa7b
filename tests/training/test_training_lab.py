"""The training lab: KL warm-up in recipes, and the bound's terms (VAE) or the codebook's health (VQ) logged
as separate fields of log.jsonl at every log step."""

from __future__ import annotations

import json
import os

import pytest
import torch

from tests.training.conftest import TINY_VAE, TINY_VQVAE
from vaestudio.common.batch import Batch
from vaestudio.models import VAE, VAEConfig
from vaestudio.training import RecipeError, load_recipe, train
from vaestudio.training.building import kl_weight_at
from vaestudio.training.recipes import TrainingSection


def log_lines(out: str) -> list[dict]:
    with open(os.path.join(out, "log.jsonl"), encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def test_the_kl_weight_ramps_linearly_then_stays_at_one():
    training = TrainingSection(steps=100, kl_warmup_steps=4)
    assert [kl_weight_at(step, training) for step in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert kl_weight_at(0, TrainingSection(steps=100)) == 1.0  # off by default


def test_a_warmed_up_vae_logs_its_kl_weight_and_the_terms_of_the_bound(write_recipe, tmp_path):
    recipe = TINY_VAE.replace("log_every = 2", "log_every = 2\nkl_warmup_steps = 8")
    out = str(tmp_path / "run")
    train(load_recipe(write_recipe(recipe)), out)
    lines = log_lines(out)
    assert [line["step"] for line in lines] == [2, 4, 6, 8, 10, 12]
    for line in lines:  # every log step: the reconstruction term, the KL term and the bound, separately
        assert {"reconstruction", "kl", "elbo", "kl_weight"} <= set(line)
        assert line["elbo"] == pytest.approx(line["reconstruction"] - line["kl"], rel=1e-6)
    # steps 1-2 use factors 0 and 1/8 (mean 1/16); steps 9-12 the full beta of 1
    assert [line["kl_weight"] for line in lines] == pytest.approx([1 / 16, 5 / 16, 9 / 16, 13 / 16, 1.0, 1.0])


@pytest.mark.parametrize("free_bits", [0.0, 0.5])
def test_the_vae_loss_weights_its_kl_by_the_warm_up_factor(free_bits):
    torch.manual_seed(0)
    model = VAE(VAEConfig(image_size=8, latent_dim=3, hidden_sizes=(16,), beta=2.0, free_bits=free_bits))
    images = torch.rand(16, 1, 8, 8)
    losses = {}
    for factor in (1.0, 0.25, 0.0):
        model.kl_weight_factor = factor
        torch.manual_seed(1)  # the same reparameterisation noise
        result = model.training_loss(Batch(images))
        losses[factor] = float(result.loss.detach())
        assert result.logs["kl_weight"] == 2.0 * factor
    assert losses[0.0] == pytest.approx(-result.logs["reconstruction"], rel=1e-6)  # the KL switched off
    kl_term = (losses[1.0] - losses[0.0]) / 2.0  # beta * kl_term at factor 1
    assert losses[0.25] == pytest.approx(losses[0.0] + 0.25 * 2.0 * kl_term, rel=1e-6)


def test_a_vq_run_logs_commitment_usage_and_perplexity(write_recipe, tmp_path):
    out = str(tmp_path / "run")
    train(load_recipe(write_recipe(TINY_VQVAE)), out)
    for line in log_lines(out):
        assert {"reconstruction", "commitment", "usage", "perplexity"} <= set(line)
        assert 0 < line["usage"] <= 1 and line["perplexity"] >= 1


def test_kl_warmup_on_a_model_without_a_kl_is_a_clear_error(write_recipe, tmp_path):
    recipe = TINY_VQVAE.replace("log_every = 2", "log_every = 2\nkl_warmup_steps = 10")
    with pytest.raises(RecipeError, match="kl_warmup_steps needs a model with a KL term"):
        train(load_recipe(write_recipe(recipe)), str(tmp_path / "run"))
