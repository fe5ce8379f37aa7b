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
