"""training.layout: a text prior trained on the regional conditions its pipeline samples with."""

from __future__ import annotations

import os

import pytest
import torch

from tests.training.conftest import TINY_VQVAE, read_text
from vaestudio.common.batch import Batch, RegionalCondition
from vaestudio.models.pixelcnn import PixelCNNPrior
from vaestudio.training import RecipeError, load_recipe, train
from vaestudio.training.regional_captions import RegionalCaptions
from vaestudio.worlds.shapes.layout import shapes_layout

TWO_PLACED = "a small red circle in the top left and a large blue star at the bottom on a white background"
ONE_PLACED = "a small red circle in the top left on a white background"

# the tiny VQ-VAE of the trainer tests, on 64 shapes images of 16 x 16 (4 x 4 code maps)
TINY_SHAPES_VQVAE = TINY_VQVAE.replace('source = "digits"', 'source = "shapes"\nimage_size = 16\n[data.options]\nnum_images = 64')

TINY_SHAPES_PRIOR = """
[model]
type = "pixelcnn_prior"
vqvae = "{vqvae}"
condition = "text"
spatial_condition = true
channels = 8
num_layers = 2
head_channels = 8
text_embedding_dim = 8  # written flat, as recipes were before the nested text encoder: still reads
[model.text_options]
num_layers = 1
num_heads = 2
[model.spatial_options]
hidden_channels = 8
rank = 4
num_heads = 2

[data]
source = "shapes"
[data.options]
num_images = 64

[training]
steps = 3
batch_size = 16
learning_rate = 1e-3
sample_every = 0
checkpoint_every = 0
layout = "shapes"
layout_probability = 1.0

[evaluation]
enabled = false
"""


def test_placeable_captions_become_the_layouts_own_regional_conditions():
    transform = RegionalCaptions("shapes", 1.0, (4, 4))
    batch = transform.apply(Batch(torch.zeros(3, 3, 16, 16), captions=[TWO_PLACED, ONE_PLACED, "a shape"]))
    regional, one, neutral = batch.captions
    expected = shapes_layout(TWO_PLACED, (4, 4), 1)
    assert isinstance(regional, RegionalCondition) and regional.captions == expected.captions
    assert torch.equal(regional.weights, expected.weights) and len(regional) == 1
    assert (one, neutral) == (ONE_PLACED, "a shape")  # nothing to place: the caption stays whole


def test_the_probability_sets_the_share_of_regional_captions():
    transform = RegionalCaptions("shapes", 0.3, (4, 4), torch.Generator().manual_seed(0))
    conditions = transform.apply(Batch(torch.zeros(1000, 1, 1, 1), captions=[TWO_PLACED] * 1000)).captions
    share = sum(isinstance(item, RegionalCondition) for item in conditions) / 1000
    assert 0.25 < share < 0.35  # binomial(1000, 0.3): 5 standard deviations either side


@pytest.mark.parametrize("arguments, message", [
    (("shapes", 0.0, (4, 4)), r"layout_probability must lie in \(0, 1\]"),
    (("mosaic", 0.5, (4, 4)), r"unknown layout 'mosaic'"),
])
def test_bad_settings_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        RegionalCaptions(*arguments)


def test_a_batch_without_captions_is_refused():
    with pytest.raises(ValueError, match="needs a data source with captions"):
        RegionalCaptions("shapes", 1.0, (4, 4)).apply(Batch(torch.zeros(2, 3, 16, 16)))


@pytest.fixture(scope="module")
def shapes_vqvae(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes-vqvae")
    (folder / "vqvae.toml").write_text(TINY_SHAPES_VQVAE)
    out = str(folder / "run")
    train(load_recipe(str(folder / "vqvae.toml")), out)
    return out


def test_a_prior_trains_on_regional_conditions_and_its_card_says_so(shapes_vqvae, write_recipe, tmp_path,
                                                                       monkeypatch):
    seen = []
    per_sample = PixelCNNPrior._per_sample_bias

    def spy(self, conditions, batch_size):
        seen.append(sum(isinstance(item, RegionalCondition) for item in conditions))
        return per_sample(self, conditions, batch_size)

    monkeypatch.setattr(PixelCNNPrior, "_per_sample_bias", spy)
    out = str(tmp_path / "prior")
    train(load_recipe(write_recipe(TINY_SHAPES_PRIOR.format(vqvae=shapes_vqvae))), out)
    assert len(seen) >= 1 and sum(seen) >= 3  # every placeable two-object caption of the 48 drawn went regional
    card = read_text(os.path.join(out, "README.md"))
    assert "- regional training: 100% of the captions the `shapes` layout places" in card


@pytest.mark.parametrize("override, message", [
    ("training.layout='mosaic'", r"training.layout = 'mosaic'; choose one of \['shapes'\]"),
    ("training.layout_probability=1.5", r"training.layout_probability = 1.5; it is a fraction in \(0, 1\]"),
])
def test_recipe_settings_are_checked(shapes_vqvae, write_recipe, override, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(write_recipe(TINY_SHAPES_PRIOR.format(vqvae=shapes_vqvae)), [override])


def test_a_layout_on_a_model_that_is_not_a_spatial_text_prior_is_refused(shapes_vqvae, write_recipe, tmp_path):
    recipe = load_recipe(write_recipe(TINY_SHAPES_VQVAE), ["training.layout='shapes'"])
    with pytest.raises(RecipeError, match="training.layout trains a text prior with spatial_condition = true"):
        train(recipe, str(tmp_path / "vqvae"))
