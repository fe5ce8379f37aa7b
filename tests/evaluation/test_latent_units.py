"""Active units (Burda et al.'s covariance criterion) and KL per dimension, on VAEs whose answer is known."""

from __future__ import annotations

import pytest
import torch

from tests.models.test_vae import overfit
from vaestudio.common.batch import Batch
from vaestudio.data import open_source
from vaestudio.evaluation import evaluate
from vaestudio.evaluation.latent_units import LatentUnits
from vaestudio.models import VAE, VAEConfig


@pytest.fixture(scope="module")
def digits_test():
    return open_source("digits", split="test")


def test_activity_is_the_variance_of_the_posterior_means_over_the_data():
    generator = torch.Generator().manual_seed(0)
    means = torch.randn(300, 3, generator=generator) * torch.tensor([1.0, 0.05, 0.2])  # (N, 3)
    kl = torch.rand(300, 3, generator=generator)
    units = LatentUnits()
    for start in range(0, 300, 64):  # in batches, as evaluate() adds them
        units.add(means[start : start + 64], kl[start : start + 64])
    torch.testing.assert_close(units.activity(), means.double().var(0, unbiased=False))
    summary = units.summary()
    # variances about 1, 0.0025, 0.04: the middle dimension is below Burda et al.'s 0.01
    assert summary["active_units"] == 2
    assert summary["kl_per_dimension"] == pytest.approx(kl.double().mean(0).tolist(), abs=1e-6)
    with pytest.raises(ValueError, match="no images"):
        LatentUnits().activity()


def vae_with_dead_dimensions() -> VAE:
    """A 4-D VAE whose encoder emits q = N(0, 1) (the prior) for dimensions 2 and 3, whatever the image."""
    torch.manual_seed(0)
    model = VAE(VAEConfig(image_size=8, latent_dim=4, hidden_sizes=(32,)))
    head = model.body.encoder[-1]  # Linear(32, 2 * 4): means then log-variances
    with torch.no_grad():
        head.weight[[2, 3, 6, 7]] = 0.0
        head.bias[[2, 3, 6, 7]] = 0.0
        head.weight[[0, 1]] *= 5.0  # make the live means move clearly with the image
    return model


def test_evaluate_reports_the_units_a_constructed_vae_uses(digits_test):
    result = evaluate(vae_with_dead_dimensions(), digits_test, batch_size=50, limit=200)
    assert result["active_units"] == 2
    activity, kl = result["unit_activity"], result["kl_per_dimension"]
    assert activity[2] == activity[3] == 0.0 and min(activity[:2]) > 0.01
    assert kl[2] == pytest.approx(0.0, abs=1e-9) and kl[3] == pytest.approx(0.0, abs=1e-9)  # q is the prior
    assert min(kl[:2]) > 0.01 and result["kl"] == pytest.approx(sum(kl))


def test_a_trained_vae_switches_off_the_dimensions_its_decoder_ignores():
    """The decoder's weights from z_2 and z_3 are zero and frozen: the KL alone acts on those dimensions, so
    training collapses them (KL ~ 0, no activity) while z_0 and z_1 carry the images."""
    torch.manual_seed(0)
    model = VAE(VAEConfig(image_size=8, latent_dim=4, hidden_sizes=(64,)))
    first_decoder_layer = model.body.decoder[0]  # Linear(4, 64)
    with torch.no_grad():
        first_decoder_layer.weight[:, 2:] = 0.0
    first_decoder_layer.weight.register_hook(lambda grad: torch.cat([grad[:, :2], torch.zeros_like(grad[:, 2:])], 1))
    train = open_source("digits", split="train")
    images = torch.stack([train[index].image for index in range(256)])  # (256, 1, 8, 8)
    overfit(model, Batch(images), steps=400, learning_rate=1e-2)
    assert torch.all(first_decoder_layer.weight[:, 2:] == 0)
    units = LatentUnits()
    model.eval()
    with torch.no_grad():
        posterior = model.encode(images)
    units.add(posterior.mean, posterior.kl_per_dimension())
    summary = units.summary()
    assert summary["active_units"] == 2, summary
    assert max(summary["kl_per_dimension"][2:]) < 0.02 and min(summary["kl_per_dimension"][:2]) > 0.5, summary


def test_units_are_reported_for_gaussian_vaes_only(digits_test):
    from vaestudio.models import AE, AEConfig

    result = evaluate(AE(AEConfig(image_size=8, latent_dim=3, hidden_sizes=(16,))), digits_test, limit=40)
    assert "active_units" not in result and "kl_per_dimension" not in result


def test_measure_latent_units_reads_the_models_own_data_and_refuses_other_models(tmp_path):
    from vaestudio.checkpoints import save_model
    from vaestudio.evaluation.latent_units import measure_latent_units
    from vaestudio.hub import load
    from vaestudio.models import VQVAE, VQVAEConfig

    save_model(vae_with_dead_dimensions(), str(tmp_path / "vae"))
    (tmp_path / "vae" / "recipe.toml").write_text('[data]\nsource = "digits"\n')  # where its data comes from
    measured = measure_latent_units(load(str(tmp_path / "vae")), num_images=120, batch_size=50)
    assert measured["active_units"] == 2 and measured["latent_dim"] == 4 and measured["images"] == 120
    assert measured["unit_activity"][2] == 0.0 and measured["kl"] == pytest.approx(sum(measured["kl_per_dimension"]))
    assert measured["measured_on"] == "120 images of digits (test)"
    with pytest.raises(ValueError, match="2 to 5000 images"):
        measure_latent_units(vae_with_dead_dimensions(), "digits", num_images=1)
    with pytest.raises(ValueError, match="Gaussian VAEs; this model is a vqvae"):
        measure_latent_units(VQVAE(VQVAEConfig(image_size=8, image_channels=1, downsample_factor=2, hidden_channels=8,
                                               residual_channels=4, num_codes=8, code_dim=4)), "digits")
