"""PSNR on held-out photos and a prior's bits per code, checked against models whose answers are known."""

from __future__ import annotations

import math
import types

import pytest
import torch

from vaestudio.data.source import Example
from vaestudio.evaluation.photos import photo_psnr, prior_bits_per_code, reconstruct
from vaestudio.models import VQVAE, VQVAEConfig


class Pictures:
    image_size = 8

    def __init__(self, count: int) -> None:
        self.images = [torch.full((3, 8, 8), 0.2 + 0.1 * index) for index in range(count)]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Example:
        return Example(image=self.images[index])

    def picture(self, index: int):
        return types.SimpleNamespace(key=f"pkg/{index}")


class Shifted(torch.nn.Module):
    """Reconstructs every pixel 0.1 too bright (MSE 0.01: 20 dB), at any size."""

    def reconstruct_any(self, images):
        return images + 0.1

    def encode_any(self, images):
        return types.SimpleNamespace(codes=torch.zeros(1, 2, 3, dtype=torch.int64))

    config = types.SimpleNamespace(num_codes=512)


def test_psnr_per_picture_and_mean():
    result = photo_psnr(Shifted(), Pictures(3))
    assert result["images"] == 3 and result["size"] == 8
    assert result["per_picture"] == {"pkg/0": 20.0, "pkg/1": 20.0, "pkg/2": 20.0}
    assert result["psnr_mean"] == pytest.approx(20.0) and result["psnr_of_mean_mse"] == pytest.approx(20.0)
    assert result["psnr_median"] == pytest.approx(20.0)


def test_a_flat_picture_lifts_the_mean_but_not_the_psnr_of_the_mean_error():
    class Exact(Shifted):
        def reconstruct_any(self, images):
            return images + (0.0 if float(images.mean()) < 0.25 else 0.1)  # the first picture exactly

    result = photo_psnr(Exact(), Pictures(3))
    assert result["per_picture"]["pkg/0"] == pytest.approx(100.0)  # metrics.psnr's ceiling for MSE 0
    assert result["psnr_median"] == pytest.approx(20.0)
    assert result["psnr_of_mean_mse"] == pytest.approx(10 * math.log10(1 / (0.02 / 3)), abs=0.01)


def test_a_uniform_prior_costs_log2_k_bits_per_code():
    class Uniform(torch.nn.Module):
        def log_prob(self, codes):
            return torch.full((codes.shape[0],), -codes[0].numel() * math.log(512.0))

    result = prior_bits_per_code(Shifted(), Uniform(), Pictures(2))
    assert result == {"bits_per_code": 9.0, "log2_num_codes": 9.0, "codes": 12}


def test_a_vqvae_trained_at_one_size_reconstructs_another_through_its_codes():
    model = VQVAE(VQVAEConfig(image_size=16, hidden_channels=8, residual_channels=4, num_residual_blocks=1,
                              num_codes=16, code_dim=4, kmeans_init=False)).eval()
    assert reconstruct(model, torch.rand(1, 3, 32, 24)).shape == (1, 3, 32, 24)
