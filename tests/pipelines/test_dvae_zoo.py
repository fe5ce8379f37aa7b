"""The shipped dVAE (pretrained/mnist-dvae, a code_prior bundle): small, what its card claims, and generating."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from tests.pipelines.test_zoo import _shipped_zoo, shipped  # noqa: F401 (an autouse fixture: pretrained/ itself)
from vaestudio import hub
from vaestudio.checkpoints import Bundle
from vaestudio.evaluation import evaluate
from vaestudio.pipelines.capabilities import capabilities
from vaestudio.pipelines.dataset_sample import open_model_source
from vaestudio.pipelines.editing import Editor

MAX_BYTES = 1_200_000  # the allowance for this model


def test_the_shipped_dvae_is_small_and_a_code_prior_bundle_of_a_dvae_and_its_prior():
    folder = shipped("mnist-dvae")
    size = sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder) for name in names)
    assert size <= MAX_BYTES
    bundle = hub.load("mnist-dvae")
    assert isinstance(bundle, Bundle) and bundle.kind == "code_prior"
    dvae, prior = bundle["vqvae"], bundle["prior"]
    assert dvae.model_type == "dvae" and dvae.code_map_shape == (7, 7) and prior.config.num_codes == 64
    assert float(dvae.temperature) == pytest.approx(dvae.config.temperature_end)  # trained through its anneal
    assert hub.describe("mnist-dvae").family == "dVAE + PixelCNN prior"
    assert "text_to_image" not in capabilities(bundle)


def test_the_card_states_the_measured_numbers_of_metrics_json():
    folder = shipped("mnist-dvae")
    with open(os.path.join(folder, "metrics.json"), encoding="utf-8") as stream:
        metrics = json.load(stream)
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as stream:
        card = stream.read()
    evaluation = metrics["vqvae"]
    assert evaluation["images"] == 10000 and evaluation["codebook"]["num_codes"] == 64
    assert evaluation["psnr"] > 17.0 and evaluation["codebook"]["used_codes"] >= 48  # not collapsed
    assert 0 < metrics["prior"]["bits_per_code"] < 6  # uniform over 64 codes: 6 bits
    assert f"{evaluation['psnr']:.4g}" in card and "AMD EPYC" in card and "likelihood" in card


def test_prior_samples_are_digits_not_blank_and_differ():
    editor = Editor(hub.load("mnist-dvae"))
    pictures = [np.asarray(picture.convert("L"), dtype=np.float32) for picture in editor.sample(4, seed=0)]
    assert all(picture.shape == (28, 28) for picture in pictures)
    ink = [float((picture > 127).mean()) for picture in pictures]
    assert all(0.03 < share < 0.5 for share in ink)  # strokes on a dark ground, as MNIST digits
    assert min(np.abs(a - b).mean() for i, a in enumerate(pictures) for b in pictures[i + 1:]) > 5.0


def test_reconstructions_of_mnist_test_digits_use_many_codes():
    """On 300 MNIST test digits, or where MNIST is not installed on the 100 shipped in the package."""
    dvae = hub.load("mnist-dvae")["vqvae"]
    torch.manual_seed(0)
    test_digits = open_model_source(dvae, None, "test", 28)
    result = evaluate(dvae, test_digits, batch_size=100, iwae_k=0, limit=300)
    assert result["psnr"] > 17.0 and result["codebook"]["used_codes"] >= 40
