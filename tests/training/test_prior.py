"""A prior recipe: a frozen VQ-VAE's codes fill batch.codes, and the prior is saved with a reference to it."""

from __future__ import annotations

import os

import pytest
import torch

from tests.training.conftest import TINY_VQVAE, read_json
from vaestudio.checkpoints import load_model
from vaestudio.evaluation import evaluate, vqvae_for_prior
from vaestudio.training import RecipeError, load_recipe, train
from vaestudio.training.building import CodeProvider

TINY_PRIOR = """
[model]
type = "pixelcnn_prior"
vqvae = "{vqvae}"
condition = "text"          # the vocabulary comes from the captions ("a handwritten digit 3")
channels = 8
num_layers = 2
kernel_size = 3
head_channels = 8
[model.text_encoder]
embedding_dim = 8

[data]
source = "digits"

[training]
steps = 3
batch_size = 16
learning_rate = 1e-3
log_every = 1
sample_every = 3
checkpoint_every = 0

[evaluation]
limit = 32
"""


@pytest.fixture(scope="module")
def trained_vqvae(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vqvae")
    path = folder / "vqvae.toml"
    path.write_text(TINY_VQVAE)
    out = str(folder / "run")
    train(load_recipe(str(path)), out)
    return out


def test_a_prior_trains_on_the_frozen_vqvae_codes_and_refers_to_it(trained_vqvae, write_recipe, tmp_path):
    vqvae_before = {name: tensor.clone() for name, tensor in load_model(trained_vqvae).state_dict().items()}
    out = str(tmp_path / "prior")
    result = train(load_recipe(write_recipe(TINY_PRIOR.format(vqvae=trained_vqvae))), out)
    prior = load_model(out)
    assert prior.model_type == "pixelcnn_prior" and prior.config.num_codes == 16  # from the VQ-VAE
    assert "digit" in prior.config.text_encoder.vocabulary
    reference = read_json(os.path.join(out, "vqvae_reference.json"))
    assert reference["vqvae"] == trained_vqvae and os.path.samefile(reference["resolved"], trained_vqvae)
    assert os.path.isfile(os.path.join(out, "samples", "step-00000003-samples.png"))  # decoded prior samples
    evaluation = result.metrics["evaluation"]
    assert evaluation["images"] == 32 and 0 < evaluation["bits_per_code"] < 8  # 16 codes: 4 bits when uniform
    for name, tensor in load_model(trained_vqvae).state_dict().items():  # the VQ-VAE stayed frozen
        assert torch.equal(tensor, vqvae_before[name])
    vqvae = vqvae_for_prior(out)
    assert vqvae.model_type == "vqvae"


def test_vqvae_evaluation_counts_codebook_usage_over_the_whole_split(trained_vqvae):
    from vaestudio.data import open_source

    result = evaluate(load_model(trained_vqvae), open_source("digits", split="test"), batch_size=50, limit=120)
    codebook = result["codebook"]
    assert codebook["num_codes"] == 16 and codebook["codes_counted"] == 120 * 2 * 2  # 2 x 2 code maps
    assert codebook["used_codes"] + codebook["dead_codes"] == 16
    assert 1 <= codebook["perplexity"] <= codebook["used_codes"]
    assert 0 < result["psnr"] and 0 < result["mse"] < 1


def test_the_code_cache_encodes_each_image_once(trained_vqvae):
    from vaestudio.data import collate, open_source

    vqvae = load_model(trained_vqvae).eval()
    calls = []
    encode = vqvae.encode_codes
    vqvae.encode_codes = lambda images: calls.append(len(images)) or encode(images)
    source = open_source("digits", split="test")
    provider = CodeProvider(vqvae, capacity=len(source))
    indices = torch.tensor([3, 5, 7, 9])
    batch = collate([source[int(index)] for index in indices])
    first = provider.fill(batch, indices).codes
    again = provider.fill(batch, indices).codes
    assert calls == [4] and torch.equal(first, again) and torch.equal(first, encode(batch.images))
    partly = torch.tensor([3, 11])
    provider.fill(collate([source[int(index)] for index in partly]), partly)
    assert calls == [4, 1]  # only image 11 was new


def test_a_prior_recipe_whose_vqvae_is_missing_says_so(write_recipe, tmp_path):
    recipe = load_recipe(write_recipe(TINY_PRIOR.format(vqvae=str(tmp_path / "nowhere"))))
    with pytest.raises(RecipeError, match="model.vqvae = .*nowhere.* could not be loaded"):
        train(recipe, str(tmp_path / "prior"))
