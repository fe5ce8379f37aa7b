"""WAE-MMD: the unbiased MMD against a brute-force sum, both kernels, the loss, MMD falling with training."""

import itertools
import math

import pytest
import torch

from tests.models.test_vae import overfit, pattern_images
from vaestudio.checkpoints import load_model, save_model
from vaestudio.common.batch import Batch
from vaestudio.models import MODEL_TYPES, losses
from vaestudio.models.ae import AE, AEConfig
from vaestudio.models.wae import WAE, WAEConfig


def brute_force_mmd(first, second, kernel, scales):
    """MMD^2 U-statistic by explicit loops over pairs of rows, the kernels written out."""
    def k(x, y):
        squared = sum((float(a) - float(b)) ** 2 for a, b in zip(x, y))
        if kernel == "rbf":
            return sum(math.exp(-squared / scale) for scale in scales)
        return sum(scale / (scale + squared) for scale in scales)

    n, m = len(first), len(second)
    within = sum(k(first[i], first[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    within_prior = sum(k(second[i], second[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    between = sum(k(first[i], second[j]) for i in range(n) for j in range(m)) / (n * m)
    return within + within_prior - 2 * between


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
@pytest.mark.parametrize("sizes", [(2, 2), (5, 3), (7, 7)])
def test_unbiased_mmd_matches_the_brute_force_sum(kernel, sizes):
    generator = torch.Generator().manual_seed(sum(sizes))
    first = torch.randn(sizes[0], 3, generator=generator, dtype=torch.float64)
    second = 0.5 + 2.0 * torch.randn(sizes[1], 3, generator=generator, dtype=torch.float64)
    scales = (0.3, 6.0)
    value = losses.unbiased_mmd(first, second, kernel, scales)
    assert float(value) == pytest.approx(brute_force_mmd(first.tolist(), second.tolist(), kernel, scales), rel=1e-9)


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_unbiased_mmd_is_centred_on_zero_for_one_law_and_positive_for_two(kernel):
    generator = torch.Generator().manual_seed(0)
    same = [float(losses.unbiased_mmd(torch.randn(16, 2, generator=generator), torch.randn(16, 2, generator=generator),
                                      kernel, (4.0,))) for _ in range(400)]
    shifted = [float(losses.unbiased_mmd(torch.randn(16, 2, generator=generator) + 1.5,
                                         torch.randn(16, 2, generator=generator), kernel, (4.0,))) for _ in range(50)]
    spread = torch.tensor(same).std() / math.sqrt(len(same))
    assert abs(sum(same) / len(same)) < 4 * float(spread)  # unbiased: no offset at equal laws
    assert min(same) < 0  # a U-statistic, not a squared norm: it dips below zero
    assert sum(shifted) / len(shifted) > 20 * float(spread)


def test_unbiased_mmd_needs_two_samples_and_a_known_kernel():
    with pytest.raises(ValueError, match="at least 2"):
        losses.unbiased_mmd(torch.zeros(1, 2), torch.zeros(3, 2), "imq", (1.0,))
    with pytest.raises(ValueError, match="rbf"):
        losses.mmd_kernel(torch.zeros(2, 2), torch.zeros(2, 2), "laplace", 1.0)
    with pytest.raises(ValueError, match="kernel"):
        WAEConfig(kernel="laplace")


def tiny_wae(**overrides) -> WAE:
    values = {"image_channels": 1, "image_size": 8, "latent_dim": 2, "hidden_sizes": (32,), "mmd_weight": 50.0}
    values.update(overrides)
    torch.manual_seed(0)
    return WAE(WAEConfig(**values))


def test_loss_is_the_reconstruction_cost_plus_weighted_mmd():
    model = tiny_wae().eval()
    images = pattern_images(count=8)
    torch.manual_seed(3)
    result = model.training_loss(Batch(images))
    codes = model.encode(images)
    torch.manual_seed(3)
    prior = torch.randn(codes.shape)  # the draws training_loss made after the same seed
    scales = tuple(scale * 2 * 2 * 1.0 for scale in model.config.kernel_scales)  # C = 2 L sigma^2
    mmd = losses.unbiased_mmd(codes, prior, "imq", scales)
    assert result.logs["mmd"] == pytest.approx(float(mmd), rel=1e-5)
    assert float(result.loss) == pytest.approx(-result.logs["reconstruction"] + 50.0 * float(mmd), rel=1e-5)


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_the_mmd_term_pulls_the_codes_to_the_prior(kernel):
    images = pattern_images(count=32)
    batch = Batch(images)
    wae = tiny_wae(kernel=kernel, mmd_weight=200.0)
    autoencoder = AE(AEConfig(image_channels=1, image_size=8, latent_dim=2, hidden_sizes=(32,)))
    overfit(wae, batch, steps=150, learning_rate=5e-3)
    overfit(autoencoder, batch, steps=150, learning_rate=5e-3)
    generator = torch.Generator().manual_seed(0)
    scales = (4.0,)
    prior = torch.randn(2000, 2, generator=generator)
    with torch.no_grad():
        wae_mmd = float(losses.unbiased_mmd(wae.eval().encode(images), prior, "imq", scales))
        ae_mmd = float(losses.unbiased_mmd(autoencoder.eval().encode(images), prior, "imq", scales))
    assert wae_mmd < 0.25 * ae_mmd


def test_samples_save_and_load(tmp_path):
    assert MODEL_TYPES["wae"] is WAE and WAE.has_prior
    model = tiny_wae(kernel="rbf", kernel_scales=[1.0, 2.0]).eval()
    samples = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (5, 1, 8, 8) and 0 <= float(samples.min()) and float(samples.max()) <= 1
    save_model(model, str(tmp_path / "wae"))
    loaded = load_model(str(tmp_path / "wae"))
    assert type(loaded) is WAE and loaded.config == model.config and loaded.config.kernel_scales == (1.0, 2.0)
    assert torch.equal(loaded.sample(5, generator=torch.Generator().manual_seed(0)), samples)
