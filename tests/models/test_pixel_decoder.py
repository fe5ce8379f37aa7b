"""The PixelVAE decoder: causal, a normalised p(x | z), the sampler draws from the same logits, bounds, config."""

import itertools

import pytest
import torch

from vaestudio.checkpoints import load_model, save_model
from vaestudio.common.batch import Batch
from vaestudio.models.vae import VAE, VAEConfig


def pixel_config(**overrides) -> VAEConfig:
    values = {"image_size": 6, "latent_dim": 3, "hidden_sizes": (16,), "decoder": "pixelcnn",
              "pixelcnn_channels": 4, "pixelcnn_layers": 2, "pixelcnn_kernel_size": 3, "pixelcnn_head_channels": 8}
    values.update(overrides)
    return VAEConfig(**values)


def binary_images(count: int, size: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(count, 1, size, size, generator=generator) > 0.5).float()  # (N, 1, size, size)


def test_each_pixel_logit_sees_only_the_pixels_before_it_and_z():
    torch.manual_seed(0)
    model = VAE(pixel_config())
    images = binary_images(2, 6).requires_grad_(True)
    latents = torch.randn(2, 3, requires_grad=True)
    logits = model.pixel_decoder.logits(latents, images)  # (2, 1, 6, 6)
    row, column = 3, 2
    image_gradient, latent_gradient = torch.autograd.grad(logits[0, 0, row, column], (images, latents))
    flat = image_gradient[0, 0].flatten()  # (36,) in raster order
    position = row * 6 + column
    assert torch.all(flat[position:] == 0)  # the pixel itself and every later one: no influence
    assert flat[:position].abs().sum() > 0  # earlier pixels do matter
    assert torch.all(image_gradient[1] == 0)  # nor does another image of the batch
    assert latent_gradient[0].abs().sum() > 0 and torch.all(latent_gradient[1] == 0)


def test_the_decoder_is_a_normalised_distribution_over_every_binary_image():
    """Summing p(x | z) over all 2^9 binary 3 x 3 images gives 1: the masks leave no pixel seeing itself."""
    torch.manual_seed(1)
    model = VAE(pixel_config(image_size=3))
    everything = torch.tensor(list(itertools.product([0.0, 1.0], repeat=9))).view(512, 1, 3, 3)  # (512, 1, 3, 3)
    latents = torch.randn(1, 3).expand(512, 3)  # the same z for every image
    with torch.no_grad():
        log_probability = model._log_likelihood(model.decode_parameters(latents, images=everything), everything)
    assert float(torch.logsumexp(log_probability.double(), 0)) == pytest.approx(0.0, abs=1e-5)


def test_the_cached_sampler_draws_from_the_teacher_forced_logits():
    """Pixel (i, j) is 1 exactly when its uniform u >= p(x_ij = 0 | x_<ij, z) (the sampler's rule for 2 values)."""
    torch.manual_seed(2)
    model = VAE(pixel_config())
    latents = torch.randn(5, 3)
    drawn = model.pixel_decoder.sample(latents, seed=7)  # (5, 1, 6, 6)
    assert set(drawn.unique().tolist()) <= {0.0, 1.0}
    uniforms = torch.rand(5, 6, 6, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    with torch.no_grad():
        probability_of_one = torch.sigmoid(model.pixel_decoder.logits(latents, drawn).double())[:, 0]  # (5, 6, 6)
    assert torch.equal(drawn[:, 0].bool(), uniforms >= 1 - probability_of_one)
    assert torch.equal(model.pixel_decoder.sample(latents, seed=7), drawn)  # a seed fixes the draw
    assert not torch.equal(model.pixel_decoder.sample(latents, seed=8), drawn)


def test_bounds_training_and_the_studio_calls_work_with_the_pixel_decoder():
    torch.manual_seed(3)
    model = VAE(pixel_config())
    images = binary_images(4, 6)
    output = model.training_loss(Batch(images=images))
    assert output.logs["elbo"] == pytest.approx(output.logs["reconstruction"] - output.logs["kl"], rel=1e-4)
    bounds = model.bounds(images, 64, generator=torch.Generator().manual_seed(0))
    assert torch.all(bounds.iwae >= bounds.elbo - 1e-4)  # the IWAE bound is the tighter one
    assert model.reconstruct(images).shape == (4, 1, 6, 6)
    assert model.sample(3, generator=torch.Generator().manual_seed(0)).shape == (3, 1, 6, 6)
    assert torch.equal(model.decode(torch.zeros(2, 3)), model.decode(torch.zeros(2, 3)))  # decode is repeatable
    with pytest.raises(ValueError, match="pass images"):
        model.decode_parameters(torch.zeros(2, 3))


def test_the_pixel_decoder_replaces_the_body_decoder_and_round_trips(tmp_path):
    model = VAE(pixel_config())
    assert not hasattr(model.body, "decoder")  # no unused mirrored decoder in the weights
    save_model(model, str(tmp_path))
    loaded = load_model(str(tmp_path))
    assert loaded.config.decoder == "pixelcnn"
    images = binary_images(2, 6)
    latents = torch.randn(2, 3)
    assert torch.equal(loaded.decode_parameters(latents, images=images), model.decode_parameters(latents, images=images))


@pytest.mark.parametrize("overrides, message", [
    ({"likelihood": "gaussian"}, "binary one-channel"),
    ({"image_channels": 3}, "binary one-channel"),
    ({"pixelcnn_kernel_size": 4}, "odd"),
    ({"decoder": "transformer"}, "decoder must be one of"),
])
def test_impossible_pixel_decoder_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        pixel_config(**overrides)
