"""VAE: the IWAE paper's model, objectives, bounds (chunked, k = 1, growing with k), conditions, fitting."""

import math

import pytest
import torch

from vaestudio.common.batch import Batch
from vaestudio.models import losses
from vaestudio.models.base import StudioModel
from vaestudio.models.text import build_vocabulary
from vaestudio.models.vae import VAE, VAEConfig

CAPTIONS = ["red circle", "blue square", "green triangle", "red square"] * 2


def overfit(
    model: StudioModel, batch: Batch, steps: int = 100, learning_rate: float = 1e-2
) -> tuple[float, float]:
    """Adam on one batch; returns (first loss, mean of the last five). Shared by the model tests.

    Runs on one thread: these models are tiny, and on a busy machine more threads only contend.
    """
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.train()
        for step in range(steps):
            output = model.training_loss(batch)
            optimizer.zero_grad()
            output.loss.backward()
            optimizer.step()
            model.on_train_step_end(step + 1)
            history.append(float(output.loss.detach()))
            assert all(math.isfinite(value) for value in output.logs.values()), output.logs
    finally:
        torch.set_num_threads(threads)
    return history[0], sum(history[-5:]) / 5


def pattern_images(channels: int = 1, size: int = 8, count: int = 8) -> torch.Tensor:
    """A batch of distinct binary images: (count, channels, size, size) in {0, 1}."""
    generator = torch.Generator().manual_seed(1)
    return (torch.rand(count, channels, size, size, generator=generator) > 0.5).float()


def tiny_config(**overrides) -> VAEConfig:
    values = {
        "image_channels": 1,
        "image_size": 8,
        "latent_dim": 4,
        "hidden_sizes": (32,),
        "activation": "relu",
    }
    if overrides.get("body") == "conv":
        values["hidden_sizes"] = (8, 16)
    values.update(overrides)
    return VAEConfig(**values)


def test_iwae_mnist_config_is_the_papers_model():
    model = VAE(VAEConfig.iwae_mnist())
    linear_shapes = [
        tuple(module.weight.shape) for module in model.modules() if isinstance(module, torch.nn.Linear)
    ]
    assert linear_shapes == [(200, 784), (200, 200), (100, 200), (200, 50), (200, 200), (784, 200)]
    assert all(isinstance(module, torch.nn.Tanh) for module in list(model.body.encoder)[1::2])
    assert model.config.likelihood == "bernoulli" and model.config.latent_dim == 50
    assert sum(parameter.numel() for parameter in model.parameters()) == (
        (784 * 200 + 200)
        + (200 * 200 + 200)
        + (200 * 100 + 100)
        + (50 * 200 + 200)
        + (200 * 200 + 200)
        + (200 * 784 + 784)
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"body": "mlp", "likelihood": "bernoulli"},
        {"body": "mlp", "likelihood": "gaussian"},
        {"body": "mlp", "likelihood": "gaussian", "gaussian_scale": 0.1},
        {"body": "mlp", "likelihood": "logit_laplace"},
        {"body": "conv", "likelihood": "bernoulli"},
        {"body": "conv", "likelihood": "gaussian"},
        {"body": "conv", "likelihood": "logit_laplace", "activation": "silu"},
        {"body": "mlp", "objective": "iwae", "iwae_samples": 4, "activation": "tanh"},
        {"body": "mlp", "condition": "class", "num_classes": 4, "class_embedding_dim": 4, "beta": 0.5},
        {
            "body": "conv",
            "condition": "text",
            "text_encoder": {"vocabulary": build_vocabulary(CAPTIONS), "embedding_dim": 8, "num_layers": 1,
                             "num_heads": 2, "max_tokens": 4},
        },
    ],
    ids=[
        "mlp-bernoulli",
        "mlp-gaussian",
        "mlp-gaussian-fixed",
        "mlp-logit-laplace",
        "conv-bernoulli",
        "conv-gaussian",
        "conv-logit-laplace",
        "iwae",
        "class",
        "text",
    ],
)
def test_overfits_one_batch(overrides):
    torch.manual_seed(0)
    model = VAE(tiny_config(**overrides))
    batch = Batch(pattern_images(), labels=torch.arange(8) % 4, captions=CAPTIONS)
    first, last = overfit(model, batch)
    assert last < first - 0.2 * abs(first), (first, last)
    logs = model.training_loss(batch).logs
    assert {"elbo", "kl", "reconstruction", "bits_per_dim", "loss"} <= set(logs)


def test_training_loss_elbo_is_reconstruction_minus_kl_and_beta_weights_the_kl():
    torch.manual_seed(0)
    model = VAE(tiny_config(beta=4.0))
    logs = model.training_loss(Batch(pattern_images())).logs
    assert logs["elbo"] == pytest.approx(logs["reconstruction"] - logs["kl"], rel=1e-5)
    assert logs["loss"] == pytest.approx(-(logs["reconstruction"] - 4.0 * logs["kl"]), rel=1e-5)
    assert logs["bits_per_dim"] == pytest.approx(-logs["elbo"] / (64 * math.log(2)), rel=1e-5)


def test_free_bits_put_a_floor_under_each_dimensions_kl_and_no_gradient_below_it():
    torch.manual_seed(0)
    model = VAE(tiny_config(beta=2.0, free_bits=0.5))
    images = pattern_images()
    torch.manual_seed(1)
    loss = model.training_loss(Batch(images))
    torch.manual_seed(1)  # the same draw of z
    posterior = model.encode(images)
    latents = posterior.sample()
    reconstruction = model.likelihood.log_prob(model.decode_parameters(latents), images).flatten(1).sum(1)
    per_dimension = posterior.kl_per_dimension().mean(0)  # (L,)
    expected = -reconstruction.mean() + 2.0 * per_dimension.clamp_min(0.5).sum()
    assert loss.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss.loss.item() != pytest.approx(-(reconstruction - 2.0 * posterior.kl()).mean().item(), rel=1e-4)
    # a dimension under the floor gets no push from the KL term: only the reconstruction moves it
    below = per_dimension < 0.5
    assert below.any()
    (floored,) = torch.autograd.grad(per_dimension.clamp_min(0.5).sum(), posterior.mean, retain_graph=True)
    (plain,) = torch.autograd.grad(per_dimension.sum(), posterior.mean, retain_graph=True)
    assert torch.all(floored[:, below] == 0) and torch.any(plain[:, below] != 0)
    with pytest.raises(ValueError, match="free_bits"):
        VAEConfig(free_bits=0.5, objective="iwae")


def test_iwae_with_one_sample_equals_the_elbo_from_the_same_samples():
    torch.manual_seed(0)
    model = VAE(VAEConfig.iwae_mnist()).eval()
    images = pattern_images(size=28)
    bounds = model.bounds(images, num_samples=1, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(bounds.iwae, bounds.elbo, rtol=0, atol=1e-4)


def test_iwae_bound_grows_with_k_and_is_above_the_elbo():
    torch.manual_seed(0)
    model = VAE(tiny_config())
    batch = Batch(pattern_images())
    overfit(model, batch, steps=60)  # an informative posterior, so that the gap between bounds is clear
    model.eval()
    generator = torch.Generator().manual_seed(6)
    means = []
    for k in (1, 16, 256):
        bounds = model.bounds(batch.images, num_samples=k, generator=generator)
        assert torch.all(bounds.iwae >= bounds.elbo - 1e-4)  # Jensen, for the same samples
        means.append(float(bounds.iwae.mean()))
    assert means[0] < means[1] < means[2], means


def test_bounds_are_chunked_in_memory_and_agree_across_chunk_sizes():
    torch.manual_seed(0)
    model = VAE(tiny_config(latent_dim=2)).eval()
    images = pattern_images()
    decoded_rows = []
    decode = model.body.decode

    def recording_decode(latents, condition):
        decoded_rows.append(latents.shape[0])
        return decode(latents, condition)

    model.body.decode = recording_decode
    small = model.bounds(images, num_samples=300, chunk_size=64, generator=torch.Generator().manual_seed(0))
    assert max(decoded_rows) <= 64 and sum(decoded_rows) == 8 * 300
    decoded_rows.clear()
    large = model.bounds(
        images, num_samples=300, chunk_size=100_000, generator=torch.Generator().manual_seed(1)
    )
    assert decoded_rows == [8 * 300]
    torch.testing.assert_close(small.iwae, large.iwae, atol=0.3, rtol=0)  # two estimates of log p(x)
    assert small.iwae.shape == small.elbo.shape == (8,)


def test_monte_carlo_elbo_matches_the_closed_form_kl_elbo_on_average():
    torch.manual_seed(0)
    model = VAE(tiny_config()).eval()
    images = pattern_images()
    monte_carlo = model.bounds(images, num_samples=4000, generator=torch.Generator().manual_seed(0)).elbo
    posterior = model.encode(images)
    latents = posterior.sample(4000, generator=torch.Generator().manual_seed(1))  # (S, B, L)
    with torch.no_grad():
        parameters = model.body.decode(latents.flatten(0, 1), None).view(4000, 8, 1, 8, 8)
        reconstruction = model.likelihood.log_prob(parameters, images).flatten(2).sum(-1).mean(0)  # (B,)
    closed_form = reconstruction - posterior.kl().detach()
    torch.testing.assert_close(monte_carlo, closed_form, atol=0.1, rtol=0)


def test_iwae_objective_gradient_is_the_normalised_weighted_sum():
    torch.manual_seed(0)
    model = VAE(tiny_config(objective="iwae", iwae_samples=5, latent_dim=2))
    images = pattern_images(count=1)
    parameters = [model.body.decoder[0].weight]

    def log_weights():  # (S, 1), the same draws every call
        posterior = model.encode(images)
        log_likelihood, log_ratio = model._importance_terms(
            images, posterior, None, 5, torch.Generator().manual_seed(3)
        )
        return (log_likelihood + log_ratio)[:, 0]

    (autograd_gradient,) = torch.autograd.grad(losses.iwae_bound(log_weights()), parameters)
    values = log_weights()
    normalised = torch.softmax(values.detach(), 0)
    hand_computed = sum(
        normalised[s] * torch.autograd.grad(values[s], parameters, retain_graph=True)[0] for s in range(5)
    )
    torch.testing.assert_close(autograd_gradient, hand_computed)


def test_encode_decode_sample_shapes_and_ranges():
    torch.manual_seed(0)
    model = VAE(tiny_config(likelihood="logit_laplace", body="conv")).eval()
    images = pattern_images()
    posterior = model.encode(images)
    assert posterior.mean.shape == posterior.log_variance.shape == (8, 4)
    decoded = model.decode(posterior.mean)
    assert decoded.shape == (8, 1, 8, 8) and 0 <= decoded.min() and decoded.max() <= 1
    assert model.decode_parameters(posterior.mean).shape == (8, 2, 8, 8)
    samples = model.sample(3, generator=torch.Generator().manual_seed(0))
    again = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (3, 1, 8, 8) and torch.equal(samples, again)
    assert model.reconstruct(images).shape == images.shape
    output = model(images)
    assert output.latents.shape == (8, 4) and output.reconstruction.shape == images.shape


def test_kl_per_dimension_orders_used_dimensions():
    torch.manual_seed(0)
    model = VAE(tiny_config(latent_dim=4))
    batch = Batch(pattern_images())
    overfit(model, batch, steps=80)
    kl = model.kl_per_dimension(batch.images)
    assert kl.shape == (4,) and torch.all(kl >= 0)
    torch.testing.assert_close(kl.sum(), model.encode(batch.images).kl().mean().detach())


def test_conditioning_inputs():
    torch.manual_seed(0)
    model = VAE(tiny_config(condition="class", num_classes=3, class_embedding_dim=4)).eval()
    images = pattern_images(count=3)
    assert model.sample(2, condition=1).shape == (2, 1, 8, 8)  # one class for all
    assert model.encode(images, torch.tensor([0, 1, 2])).mean.shape == (3, 4)
    assert model.encode(images, torch.zeros(3, 4)).mean.shape == (3, 4)  # a ready condition vector
    with pytest.raises(ValueError, match="conditioned on class"):
        model.encode(images)
    with pytest.raises(ValueError, match="this VAE is class-conditional: it needs data with labels"):
        model.training_loss(Batch(images))
    unconditional = VAE(tiny_config())
    with pytest.raises(ValueError, match="unconditional"):
        unconditional.encode(images, torch.tensor([0, 1, 2]))
    text_model = VAE(
        tiny_config(
            condition="text",
            text_encoder={"vocabulary": build_vocabulary(CAPTIONS), "embedding_dim": 8, "num_heads": 2,
                          "num_layers": 1},
        )
    ).eval()
    assert text_model.sample(2, condition="red circle").shape == (2, 1, 8, 8)
    bounds = text_model.bounds(images, 4, condition=["red circle", "", "blue ??"], chunk_size=5)
    assert torch.isfinite(bounds.iwae).all()


def test_config_validation():
    with pytest.raises(ValueError, match="likelihood"):
        VAEConfig(likelihood="poisson")
    with pytest.raises(ValueError, match="divisible"):
        VAEConfig(body="conv", image_size=28, hidden_sizes=(8, 16, 32))
    with pytest.raises(ValueError, match="vocabulary"):
        VAEConfig(condition="text")
    assert VAEConfig(hidden_sizes=[3, 4]).hidden_sizes == (3, 4)
