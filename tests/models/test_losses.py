"""Losses and likelihoods: closed forms against Monte Carlo and torch.distributions, normalisation, IWAE."""

import math

import pytest
import torch

from vaestudio.models import losses


def test_gaussian_kl_matches_torch_distributions():
    generator = torch.Generator().manual_seed(0)
    mean = torch.randn(8, 5, generator=generator, dtype=torch.float64)
    log_variance = torch.randn(8, 5, generator=generator, dtype=torch.float64)
    posterior = torch.distributions.Normal(mean, torch.exp(0.5 * log_variance))
    prior = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    expected = torch.distributions.kl_divergence(posterior, prior)
    torch.testing.assert_close(losses.gaussian_kl(mean, log_variance), expected)


def test_gaussian_kl_matches_monte_carlo():
    generator = torch.Generator().manual_seed(1)
    mean = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    log_variance = torch.tensor([0.0, -1.0, 0.7], dtype=torch.float64)
    draws = mean + torch.exp(0.5 * log_variance) * torch.randn(
        400_000, 3, generator=generator, dtype=torch.float64
    )
    log_ratio = losses.gaussian_log_density(draws, mean, log_variance) - losses.standard_normal_log_density(
        draws
    )
    estimate = log_ratio.mean(0)  # (3,)
    standard_error = log_ratio.std(0) / math.sqrt(draws.shape[0])
    closed_form = losses.gaussian_kl(mean, log_variance)
    assert torch.all((estimate - closed_form).abs() < 5 * standard_error)


def test_gaussian_kl_is_zero_at_the_prior():
    assert losses.gaussian_kl(torch.zeros(3), torch.zeros(3)).abs().max() == 0


def test_bernoulli_log_likelihood_matches_torch_and_is_stable():
    logits = torch.tensor([-50.0, -2.0, 0.0, 3.0, 60.0])
    targets = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0])
    expected = torch.distributions.Bernoulli(logits=logits).log_prob(targets)
    torch.testing.assert_close(losses.bernoulli_log_likelihood(logits, targets), expected)
    assert torch.isfinite(
        losses.bernoulli_log_likelihood(torch.tensor([-1e4, 1e4]), torch.tensor([1.0, 0.0]))
    ).all()


def test_gaussian_log_likelihood_matches_torch():
    mean, log_scale, targets = torch.randn(10), torch.randn(10), torch.rand(10)
    expected = torch.distributions.Normal(mean, log_scale.exp()).log_prob(targets)
    torch.testing.assert_close(losses.gaussian_log_likelihood(mean, log_scale, targets), expected)


@pytest.mark.parametrize("mean,log_scale", [(0.3, -3.0), (0.5, 0.0), (1.7, -1.0), (-0.2, -6.0), (0.5, -9.0)])
def test_discretized_gaussian_masses_sum_to_one(mean, log_scale):
    levels = torch.arange(256, dtype=torch.float64) / 255  # every 8-bit value
    log_mass = losses.discretized_gaussian_log_likelihood(
        torch.full_like(levels, mean), torch.full_like(levels, log_scale), levels
    )
    assert torch.isfinite(log_mass).all()
    assert abs(log_mass.exp().sum().item() - 1.0) < 1e-9


def test_discretized_gaussian_matches_cdf_difference_and_has_finite_gradients():
    mean = torch.tensor([0.2, 0.9, 0.5], dtype=torch.float64, requires_grad=True)
    log_scale = torch.tensor([-2.0, -1.0, -4.0], dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([0.0, 1.0, 128 / 255], dtype=torch.float64)
    normal = torch.distributions.Normal(mean.detach(), log_scale.detach().exp())
    half = 0.5 / 255
    expected = torch.stack(
        [
            normal.cdf(torch.tensor(half, dtype=torch.float64))[0],
            1 - normal.cdf(torch.tensor(1 - half, dtype=torch.float64))[1],
            (normal.cdf(targets[2] + half) - normal.cdf(targets[2] - half))[2],
        ]
    ).log()
    result = losses.discretized_gaussian_log_likelihood(mean, log_scale, targets)
    torch.testing.assert_close(result, expected)
    result.sum().backward()
    assert torch.isfinite(mean.grad).all() and torch.isfinite(log_scale.grad).all()


@pytest.mark.parametrize(
    "location,log_scale", [(0.0, 0.0), (1.5, math.log(0.5)), (-2.0, math.log(0.2)), (0.3, -3.0)]
)
def test_logit_laplace_density_integrates_to_one(location, log_scale):
    # trapezoidal quadrature directly in x on (0, 1), finest near the ends and around the mode
    uniform = torch.linspace(0.0, 1.0, 400_001, dtype=torch.float64)[1:-1]
    mode = torch.sigmoid(torch.tensor(location, dtype=torch.float64))
    grid = torch.cat(
        [
            uniform,
            10.0 ** torch.linspace(-12, -4, 20_001, dtype=torch.float64),
            1 - 10.0 ** torch.linspace(-12, -4, 20_001, dtype=torch.float64),
            (mode + torch.linspace(-1e-3, 1e-3, 20_001, dtype=torch.float64)).clamp(1e-12, 1 - 1e-12),
        ]
    )
    grid = torch.unique(grid)  # sorted
    density = losses.logit_laplace_log_density(
        torch.full_like(grid, location), torch.full_like(grid, log_scale), grid
    ).exp()
    integral = torch.trapezoid(density, grid).item()
    assert abs(integral - 1.0) < 2e-3, integral


def test_logit_laplace_likelihood_uses_squashed_pixels():
    location, log_scale = torch.tensor([0.4]), torch.tensor([-1.0])
    pixels = torch.tensor([0.0])  # an endpoint: finite thanks to the eps squashing
    value = losses.logit_laplace_log_likelihood(location, log_scale, pixels)
    squashed = torch.tensor([losses.LOGIT_LAPLACE_EPS])
    expected = losses.logit_laplace_log_density(location, log_scale, squashed) + math.log(0.8)
    torch.testing.assert_close(value, expected)
    assert torch.isfinite(losses.logit_laplace_log_likelihood(location, log_scale, torch.tensor([1.0]))).all()
    torch.testing.assert_close(
        losses.unsquash_pixels(losses.squash_pixels(torch.tensor([0.0, 0.3, 1.0]))),
        torch.tensor([0.0, 0.3, 1.0]),
    )


def test_iwae_bound_is_stable_log_mean_exp():
    log_weights = torch.tensor([[-1000.0, -3.0], [-1001.0, -4.0], [-999.0, -5.0]])  # (k=3, B=2)
    bound = losses.iwae_bound(log_weights)
    shift = log_weights.double().max(0).values  # (B,) exact reference: shift each column by its maximum
    expected = torch.log(torch.exp(log_weights.double() - shift).mean(0)) + shift
    assert torch.isfinite(bound).all()
    torch.testing.assert_close(bound.double(), expected)


def test_iwae_with_one_sample_is_the_log_weight():
    log_weights = torch.randn(1, 7)
    torch.testing.assert_close(losses.iwae_bound(log_weights), log_weights[0])


def test_iwae_gradient_is_the_normalised_importance_weighted_one():
    """d/dtheta log mean_i w_i = sum_i softmax(log w)_i d log w_i / dtheta, checked on a tiny model."""
    generator = torch.Generator().manual_seed(3)
    weight = torch.randn(4, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    inputs = torch.randn(6, 4, generator=generator, dtype=torch.float64)  # k = 6 samples

    def log_weights():  # (k,)
        return -((inputs @ weight).tanh() - 0.3).pow(2).sum(1)

    (autograd_gradient,) = torch.autograd.grad(losses.iwae_bound(log_weights()), weight)
    values = log_weights()
    normalised = torch.softmax(values.detach(), dim=0)  # (k,)
    per_sample = [torch.autograd.grad(values[index], weight, retain_graph=True)[0] for index in range(6)]
    hand_computed = sum(normalised[index] * per_sample[index] for index in range(6))
    torch.testing.assert_close(autograd_gradient, hand_computed)


def test_bits_per_dim():
    nll = torch.tensor([784 * math.log(2.0)])
    torch.testing.assert_close(losses.bits_per_dim(nll, 784), torch.tensor([1.0]))
    torch.testing.assert_close(losses.bits_per_dim(nll, 784, num_bins=256), torch.tensor([9.0]))


@pytest.mark.parametrize("name", losses.LIKELIHOODS)
def test_likelihood_heads_shapes_and_images(name):
    likelihood = losses.make_likelihood(name)
    parameters = torch.randn(2, likelihood.parameters_per_channel * 3, 4, 4)
    images = torch.rand(2, 3, 4, 4)
    assert likelihood.log_prob(parameters, images).shape == (2, 3, 4, 4)
    image = likelihood.image(parameters)
    assert image.shape == (2, 3, 4, 4) and image.min() >= 0 and image.max() <= 1
    # broadcasting over a leading sample dimension, as the IWAE bound uses it
    assert likelihood.log_prob(parameters.expand(5, *parameters.shape), images).shape == (5, 2, 3, 4, 4)


def test_fixed_scale_gaussian_has_one_parameter_per_channel():
    likelihood = losses.make_likelihood("gaussian", gaussian_scale=0.1)
    assert likelihood.parameters_per_channel == 1
    with pytest.raises(ValueError, match="positive"):
        losses.make_likelihood("gaussian", gaussian_scale=-1.0)
    with pytest.raises(ValueError, match="unknown likelihood"):
        losses.make_likelihood("poisson")
