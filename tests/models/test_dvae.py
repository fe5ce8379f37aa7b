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


def test_cosine_temperature_schedule_holds_warm_then_drops_to_the_end():
    config = tiny_config(temperature_start=1.0, temperature_end=0.125, anneal_steps=100,
                         temperature_schedule="cosine")
    assert config.temperature_at(0) == 1.0
    assert config.temperature_at(25) == pytest.approx(0.125 + 0.875 * (1 + math.cos(math.pi / 4)) / 2)
    assert config.temperature_at(50) == pytest.approx(0.5625)  # halfway between the ends, not their geometric mean
    assert config.temperature_at(100) == pytest.approx(0.125) and config.temperature_at(500) == pytest.approx(0.125)
    exponential = tiny_config(temperature_start=1.0, temperature_end=0.125, anneal_steps=100)
    assert config.temperature_at(25) > exponential.temperature_at(25)  # cosine stays warm longer
    with pytest.raises(ValueError, match="temperature_schedule"):
        tiny_config(temperature_schedule="linear")


def test_the_kl_weight_factor_scales_only_the_kl_term_and_is_logged():
    torch.manual_seed(0)
    model = DVAE(tiny_config(kl_weight=2.0))
    batch = Batch(smooth_images())
    losses = {}
    for factor in (1.0, 0.5, 0.0):
        model.kl_weight_factor = factor
        torch.manual_seed(1)  # the same Gumbel noise
        output = model.training_loss(batch)
        losses[factor] = float(output.loss.detach())
        assert output.logs["kl_weight"] == 2.0 * factor
    num_dimensions = batch.images[0].numel()
    assert losses[0.0] == pytest.approx(-output.logs["reconstruction"] / num_dimensions, rel=1e-5)
    kl_per_dimension = output.logs["kl"] / num_dimensions
    assert losses[1.0] == pytest.approx(losses[0.0] + 2.0 * kl_per_dimension, rel=1e-5)
    assert losses[0.5] == pytest.approx(losses[0.0] + 1.0 * kl_per_dimension, rel=1e-5)


def test_small_logits_init_starts_every_code_about_equally_likely():
    torch.manual_seed(0)
    images = smooth_images()
    spread = {}
    for scale in (1.0, 0.01):
        torch.manual_seed(0)
        model = DVAE(tiny_config(logits_init_scale=scale))
        logits = model.code_logits(images).detach()  # (B, K, h, w)
        spread[scale] = float(categorical_kl_to_uniform(logits).mean())  # nats away from uniform
    assert spread[0.01] < 1e-3 < spread[1.0]
    assert spread[0.01] == pytest.approx(spread[1.0] * 1e-4, rel=0.2)  # KL is quadratic in small logits


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


def test_editor_latents_are_the_argmax_code_embeddings_and_decode_to_the_nearest_code():
    torch.manual_seed(0)
    model = DVAE(tiny_config()).eval()
    images = smooth_images()
    codes = model.encode_codes(images)  # (4, 4, 4)
    latents = model.encode_latents(images)  # (4, D, 4, 4)
    assert latents.shape == (4, model.config.code_dim, 4, 4)
    torch.testing.assert_close(latents[:, :, 1, 2], model.code_table()[codes[:, 1, 2]])
    torch.testing.assert_close(model.decode_latents(latents), model.decode_codes(codes))
    nudged = latents + 1e-4 * torch.randn_like(latents)  # off the table: re-quantised to the same codes
    torch.testing.assert_close(model.decode_latents(nudged), model.decode_codes(codes))
    other = model.code_table()[5][None, :, None, None].expand_as(latents)  # every position at code 5
    torch.testing.assert_close(model.decode_latents(other), model.decode_codes(torch.full_like(codes, 5)))


def test_bounds_of_a_deterministic_encoder_are_the_decoder_likelihood_minus_log_k_per_position():
    """A one-hot q: every draw is the argmax map, so ELBO = IWAE = log p(x | z) - KL(q || uniform) exactly."""
    torch.manual_seed(0)
    model = DVAE(tiny_config()).eval()
    with torch.no_grad():
        model.encoder.project.bias.add_(1e4 * torch.arange(16.0) / 16)  # code 15 wins everywhere, by a mile
    images = smooth_images()
    codes = torch.full((4, 4, 4), 15)
    log_likelihood = model.likelihood.log_prob(model.decode_code_parameters(codes), images).flatten(1).sum(1)
    expected = log_likelihood - 16 * math.log(16)  # KL = log K at each of the 4 x 4 positions
    bounds = model.bounds(images, num_samples=3, chunk_size=5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(bounds.elbo, expected.detach(), rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(bounds.iwae, expected.detach(), rtol=1e-5, atol=1e-3)


def test_bounds_agree_with_the_exact_log_likelihood_of_a_one_position_code_map():
    """A 1x1 code map of K = 16 codes: log p(x) = logsumexp_z log p(x | z) - log K is exact; the ELBO is
    sum_z q(z) (log p(x | z) - log K - log q(z)). The Monte Carlo bounds stay below and approach them."""
    torch.manual_seed(0)
    model = DVAE(tiny_config(downsample_factor=16)).eval()
    images = smooth_images()
    model.decoder = torch.nn.Sequential(  # a decoder whose image depends on the code: (B, D, 1, 1) -> (B, 6, 16, 16)
        torch.nn.Conv2d(model.config.code_dim, 6, kernel_size=1), torch.nn.Upsample(scale_factor=16)).eval()
    with torch.no_grad():
        log_q = torch.log_softmax(model.code_logits(images), dim=1)[:, :, 0, 0]  # (B, K)
        every_code = torch.arange(16).repeat_interleave(4)[:, None, None]  # (K*B, 1, 1), code-major
        parameters = model.decode_code_parameters(every_code)  # (K*B, 2C, H, W)
        log_likelihood = model.likelihood.log_prob(parameters, images.repeat(16, 1, 1, 1)).flatten(1).sum(1)
    log_likelihood = log_likelihood.view(16, 4).t()  # (B, K)
    exact = torch.logsumexp(log_likelihood - math.log(16), dim=1)  # (B,)
    exact_elbo = (log_q.exp() * (log_likelihood - math.log(16) - log_q)).sum(1)  # (B,)
    assert torch.all(exact_elbo < exact - 1.0)  # a gap worth measuring
    generator = torch.Generator().manual_seed(0)
    many = model.bounds(images, 4000, chunk_size=1000, generator=generator)
    torch.testing.assert_close(many.elbo, exact_elbo, rtol=0, atol=0.05 * float((exact - exact_elbo).min()) + 0.05)
    torch.testing.assert_close(many.iwae, exact, rtol=0, atol=0.1)  # the gap to the ELBO is tens of nats
    few = model.bounds(images, 2, generator=torch.Generator().manual_seed(0))
    assert torch.all(few.iwae >= few.elbo - 1e-5)
    again = model.bounds(images, 2, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again.iwae, few.iwae)  # seeded: reproducible
    with pytest.raises(ValueError, match="at least 1"):
        model.bounds(images, 0)


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        DVAEConfig(image_size=20, downsample_factor=8)
    with pytest.raises(ValueError, match="temperature"):
        DVAEConfig(temperature_start=0.5, temperature_end=1.0)
