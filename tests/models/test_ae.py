"""AE: deterministic codes through the VAE's bodies, the reconstruction loss alone, save/load, no prior."""

import pytest
import torch

from tests.models.test_vae import overfit, pattern_images
from vaestudio.checkpoints import load_model, save_model
from vaestudio.common.batch import Batch
from vaestudio.models import MODEL_TYPES, losses
from vaestudio.models.ae import AE, AEConfig
from vaestudio.models.vae import ConvBody, MLPBody


def tiny_ae(**overrides) -> AE:
    values = {"image_channels": 1, "image_size": 8, "latent_dim": 3, "hidden_sizes": (32,)}
    if overrides.get("body") == "conv":
        values["hidden_sizes"] = (8, 16)
    values.update(overrides)
    torch.manual_seed(0)
    return AE(AEConfig(**values))


@pytest.mark.parametrize("body, body_class", [("mlp", MLPBody), ("conv", ConvBody)])
def test_codes_are_deterministic_and_decode_to_images(body, body_class):
    model = tiny_ae(body=body).eval()
    assert isinstance(model.body, body_class)
    images = pattern_images(count=5)  # (5, 1, 8, 8)
    codes = model.encode(images)
    assert codes.shape == (5, 3)
    assert torch.equal(codes, model.encode(images))  # no noise anywhere
    output = model(images)
    assert torch.equal(output.latents, codes)
    decoded = model.decode(codes).detach()
    assert decoded.shape == (5, 1, 8, 8) and 0 <= float(decoded.min()) and float(decoded.max()) <= 1
    assert torch.equal(model.reconstruct(images), decoded)


def test_loss_is_the_reconstruction_cost_alone():
    model = tiny_ae().eval()
    images = pattern_images(count=6)
    logits = model.body.decoder(model.body.encoder(images.flatten(1))).view(6, 1, 8, 8)  # by hand
    expected = -(images * logits - torch.nn.functional.softplus(logits)).flatten(1).sum(1).mean().detach()
    result = model.training_loss(Batch(images))
    assert float(result.loss) == pytest.approx(float(expected), rel=1e-5)
    assert result.logs["reconstruction"] == pytest.approx(-float(expected), rel=1e-5)
    assert set(result.logs) == {"loss", "reconstruction"}


def test_it_learns_to_reconstruct_a_batch():
    model = tiny_ae(latent_dim=8)
    images = pattern_images(count=8)
    first, last = overfit(model, Batch(images), steps=150)
    assert last < 0.5 * first


def test_save_and_load_give_the_same_model(tmp_path):
    assert MODEL_TYPES["ae"] is AE
    model = tiny_ae(likelihood="gaussian", gaussian_scale=0.1).eval()
    save_model(model, str(tmp_path / "ae"))
    loaded = load_model(str(tmp_path / "ae"))
    assert type(loaded) is AE and loaded.config == model.config
    images = pattern_images(count=3)
    assert torch.equal(loaded.reconstruct(images), model.reconstruct(images))


def test_bad_settings_and_conditions_are_clear_errors():
    with pytest.raises(ValueError, match="likelihood"):
        AEConfig(likelihood="poisson")
    with pytest.raises(ValueError, match="divisible"):
        AEConfig(body="conv", image_size=10, hidden_sizes=(8, 16))
    with pytest.raises(ValueError, match="unconditional"):
        tiny_ae().encode(pattern_images(count=2), condition=torch.tensor([0, 1]))
    assert not hasattr(AE, "sample") and AE.has_prior is False
    assert losses.LIKELIHOODS  # the AE takes the VAE's likelihoods
