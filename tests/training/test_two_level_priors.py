"""Priors over a two-level VQ-VAE's codes: a plain prior models the top map, a bottom prior the bottom map
given the top one; both train, evaluate and preview from recipes."""

from __future__ import annotations

import os

import pytest
import torch

from tests.training.conftest import TINY_VQVAE
from tests.training.test_prior import TINY_PRIOR
from vaestudio.checkpoints import load_model
from vaestudio.data import collate, open_source
from vaestudio.evaluation import evaluate
from vaestudio.training import RecipeError, load_recipe, train
from vaestudio.training.building import CodeProvider

TINY_VQVAE2 = TINY_VQVAE.replace("downsample_factor = 4", "downsample_factor = 2\nlevels = 2\ntop_downsample_factor = 2")

BOTTOM = ["model.type=pixelcnn_bottom_prior", "model.condition=none", "model.top_channels=4"]  # over TINY_PRIOR
TOP = ["model.condition=none"]


@pytest.fixture(scope="module")
def trained_vqvae2(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vqvae2")
    (folder / "vqvae2.toml").write_text(TINY_VQVAE2)
    return train(load_recipe(str(folder / "vqvae2.toml")), str(folder / "run")).out_dir


def test_the_code_provider_gives_a_bottom_prior_both_maps_and_caches_them(trained_vqvae2):
    vqvae = load_model(trained_vqvae2).eval()
    source = open_source("digits", split="test")
    indices = torch.tensor([2, 4, 6])
    batch = collate([source[int(index)] for index in indices])
    own = vqvae.encode_codes(batch.images)
    bottom = CodeProvider(vqvae, capacity=len(source), level="bottom")
    first = bottom.fill(batch, indices)
    again = bottom.fill(batch, indices)  # from the cache
    assert torch.equal(first.codes, own.bottom) and torch.equal(first.top_codes, own.top)
    assert torch.equal(again.codes, own.bottom) and torch.equal(again.top_codes, own.top)
    top = CodeProvider(vqvae, capacity=0, level="top").fill(batch, indices)
    assert torch.equal(top.codes, own.top) and top.top_codes is None
    with pytest.raises(RecipeError, match="which level"):
        CodeProvider(vqvae, capacity=0).fill(batch, None)


def test_a_top_prior_and_a_bottom_prior_train_on_a_vqvae2(trained_vqvae2, write_recipe, tmp_path):
    top_out, bottom_out = str(tmp_path / "top"), str(tmp_path / "bottom")
    recipe = write_recipe(TINY_PRIOR.format(vqvae=trained_vqvae2))
    top = train(load_recipe(recipe, TOP), top_out)
    bottom = train(load_recipe(recipe, BOTTOM), bottom_out)
    bottom_prior = load_model(bottom_out)
    assert bottom_prior.model_type == "pixelcnn_bottom_prior"
    assert bottom_prior.config.top_num_codes == 16 and bottom_prior.config.top_downsample_factor == 2  # from the VQ-VAE
    for result in (top, bottom):
        assert result.metrics["evaluation"]["images"] == 32
        assert 0 < result.metrics["evaluation"]["bits_per_code"] < 8  # 16 codes: 4 bits when uniform
    assert os.path.isfile(os.path.join(bottom_out, "samples", "step-00000003-samples.png"))  # decoded previews
    # evaluation reads the level each prior models: the top map is 2 x 2, the bottom one 4 x 4
    vqvae = load_model(trained_vqvae2)
    source = open_source("digits", split="test")
    assert evaluate(load_model(top_out), source, limit=32, vqvae=vqvae)["bits_per_code"] == pytest.approx(
        top.metrics["evaluation"]["bits_per_code"])


def test_a_bottom_prior_over_a_one_level_vqvae_says_what_to_do(write_recipe, tmp_path):
    vqvae_recipe = tmp_path / "vqvae.toml"
    vqvae_recipe.write_text(TINY_VQVAE)
    vqvae_out = str(tmp_path / "vqvae")
    train(load_recipe(str(vqvae_recipe)), vqvae_out)
    recipe = load_recipe(write_recipe(TINY_PRIOR.format(vqvae=vqvae_out)), BOTTOM)
    with pytest.raises(RecipeError, match="one-level one .*pixelcnn_prior"):
        train(recipe, str(tmp_path / "bottom"))
