"""Weights stored in float16 load into the float32 model, rounded, and half the size on disk."""

from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import load_file, save_file

from vaestudio.checkpoints import load_model, save_model
from vaestudio.checkpoints.half_precision import halved, model_folders_under, store_in_half_precision
from vaestudio.models import VQVAE, VQVAEConfig


@pytest.fixture
def folder(tmp_path):
    torch.manual_seed(0)
    model = VQVAE(VQVAEConfig(image_size=16, hidden_channels=32, residual_channels=16, num_codes=64, code_dim=16))
    save_model(model, str(tmp_path / "vqvae"))
    return tmp_path / "vqvae", model


def test_stored_weights_load_as_float32_rounded_to_float16(folder):
    path, model = folder
    before, after = store_in_half_precision(str(path))
    assert after < 0.6 * before
    stored = load_file(str(path / "model.safetensors"))
    assert any(tensor.dtype == torch.float16 for tensor in stored.values())
    loaded = load_model(str(path))
    for name, tensor in model.state_dict().items():
        value = loaded.state_dict()[name]
        assert value.dtype == tensor.dtype, name
        expected = tensor.half().to(tensor.dtype) if tensor.dtype == torch.float32 else tensor
        assert torch.equal(value, expected), name
    images = torch.rand(2, 3, 16, 16)  # [B, C, H, W]
    model.eval(), loaded.eval()
    with torch.no_grad():
        assert torch.allclose(loaded(images).reconstruction, model(images).reconstruction, atol=5e-2)


def test_tensors_float16_cannot_hold_stay_float32(tmp_path):
    assert halved(torch.tensor([1.0e6, 1.0])).dtype == torch.float32
    assert halved(torch.tensor([float("inf")])).dtype == torch.float32
    assert halved(torch.tensor([3, 4])).dtype == torch.int64
    assert halved(torch.tensor([1.5, -2.0])).dtype == torch.float16
    save_file({"big": torch.tensor([7.0e4]), "small": torch.tensor([0.25])}, str(tmp_path / "model.safetensors"))
    store_in_half_precision(str(tmp_path))
    stored = load_file(str(tmp_path / "model.safetensors"))
    assert stored["big"].dtype == torch.float32 and stored["big"].item() == 7.0e4
    assert stored["small"].dtype == torch.float16


def test_bundles_are_walked_and_a_folder_without_weights_is_a_clear_error(tmp_path, folder):
    path, _ = folder
    os.makedirs(tmp_path / "bundle" / "a")
    save_file({"w": torch.ones(2)}, str(tmp_path / "bundle" / "a" / "model.safetensors"))
    assert model_folders_under(str(tmp_path / "bundle")) == [str(tmp_path / "bundle" / "a")]
    with pytest.raises(FileNotFoundError, match="model folder"):
        store_in_half_precision(str(tmp_path / "bundle"))
