"""The editor works on a model trained on MNIST without MNIST installed: 100 real test digits ship in the package
and stand in for the training data (sliders, scatter); nothing else reads them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vaestudio.checkpoints import save_model
from vaestudio.data import open_source
from vaestudio.data.fashion_mnist import FASHION_MNIST, FashionMnistSource
from vaestudio.data.mnist import MNIST, MnistSource
from vaestudio.data.packaged import DatasetMissingError, installed_folder
from vaestudio.data.shipped_samples import PER_CLASS, open_shipped_samples, shipped_label_names
from vaestudio.hub import load
from vaestudio.models import VQVAE, VQVAEConfig
from vaestudio.pipelines.dataset_sample import open_model_source
from vaestudio.pipelines.editing import Editor


@pytest.fixture()
def hidden_datasets(tmp_path, monkeypatch):
    """MNIST and Fashion-MNIST nowhere: no package folder, an empty cache."""
    monkeypatch.setenv("VAESTUDIO_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(MnistSource, "dataset", dataclasses.replace(MNIST, package_folders=lambda: []))
    monkeypatch.setattr(FashionMnistSource, "dataset",
                        dataclasses.replace(FASHION_MNIST, package_folders=lambda: []))


def _model_trained_on(tmp_path, spec: str):
    torch.manual_seed(0)
    model = VQVAE(VQVAEConfig(image_channels=1, image_size=28, hidden_channels=8, residual_channels=4,
                              num_residual_blocks=1, num_codes=16, code_dim=4, kmeans_init=False))
    folder = tmp_path / f"trained-on-{spec}"
    save_model(model, str(folder))
    (folder / "recipe.toml").write_text(f'[data]\nsource = "{spec}"\n')
    return load(str(folder))


def test_the_shipped_samples_are_ten_real_test_digits_of_each_class():
    per_class = PER_CLASS["mnist"]
    samples = open_shipped_samples("mnist")
    assert samples.images.shape == (10 * per_class, 28, 28) and samples.images.dtype == np.uint8
    assert np.array_equal(np.bincount(samples.labels), [per_class] * 10)
    assert samples.images.reshape(len(samples), -1).max(axis=1).min() > 200  # every one has ink
    if installed_folder(MNIST) is not None:  # where MNIST is here: they are its first test digits of each class
        test = open_source("mnist", split="test")
        firsts = np.concatenate([np.flatnonzero(test.labels == digit)[:per_class] for digit in range(10)])
        assert np.array_equal(samples.images, test.images[firsts])


def test_the_editor_falls_back_to_the_shipped_digits(hidden_datasets, tmp_path):
    with pytest.raises(DatasetMissingError, match="vaestudio data get mnist"):
        open_source("mnist")  # training and evaluation still need the data set itself
    editor = Editor(_model_trained_on(tmp_path, "mnist"), sample_size=512)
    sample = editor.dataset_sample()
    assert sample.images.shape == (100, 1, 28, 28) and "shipped samples" in sample.description
    per_class = PER_CLASS["mnist"]
    assert sample.label_texts()[:per_class] == ["0"] * per_class and sample.label_names == [str(d) for d in range(10)]
    assert len(editor.sliders()) > 0
    scatter = editor.latent_scatter(num_points=30)
    assert len(scatter.points) == 30 and set(scatter.labels) <= {str(digit) for digit in range(10)}


def test_a_named_data_set_or_one_without_samples_still_says_how_to_get_it(hidden_datasets, tmp_path):
    model = _model_trained_on(tmp_path, "mnist")
    with pytest.raises(DatasetMissingError, match="vaestudio data get mnist"):
        open_model_source(model, "mnist", "test", 28)  # asked for by name: the real thing or the command
    with pytest.raises(DatasetMissingError, match="fashion-mnist"):
        Editor(_model_trained_on(tmp_path, "fashion-mnist")).dataset_sample()


def test_the_shipped_emoji_are_held_out_colour_emoji_with_their_subgroup_names():
    samples = open_shipped_samples("emoji")
    names = shipped_label_names("emoji")
    assert samples.images.ndim == 4 and samples.images.shape[1:] == (64, 64, 3)
    assert names == sorted(names) and "face-smiling" in names and "animal-mammal" in names
    assert samples.label_names == names and int(samples.labels.max()) < len(names)
    assert np.bincount(samples.labels).max() <= PER_CLASS["emoji"]
    assert len(np.unique(samples.labels)) > 50  # most subgroups
    colourful = samples.images.astype(int).std(axis=-1).mean(axis=(1, 2))  # (N,): how far from grey
    assert (colourful > 5).mean() > 0.8  # colour emoji, not grey renders
    styles = [caption.split(" style")[0].rsplit(" in ", 1)[1] for caption in samples.captions]
    assert len(samples.captions) == len(samples) and styles[:3] == ["noto", "twemoji", "openmoji"]
    assert samples[0].caption == samples.captions[0]  # each image carries its caption
    from vaestudio.data.emoji_packages import EMOJI
    if installed_folder(EMOJI) is not None:  # where emoji is here: they are its first test images of each subgroup
        test = open_source("emoji", split="test")
        firsts = [index for label in np.unique(test.labels) for style in range(3)
                  for index in np.flatnonzero((test.labels == label) & (test.style_ids == style))[:1]]
        assert np.array_equal(samples.images, test.images[firsts])
        assert [test.label_names[label] for label in test.labels[firsts]] == [names[label] for label in samples.labels]
        assert samples.captions == [test.full_caption(index) for index in firsts]
