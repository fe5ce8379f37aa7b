"""dVAE: Gumbel-softmax relaxation, temperature annealing, KL to the uniform prior, codes, overfitting."""

import math

import pytest
import torch

from tests.models.test_vae import overfit
from tests.models.test_vqvae import SMALL_CODE_MODEL, smooth_images
from vaestudio.common.batch import Batch
from vaestudio.models.dvae import DVAE, DVAEConfig, categorical_kl_to_uniform, gumbel_softmax


def tiny_config(**overrides) -> DVAEConfig:
    return DVAEConfig(**{**SMALL_CODE_MODEL, "anneal_steps": 50, "temperature_end": 0.25, **overrides})


@pytest.mark.parametrize("straight_through", [False, True], ids=["soft", "straight-through"])
def test_overfits_one_batch_and_anneals(straight_through):
    torch.manual_seed(0)
    model = DVAE(tiny_config(straight_through=straight_through))
    batch = Batch(smooth_images())
    first, last = overfit(model, batch, steps=80, learning_rate=3e-3)
    assert last < first - 0.2 * abs(first), (first, last)
    assert float(model.temperature) == pytest.approx(0.25)  # annealed to the end
    logs = model.training_loss(batch).logs
    assert {"kl", "reconstruction", "bits_per_dim", "temperature", "mse", "perplexity"} <= set(logs)


def test_temperature_schedule_is_geometric_and_clamped():
    config = tiny_config(temperature_start=1.0, temperature_end=1 / 16, anneal_steps=100)
    assert config.temperature_at(0) == 1.0
    assert config.temperature_at(50) == pytest.approx(0.25)
    assert config.temperature_at(100) == pytest.approx(1 / 16) and config.temperature_at(
        10_000
    ) == pytest.approx(1 / 16)
    model = DVAE(config)
    model.on_train_step_end(50)
    assert float(model.temperature) == pytest.approx(0.25)
    assert "temperature" in model.state_dict()  # resumes where it was saved


def test_gumbel_softmax_samples_follow_the_categorical():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.2]))[None, :, None].expand(20_000, 3, 1)  # (N, K, 1)
    generator = torch.Generator().manual_seed(0)
    soft = gumbel_softmax(logits, temperature=0.5, generator=generator)
    assert torch.allclose(soft.sum(1), torch.ones(20_000, 1))
    frequencies = torch.bincount(soft.argmax(1).flatten(), minlength=3).float() / 20_000
    torch.testing.assert_close(frequencies, torch.tensor([0.5, 0.3, 0.2]), atol=0.02, rtol=0)
    hard = gumbel_softmax(logits.clone().requires_grad_(), temperature=0.5, hard=True, generator=generator)
    assert torch.all((hard == 0) | (hard == 1)) and torch.allclose(hard.sum(1), torch.ones(20_000, 1))


def test_straight_through_gradient_is_the_relaxed_one():
    logits = torch.randn(2, 5, 3, requires_grad=True)
    weights = torch.randn(2, 5, 3)
    hard = gumbel_softmax(logits, 0.7, hard=True, generator=torch.Generator().manual_seed(1))
    (hard_gradient,) = torch.autograd.grad((hard * weights).sum(), logits)
    soft = gumbel_softmax(logits, 0.7, hard=False, generator=torch.Generator().manual_seed(1))
    (soft_gradient,) = torch.autograd.grad((soft * weights).sum(), logits)
    torch.testing.assert_close(hard_gradient, soft_gradient)


def test_kl_to_uniform():
    assert categorical_kl_to_uniform(torch.zeros(1, 8)).abs().max() < 1e-6  # uniform: zero
    confident = torch.tensor([[100.0] + [0.0] * 7])
    assert categorical_kl_to_uniform(confident).item() == pytest.approx(
        math.log(8), abs=1e-4
    )  # one-hot: log K
    logits = torch.randn(4, 8)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Categorical(logits=logits),
        torch.distributions.Categorical(logits=torch.zeros(4, 8)),
    )
    torch.testing.assert_close(categorical_kl_to_uniform(logits), expected)


def test_codes_roundtrip_and_eval_uses_argmax():
    torch.manual_seed(0)
    model = DVAE(tiny_config()).eval()
    images = smooth_images()
    codes = model.encode_codes(images)
    assert codes.shape == (4, 4, 4) and codes.dtype == torch.int64 and model.code_map_shape == (4, 4)
    decoded = model.decode_codes(codes)
    assert decoded.shape == images.shape and decoded.min() >= 0 and decoded.max() <= 1
    output = model(images)  # eval mode: hard argmax codes, no noise
    torch.testing.assert_close(output.reconstruction, decoded)
    torch.testing.assert_close(model.reconstruct(images), decoded)


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        DVAEConfig(image_size=20, downsample_factor=8)
    with pytest.raises(ValueError, match="temperature"):
        DVAEConfig(temperature_start=0.5, temperature_end=1.0)
