"""VQ-VAE and VQ-VAE-2: code-map shapes, encode/decode consistency, gradients, autocast, overfitting."""

import pytest
import torch

from tests.models.test_vae import overfit
from vaestudio.common.batch import Batch
from vaestudio.models.outputs import Hierarchy
from vaestudio.models.vqvae import VQVAE, VQVAEConfig

SMALL_CODE_MODEL = {  # the smallest encoder/decoder and codebook: shared by the VQ-VAE, dVAE and checkpoint tests
    "image_size": 16,
    "hidden_channels": 16,
    "residual_channels": 8,
    "num_residual_blocks": 1,
    "num_codes": 16,
    "code_dim": 8,
}


def tiny_config(**overrides) -> VQVAEConfig:
    return VQVAEConfig(**{**SMALL_CODE_MODEL, "dead_code_threshold": 0.0, **overrides})


def smooth_images(count: int = 4, size: int = 16) -> torch.Tensor:
    """(count, 3, size, size) in [0, 1]: coloured blobs, easy to reconstruct."""
    generator = torch.Generator().manual_seed(2)
    coarse = torch.rand(count, 3, 4, 4, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


@pytest.mark.parametrize(
    "overrides",
    [
        {"levels": 1},
        {"levels": 1, "likelihood": "logit_laplace"},
        {"levels": 2},
        {"levels": 2, "dead_code_threshold": 0.5},
        {"levels": 1, "codebook_update": "loss"},
    ],
    ids=["one-level", "one-level-logit-laplace", "two-levels", "two-levels-revival", "one-level-codebook-loss"],
)
def test_overfits_one_batch(overrides):
    torch.manual_seed(0)
    model = VQVAE(tiny_config(**overrides))
    batch = Batch(smooth_images())
    first, last = overfit(model, batch, steps=80, learning_rate=3e-3)
    assert last < first - 0.3 * abs(first), (first, last)
    logs = model.training_loss(batch).logs
    assert {"mse", "psnr", "perplexity", "usage", "commitment"} <= set(logs)


@pytest.mark.parametrize("factor,side", [(4, 16), (8, 8)])
def test_code_map_shape_for_64_pixel_images(factor, side):
    torch.manual_seed(0)
    model = VQVAE(tiny_config(image_size=64, downsample_factor=factor)).eval()
    assert model.code_map_shape == (side, side)
    codes = model.encode_codes(torch.rand(2, 3, 64, 64))
    assert codes.shape == (2, side, side) and codes.dtype == torch.int64
    assert model.encode_latents(torch.rand(2, 3, 64, 64)).shape == (2, 8, side, side)


def test_two_level_code_maps():
    torch.manual_seed(0)
    model = VQVAE(tiny_config(image_size=32, levels=2)).eval()
    assert model.code_map_shapes == ((4, 4), (8, 8)) and model.code_map_shape == (8, 8)
    codes = model.encode_codes(torch.rand(2, 3, 32, 32))
    assert isinstance(codes, Hierarchy)
    assert codes.top.shape == (2, 4, 4) and codes.bottom.shape == (2, 8, 8)
    assert model.decode_codes(codes).shape == (2, 3, 32, 32)
    with pytest.raises(TypeError, match="Hierarchy"):
        model.decode_codes(codes.bottom)


@pytest.mark.parametrize("levels", [1, 2])
def test_encode_decode_paths_agree_with_the_forward_pass(levels):
    torch.manual_seed(0)
    model = VQVAE(tiny_config(levels=levels, kmeans_init=False)).eval()
    images = smooth_images()
    output = model(images)
    codes = model.encode_codes(images)
    if levels == 1:
        assert torch.equal(codes, output.codes)
    else:
        assert torch.equal(codes.top, output.codes.top) and torch.equal(codes.bottom, output.codes.bottom)
    reconstruction = model.reconstruct(images)
    torch.testing.assert_close(reconstruction, output.reconstruction)
    torch.testing.assert_close(model.decode_codes(codes), reconstruction)
    torch.testing.assert_close(model.decode_latents(model.encode_latents(images)), reconstruction)
    assert reconstruction.min() >= 0 and reconstruction.max() <= 1


def test_inference_helpers_leave_the_codebooks_alone():
    torch.manual_seed(0)
    model = VQVAE(tiny_config(levels=2)).train()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    images = smooth_images()
    model.decode_codes(model.encode_codes(images))
    model.decode_latents(model.encode_latents(images))
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def test_straight_through_gradient_reaches_the_encoder_and_codebook_gets_none():
    torch.manual_seed(0)
    model = VQVAE(tiny_config())
    model.training_loss(Batch(smooth_images())).loss.backward()
    assert model.encoder.project.weight.grad is not None and model.encoder.project.weight.grad.abs().sum() > 0
    assert not model.quantizer.codebook.requires_grad


def test_codebook_stays_float32_under_autocast():
    torch.manual_seed(0)
    model = VQVAE(tiny_config(levels=2))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model.training_loss(Batch(smooth_images()))
    output.loss.backward()
    assert torch.isfinite(output.loss)
    assert (
        model.quantizer.codebook.dtype == torch.float32
        and model.top_quantizer.codebook.dtype == torch.float32
    )


def test_usage_is_counted_until_reset():
    torch.manual_seed(0)
    model = VQVAE(tiny_config())
    model.training_loss(Batch(smooth_images()))
    assert model.codebook_usage().alive_fraction > 0
    model.reset_usage()
    assert model.codebook_usage().alive_fraction == 0


def test_config_validation():
    with pytest.raises(ValueError, match="likelihood"):
        VQVAEConfig(likelihood="bernoulli")
    with pytest.raises(ValueError, match="levels"):
        VQVAEConfig(levels=3)
    with pytest.raises(ValueError, match="power of two"):
        VQVAEConfig(downsample_factor=3, image_size=48)
    with pytest.raises(ValueError, match="divisible"):
        VQVAEConfig(image_size=36, downsample_factor=8)


@pytest.mark.parametrize("levels", [1, 2])
def test_codebook_loss_moves_the_codebook_by_gradient_and_leaves_the_ema_state(levels):
    torch.manual_seed(0)
    model = VQVAE(tiny_config(levels=levels, codebook_update="loss", kmeans_init=False))
    quantizers = model._quantizers()
    ema_before = [(q.cluster_size.clone(), q.embed_sum.clone()) for q in quantizers]
    codebooks_before = [q.codebook.detach().clone() for q in quantizers]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    images = smooth_images()
    result = model.training_loss(Batch(images))
    result.loss.backward()
    bottom = model.quantizer
    assert isinstance(bottom.codebook, torch.nn.Parameter) and bottom.codebook.grad is not None
    used = torch.unique(model.encode_codes(images).bottom if levels == 2 else model.encode_codes(images))
    unused = torch.ones(bottom.config.num_codes, dtype=torch.bool)
    unused[used] = False
    assert bottom.codebook.grad[used].abs().sum(1).gt(0).all()  # every chosen code is pulled
    assert bottom.codebook.grad[unused].abs().sum() == 0  # the others get nothing
    # the gradient is d/de of mean ||sg[z_e] - e||^2 over the chosen codes, by hand
    latents = model.encode_latents(images)
    vectors = (latents.bottom if levels == 2 else latents).permute(0, 2, 3, 1).reshape(-1, bottom.config.code_dim)
    codes = bottom.codebook.detach()[None] - vectors[:, None]  # (N, K, D)
    chosen = torch.cdist(vectors, bottom.codebook.detach()).argmin(1)  # (N,)
    expected = torch.zeros_like(bottom.codebook)
    expected.index_add_(0, chosen, 2 * codes[torch.arange(len(chosen)), chosen] / vectors.numel())
    torch.testing.assert_close(bottom.codebook.grad, expected, rtol=1e-4, atol=1e-6)
    assert "codebook_loss" in result.logs and result.logs["codebook_loss"] > 0
    optimizer.step()
    assert not torch.equal(bottom.codebook.detach(), codebooks_before[-1])
    for quantizer, (size, sums) in zip(quantizers, ema_before):
        assert torch.equal(quantizer.cluster_size, size) and torch.equal(quantizer.embed_sum, sums)


def test_ema_stays_the_default_and_old_configs_load_unchanged(tmp_path):
    import json

    from vaestudio.checkpoints import load_model, save_model

    assert VQVAEConfig().codebook_update == "ema"
    torch.manual_seed(0)
    model = VQVAE(tiny_config()).eval()
    save_model(model, str(tmp_path / "old"))
    config_path = tmp_path / "old" / "config.json"
    document = json.loads(config_path.read_text())
    del document["config"]["codebook_update"]  # a folder written before the setting existed
    config_path.write_text(json.dumps(document))
    loaded = load_model(str(tmp_path / "old"))
    assert loaded.config.codebook_update == "ema" and not loaded.quantizer.codebook.requires_grad
    images = smooth_images()
    assert torch.equal(loaded.encode_codes(images), model.encode_codes(images))
    # the EMA path still moves the codebook in training, without a gradient, and adds no loss term
    loaded.train()
    before = loaded.quantizer.codebook.clone()
    result = loaded.training_loss(Batch(images))
    assert not torch.equal(loaded.quantizer.codebook, before) and "codebook_loss" not in result.logs
    # a loss-trained folder loads into a model that keeps learning by gradient
    trained = VQVAE(tiny_config(codebook_update="loss"))
    save_model(trained, str(tmp_path / "loss"))
    reloaded = load_model(str(tmp_path / "loss"))
    assert isinstance(reloaded.quantizer.codebook, torch.nn.Parameter)
    assert torch.equal(reloaded.quantizer.codebook.detach(), trained.quantizer.codebook.detach())


def test_codebook_update_is_checked():
    with pytest.raises(ValueError, match="codebook_update"):
        tiny_config(codebook_update="sgd")
    with pytest.raises(ValueError, match="dead_code_threshold = 0"):
        VQVAEConfig(codebook_update="loss")  # revival needs the EMA sizes the loss leaves alone
