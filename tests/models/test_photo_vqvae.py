"""The general image VQ-VAE: any size in, the same size out; padding and cropping; saved and loaded by type."""

from __future__ import annotations

import pytest
import torch

from vaestudio.checkpoints import load_model, save_model
from vaestudio.common.batch import Batch
from vaestudio.models import PhotoVQVAE, PhotoVQVAEConfig


def tiny(**overrides) -> PhotoVQVAE:
    torch.manual_seed(0)
    settings = {"image_size": 16, "hidden_channels": 8, "residual_channels": 4, "num_residual_blocks": 1,
                "encoder_channels": 8, "encoder_residual_channels": 4, "num_codes": 16, "code_dim": 4,
                "kmeans_init": False, "dead_code_threshold": 0.0}
    return PhotoVQVAE(PhotoVQVAEConfig(**{**settings, **overrides})).eval()


@pytest.mark.parametrize("height, width", [(1, 1), (3, 5), (16, 16), (33, 50), (64, 17), (7, 130)])
def test_any_size_round_trips_to_the_same_size(height, width):
    model = tiny()
    images = torch.rand(2, 3, height, width)
    encoded = model.encode_any(images)
    assert encoded.codes.shape == (2, -(-height // 4), -(-width // 4))
    assert encoded.codes.dtype == torch.int64
    assert (encoded.codes >= 0).all() and (encoded.codes < 16).all()
    assert (encoded.height, encoded.width) == (height, width)
    assert model.code_map_size(height, width) == tuple(encoded.codes.shape[1:])
    reconstruction = model.reconstruct_any(images)
    assert reconstruction.shape == images.shape
    assert 0.0 <= float(reconstruction.min()) and float(reconstruction.max()) <= 1.0


def test_padding_replicates_the_right_and_bottom_edges_and_leaves_multiples_of_four_alone():
    model = tiny()
    images = torch.rand(1, 3, 6, 9)
    padded = model.pad(images)
    assert padded.shape == (1, 3, 8, 12)
    assert torch.equal(padded[..., :6, :9], images)
    assert torch.equal(padded[..., :6, 9:], images[..., :6, 8:9].expand(-1, -1, -1, 3))  # last column, thrice
    assert torch.equal(padded[..., 6:, :9], images[..., 5:6, :].expand(-1, -1, 2, -1))  # last row, twice
    square = torch.rand(1, 3, 8, 12)
    assert model.pad(square) is square


def test_decode_any_crops_the_padded_decode_to_the_upload():
    model = tiny()
    images = torch.rand(1, 3, 10, 14)
    encoded = model.encode_any(images)
    full = model.decode_codes(encoded.codes)  # (1, 3, 12, 16)
    assert full.shape[-2:] == (12, 16)
    assert torch.equal(model.decode_any(encoded), full[..., :10, :14])
    assert torch.equal(encoded.codes, model.encode_codes(model.pad(images)))  # the same codes as the padded image


def test_a_larger_image_has_a_larger_code_map_from_the_same_weights():
    model = tiny()
    small, large = model.encode_any(torch.rand(1, 3, 16, 16)), model.encode_any(torch.rand(1, 3, 64, 96))
    assert small.codes.shape == (1, 4, 4) and large.codes.shape == (1, 16, 24)


def test_the_encoder_is_the_light_patch_encoder_and_trains():
    model = tiny(encoder_channels=6)
    assert model.encoder.patches.out_channels == 6 and model.encoder.patches.stride == (4, 4)
    model.train()
    output = model.training_loss(Batch(images=torch.rand(4, 3, 16, 16)))
    output.loss.backward()
    assert torch.isfinite(output.loss)
    assert model.encoder.patches.weight.grad is not None and model.decoder.conv.weight.grad is not None


def test_config_refuses_two_levels():
    with pytest.raises(ValueError, match="levels"):
        PhotoVQVAEConfig(levels=2)


def test_saved_and_loaded_as_photo_vqvae(tmp_path):
    model = tiny()
    save_model(model, str(tmp_path / "photo"))
    loaded = load_model(str(tmp_path / "photo")).eval()
    assert type(loaded) is PhotoVQVAE and loaded.config == model.config
    images = torch.rand(1, 3, 9, 11)
    assert torch.equal(loaded.reconstruct_any(images), model.reconstruct_any(images))
