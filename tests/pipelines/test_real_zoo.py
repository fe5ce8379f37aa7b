"""The real-data zoo (MNIST, Fashion-MNIST) in pretrained/: what each card claims holds for the weights."""

import json
import os

import numpy as np
import pytest
import torch

from tests.pipelines.test_zoo import _shipped_zoo, shipped  # noqa: F401 (an autouse fixture: pretrained/ itself)
from vaestudio import hub
from vaestudio.pipelines.editing import Editor


def _arrays(pictures) -> list[np.ndarray]:
    return [np.asarray(picture.convert("L"), dtype=np.float32) for picture in pictures]


def test_the_cvae_draws_one_style_as_ten_different_digits():
    shipped("mnist-cvae")
    editor = Editor(hub.load("mnist-cvae"))
    assert editor.class_names() == [str(digit) for digit in range(10)]
    arrays = _arrays(editor.decode_flat(torch.zeros(10, 2), torch.arange(10)))  # one style, every class
    differences = [np.abs(first - second).mean() for index, first in enumerate(arrays) for second in arrays[index + 1:]]
    assert min(differences) > 8.0  # grey levels 0..255: every pair of digits differs visibly


def test_the_2d_manifold_spans_different_digits():
    shipped("mnist-vae-2d")
    editor = Editor(hub.load("mnist-vae-2d"))
    corners = _arrays(editor.decode_flat(torch.tensor([[-2.0, -2.0], [2.0, 2.0], [-2.0, 2.0], [2.0, -2.0]])))
    assert min(np.abs(corners[0] - other).mean() for other in corners[1:]) > 8.0


@pytest.mark.parametrize("name", ["mnist-vae", "mnist-iwae"])
def test_the_iwae_paper_models_are_the_papers_and_measured_like_it(name):
    folder = shipped(name)
    model = hub.load(name)
    assert model.config.hidden_sizes == (200, 200) or list(model.config.hidden_sizes) == [200, 200]
    assert model.config.latent_dim == 50 and model.config.likelihood == "bernoulli"
    with open(os.path.join(folder, "metrics.json"), encoding="utf-8") as stream:
        evaluation = json.load(stream)["evaluation"]
    assert evaluation["iwae_k"] == 5000 and evaluation["images"] == 10000
    assert 80.0 < evaluation["nll"] < 120.0


def test_mnist_vqvae_is_the_cards_model_within_its_size_budget():
    folder = shipped("mnist-vqvae")
    total = sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder) for name in names)
    assert total < 1_600_000  # the budget for the bundle
    bundle = hub.load("mnist-vqvae")
    vqvae, prior = bundle["vqvae"], bundle["prior"]
    assert vqvae.code_map_shape == (7, 7) and vqvae.config.num_codes == prior.config.num_codes == 128
    assert prior.config.condition == "class" and prior.config.num_classes == 10
    with open(os.path.join(folder, "metrics.json"), encoding="utf-8") as stream:
        metrics = json.load(stream)
    assert metrics["prior"]["bits_per_code"] < 7.0  # below log2 128: the prior has learned the codes
    assert metrics["vqvae"]["codebook"]["used_codes"] == 128 and metrics["vqvae"]["psnr"] > 24.0


def _shipped_digits(count_per_class: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    from vaestudio.data.shipped_samples import open_shipped_samples

    samples = open_shipped_samples("mnist")
    keep = np.concatenate([np.flatnonzero(samples.labels == digit)[:count_per_class] for digit in range(10)])
    images = torch.from_numpy(samples.images[keep].astype(np.float32) / 255.0)[:, None]  # (N, 1, 28, 28)
    return images, torch.from_numpy(samples.labels[keep])


def test_mnist_vqvae_reconstructs_real_digits_as_its_card_says():
    shipped("mnist-vqvae")
    vqvae = hub.load("mnist-vqvae")["vqvae"]
    images, _ = _shipped_digits()
    decoded = vqvae.decode_codes(vqvae.encode_codes(images)).clamp(0, 1)  # (100, 1, 28, 28)
    psnr = (-10 * torch.log10((decoded - images).pow(2).mean(dim=(1, 2, 3)))).mean()
    assert psnr > 23.0  # the card: 24.9 dB over the whole test split


def test_mnist_vqvae_draws_the_class_asked_for_and_inpaints_keeping_the_rest():
    from PIL import Image

    from vaestudio.pipelines.class_to_image import ClassToImage

    shipped("mnist-vqvae")
    pipeline = ClassToImage(hub.load("mnist-vqvae"))
    ink = {label: np.mean([array.mean() for array in _arrays(item.image for item in pipeline(label, 16, seed=0))])
           for label in ("0", "1", "8")}
    assert ink["1"] < 0.7 * min(ink["0"], ink["8"])  # ones are thin strokes; zeros and eights are not
    images, labels = _shipped_digits(1)
    mask = Image.new("L", (28, 28), 0)
    mask.paste(255, (0, 14, 28, 28))
    for picture, label in zip(_pictures(images), labels):
        result = pipeline.inpaint(picture, mask, (int(label) + 1) % 10, num_candidates=2, seed=0)
        assert result.code_mask[:3].sum() == 0 and result.code_mask[3:].all()  # code rows 3..6 touch the bottom half
        for item in result:
            assert torch.equal(item.codes[:3], result.original_codes[:3])


def _pictures(images: torch.Tensor):
    from vaestudio.pipelines.convert import to_pil

    return to_pil(images)
