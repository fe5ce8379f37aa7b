"""Checkpoints of every model: exact round trips, and strict loading with clear CheckpointErrors."""

import json
import os

import pytest
import torch

from tests.models.test_scorer import CAPTIONS, coloured_images
from tests.models.test_vqvae import SMALL_CODE_MODEL, smooth_images
from vaestudio.checkpoints import CheckpointError, load_model, save_model
from vaestudio.common.batch import Batch
from vaestudio.models import DVAE, VAE, VQVAE, ContrastiveScorer
from vaestudio.models.base import StudioModel
from vaestudio.models.dvae import DVAEConfig
from vaestudio.models.scorer import ContrastiveScorerConfig
from vaestudio.models.text import build_vocabulary
from vaestudio.models.vae import VAEConfig
from vaestudio.models.vqvae import VQVAEConfig

VOCABULARY = build_vocabulary(CAPTIONS)


def make_models() -> dict[str, StudioModel]:
    torch.manual_seed(0)
    return {
        "vae-mlp": VAE(VAEConfig(image_channels=3, image_size=16, latent_dim=4, hidden_sizes=(16,))),
        "vae-conv-text": VAE(
            VAEConfig(
                image_channels=3,
                image_size=16,
                latent_dim=4,
                body="conv",
                hidden_sizes=(8, 8),
                likelihood="logit_laplace",
                condition="text",
                text_encoder={"vocabulary": VOCABULARY, "embedding_dim": 8, "num_layers": 1, "num_heads": 2},
            )
        ),
        "vae-class-gaussian": VAE(
            VAEConfig(
                image_channels=3,
                image_size=16,
                latent_dim=4,
                hidden_sizes=(16,),
                likelihood="gaussian",
                condition="class",
                num_classes=4,
            )
        ),
        "vqvae": VQVAE(VQVAEConfig(**SMALL_CODE_MODEL)),
        "vqvae-2": VQVAE(VQVAEConfig(levels=2, likelihood="logit_laplace", **SMALL_CODE_MODEL)),
        "dvae": DVAE(DVAEConfig(anneal_steps=10, **SMALL_CODE_MODEL)),
        "scorer": ContrastiveScorer(
            ContrastiveScorerConfig(
                image_size=16,
                hidden_sizes=(8,),
                embedding_dim=8,
                text_encoder={"vocabulary": VOCABULARY, "embedding_dim": 8, "num_layers": 1, "num_heads": 2},
            )
        ),
    }


def deterministic_output(model: StudioModel, images: torch.Tensor) -> torch.Tensor:
    """What each model computes without randomness, for comparing a model with its reloaded copy."""
    model.eval()
    with torch.no_grad():
        if isinstance(model, VAE):
            condition = {"none": None, "class": torch.arange(4), "text": CAPTIONS}[model.config.condition]
            return model.reconstruct(images, condition)
        if isinstance(model, (VQVAE, DVAE)):
            return model.reconstruct(images)
        return model.score(images, CAPTIONS)


def train_a_little(model: StudioModel, images: torch.Tensor) -> None:
    """Two optimiser steps: EMA buffers, k-means state and temperatures move off their initial values."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    batch = Batch(images, labels=torch.arange(4), captions=CAPTIONS)
    model.train()
    for step in range(2):
        loss = model.training_loss(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.on_train_step_end(step + 1)


@pytest.mark.parametrize("name", list(make_models()))
def test_round_trip_is_exact(name, tmp_path):
    model = make_models()[name]
    images = smooth_images() if not isinstance(model, ContrastiveScorer) else coloured_images()
    train_a_little(model, images)
    save_model(model, str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]  # no temporary files left

    loaded = load_model(str(tmp_path))
    assert type(loaded) is type(model) and loaded.config == model.config
    expected_state, loaded_state = model.state_dict(), loaded.state_dict()
    assert list(expected_state) == list(loaded_state)
    for key, tensor in expected_state.items():
        assert loaded_state[key].dtype == tensor.dtype and torch.equal(loaded_state[key], tensor), key
    assert torch.equal(deterministic_output(loaded, images), deterministic_output(model, images))
    assert load_model(str(tmp_path), expected=type(model)).config == model.config
    assert type(load_model(str(tmp_path))) is type(model)


@pytest.fixture
def saved_vae(tmp_path):
    torch.manual_seed(0)
    model = VAE(VAEConfig(image_size=8, latent_dim=4, hidden_sizes=(16,)))
    save_model(model, str(tmp_path))
    return tmp_path


def edit_config(directory, **changes) -> None:
    path = os.path.join(directory, "config.json")
    with open(path) as stream:
        document = json.load(stream)
    document["config"].update(changes)
    with open(path, "w") as stream:
        json.dump(document, stream)


def test_mismatched_config_and_weights(saved_vae):
    edit_config(saved_vae, latent_dim=5)
    with pytest.raises(CheckpointError, match="do not match config.json.*wrong shape"):
        load_model(str(saved_vae))


def test_weights_of_another_architecture(saved_vae):
    edit_config(saved_vae, hidden_sizes=[16, 16])
    with pytest.raises(CheckpointError, match="missing"):
        load_model(str(saved_vae))


def test_a_pickle_renamed_model_safetensors_is_refused_and_never_unpickled(saved_vae):
    weights = os.path.join(saved_vae, "model.safetensors")
    state = load_model(str(saved_vae)).state_dict()
    torch.save(state, weights)  # a pickle archive with the expected name
    with pytest.raises(CheckpointError, match="not a readable safetensors file.*never loaded"):
        load_model(str(saved_vae))


def test_missing_files(saved_vae, tmp_path_factory):
    os.remove(os.path.join(saved_vae, "model.safetensors"))
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        load_model(str(saved_vae))
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(CheckpointError, match="no config.json"):
        load_model(str(empty))
    with pytest.raises(CheckpointError, match="no config.json"):
        load_model(str(empty / "does-not-exist"))


def test_invalid_config_values_and_fields(saved_vae):
    edit_config(saved_vae, likelihood="poisson")
    with pytest.raises(CheckpointError, match="valid VAEConfig.*likelihood"):
        load_model(str(saved_vae))
    edit_config(saved_vae, likelihood="bernoulli", colour_space="lab")
    with pytest.raises(CheckpointError, match="colour_space"):
        load_model(str(saved_vae))


def test_corrupt_config_json(saved_vae):
    with open(os.path.join(saved_vae, "config.json"), "w") as stream:
        stream.write("{not json")
    with pytest.raises(CheckpointError, match="not a valid model config"):
        load_model(str(saved_vae))


def test_loading_as_the_wrong_class(saved_vae):
    with pytest.raises(CheckpointError, match="holds a VAE, not a VQVAE"):
        load_model(str(saved_vae), expected=VQVAE)
