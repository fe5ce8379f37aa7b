"""Tiny recipes shared by the training tests: a few steps of small models on small data."""

from __future__ import annotations

import json
import os

import numpy
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont
from safetensors.torch import load_file

TINY_VAE = """
[model]
type = "vae"
latent_dim = 2
hidden_sizes = [16]

[data]
source = "digits"

[training]
steps = 12
batch_size = 256      # digits has 1,438 training images: 5 steps an epoch, so runs cross epochs
learning_rate = 1e-2
log_every = 2
sample_every = 6
checkpoint_every = 4

[evaluation]
limit = 64
iwae_k = 8
"""

TINY_VQVAE = """
[model]
type = "vqvae"
hidden_channels = 8
residual_channels = 4
num_residual_blocks = 1
downsample_factor = 4
num_codes = 16
code_dim = 4

[data]
source = "digits"

[training]
steps = 4
batch_size = 16
learning_rate = 1e-3
log_every = 2
sample_every = 0
checkpoint_every = 0

[evaluation]
limit = 64
"""


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """Tiny models train fastest on one thread, and a loaded machine makes two threads spin-wait."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # for the subprocesses the tests start
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def write_recipe(tmp_path):
    """write_recipe(text, name="tiny") -> the path of a recipe file holding ``text``."""

    def write(text: str, name: str = "tiny") -> str:
        path = os.path.join(tmp_path, f"{name}.toml")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
        return path

    return write


def read_json(path: str):
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as stream:
        return stream.read()


def weights(directory: str) -> dict[str, torch.Tensor]:
    return load_file(os.path.join(directory, "model.safetensors"))


def assert_bitwise_equal(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> None:
    assert sorted(first) == sorted(second)
    for name, tensor in first.items():
        assert torch.equal(tensor, second[name]), f"{name} differs"


def digit_like_images(count: int, size: int, seed: int = 0) -> tuple[numpy.ndarray, numpy.ndarray]:
    """uint8 (count, size, size) white-on-black digits drawn with PIL's built-in font, jittered; labels (count,)."""
    generator = numpy.random.default_rng(seed)
    font = ImageFont.load_default()
    images, labels = [], []
    for index in range(count):
        label = index % 10
        canvas = Image.new("L", (size // 2, size // 2), 0)
        offset = generator.integers(0, max(1, size // 2 - 8), size=2)
        ImageDraw.Draw(canvas).text((int(offset[0]), int(offset[1]) - 2), str(label), fill=255, font=font)
        images.append(numpy.asarray(canvas.resize((size, size), Image.BILINEAR)))
        labels.append(label)
    return numpy.stack(images).astype(numpy.uint8), numpy.asarray(labels, dtype=numpy.uint8)


def write_idx_folder(folder, size: int, splits, with_labels: bool) -> str:
    """MNIST-format IDX files of digit-like images in `folder`: splits are (prefix, count, seed) triples."""
    from vaestudio.data.idx import write_idx

    folder.mkdir()
    for prefix, count, seed in splits:
        images, labels = digit_like_images(count, size, seed)
        write_idx(str(folder / f"{prefix}-images-idx3-ubyte"), images)
        if with_labels:
            write_idx(str(folder / f"{prefix}-labels-idx1-ubyte"), labels)
    return str(folder)


@pytest.fixture
def mnist_like_folder(tmp_path):
    """A folder of MNIST-format IDX files: 256 training and 64 test 28 x 28 digit-like images with labels."""
    return write_idx_folder(tmp_path / "mnist", 28, (("train", 256, 0), ("t10k", 64, 1)), with_labels=True)


@pytest.fixture
def tiny_idx_folder(tmp_path):
    """64 training and 32 test 8 x 8 digit-like images: a data source that costs nothing to open."""
    return write_idx_folder(tmp_path / "tiny_idx", 8, (("train", 64, 2), ("t10k", 32, 3)), with_labels=False)


def train_recipe_text(tmp_path_factory, text: str, name: str) -> str:
    """Trains a recipe given as text in a fresh temporary folder; returns the run folder (a model folder)."""
    from vaestudio.training import load_recipe, train

    folder = tmp_path_factory.mktemp(name)
    path = folder / f"{name}.toml"
    path.write_text(text)
    out = str(folder / "run")
    train(load_recipe(str(path)), out)
    return out
