"""Recipes: parsing, --set overrides, clear errors naming the key and the file, the shipped recipes."""

from __future__ import annotations

import glob
import os

import pytest

from tests.training.conftest import TINY_VAE
from vaestudio.training.building import learning_rate_at
from vaestudio.training.recipes import RecipeError, TrainingSection, load_recipe, parse_override

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_recipe_loads_into_typed_sections(write_recipe):
    recipe = load_recipe(write_recipe(TINY_VAE))
    assert recipe.model.type == "vae"
    assert recipe.model.config == {"latent_dim": 2, "hidden_sizes": (16,)}  # lists become the config's tuples
    assert recipe.data.source == "digits" and recipe.data.split == "train"
    assert recipe.training.steps == 12 and recipe.training.batch_size == 256
    assert recipe.training.learning_rate == pytest.approx(1e-2)
    assert recipe.training.precision == "fp32" and recipe.training.optimizer == "adamw"  # defaults
    assert recipe.evaluation.iwae_k == 8


def test_overrides_parse_toml_values(write_recipe):
    recipe = load_recipe(write_recipe(TINY_VAE), [
        "training.steps=3", "training.learning_rate=2e-4", "model.hidden_sizes=[8, 4]",
        "data.source=shapes", 'data.split="test"', "data.options.num_images=64", "evaluation.enabled=false",
    ])
    assert recipe.training.steps == 3
    assert recipe.training.learning_rate == pytest.approx(2e-4)
    assert recipe.model.config["hidden_sizes"] == (8, 4)
    assert recipe.data.source == "shapes" and recipe.data.split == "test"  # bare words are strings
    assert recipe.data.options == {"num_images": 64}
    assert recipe.evaluation.enabled is False
    assert recipe.overrides[0] == "training.steps=3"


def test_parse_override_needs_a_key_and_a_value():
    assert parse_override("a.b = 1.5") == (["a", "b"], 1.5)
    with pytest.raises(RecipeError, match="key.sub=value"):
        parse_override("training.steps")
    with pytest.raises(RecipeError, match="dotted key"):
        parse_override("training..steps=1")


@pytest.mark.parametrize("override, message", [
    ("training.stepz=3", r"training\.stepz is not a recipe key"),
    ("training.steps=\"many\"", r"training\.steps = 'many' has the wrong type: expected int"),
    ("training.batch_size=1.5", r"training\.batch_size = 1\.5 has the wrong type"),
    ("model.latent_dimension=3", r"model\.latent_dimension is not a field of VAEConfig"),
    ("model.latent_dim=true", r"model\.latent_dim = True has the wrong type"),
    ("model.hidden_sizes=[1, \"x\"]", r"model\.hidden_sizes .* has the wrong type"),
    ("model.type=transformer", r"model\.type = 'transformer' is not a model type; known: \[.*'vae'"),
    ("training.precision=fp8", r"training\.precision = 'fp8'; choose one of"),
    ("training.epochs=2", "exactly one of steps and epochs"),
    ("extra.key=1", r"unknown table\(s\) \['extra'\]"),
])
def test_bad_recipes_name_the_key_and_the_file(write_recipe, override, message):
    path = write_recipe(TINY_VAE)
    with pytest.raises(RecipeError, match=message) as error:
        load_recipe(path, [override])
    assert path in str(error.value)


def test_missing_file_and_bad_toml_are_clear(write_recipe, tmp_path):
    with pytest.raises(RecipeError, match="no recipe file"):
        load_recipe(str(tmp_path / "absent.toml"))
    with pytest.raises(RecipeError, match="not valid TOML"):
        load_recipe(write_recipe("[model\ntype = 1"))


def test_to_toml_round_trips(write_recipe):
    recipe = load_recipe(write_recipe(TINY_VAE), ["data.options.num_images=5", "training.betas=[0.5, 0.9]"])
    again = load_recipe(write_recipe(recipe.to_toml(), "again"))
    assert again.to_dict() == recipe.to_dict()


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(REPOSITORY, "recipes", "*.toml"))),
                         ids=os.path.basename)
def test_shipped_recipes_are_valid(path):
    recipe = load_recipe(path)
    assert recipe.training.steps or recipe.training.epochs
    if recipe.model.type in ("pixelcnn_prior", "pixelcnn_bottom_prior"):
        assert recipe.model.vqvae, "a prior recipe names its VQ-VAE"


def test_the_stages_schedule_follows_the_iwae_paper():
    training = TrainingSection(epochs=3280, learning_rate=1e-3, lr_schedule="stages")
    total = 3280  # one step per epoch: stage i lasts 3**i steps at 1e-3 * 10**(-i/7)
    rates = [learning_rate_at(step, total, training) for step in range(total)]
    boundaries = [0, 1, 4, 13, 40, 121, 364, 1093]
    for stage, start in enumerate(boundaries):
        assert rates[start] == pytest.approx(1e-3 * 10 ** (-stage / 7))
    assert rates[-1] == pytest.approx(1e-4)
    assert len(set(rates)) == 8


def test_warmup_then_cosine_ends_at_the_floor():
    training = TrainingSection(steps=100, learning_rate=1.0, lr_schedule="cosine", warmup_steps=10, min_lr_ratio=0.1)
    assert learning_rate_at(0, 100, training) == pytest.approx(0.1)
    assert learning_rate_at(9, 100, training) == pytest.approx(1.0)
    assert learning_rate_at(10, 100, training) == pytest.approx(1.0)
    assert learning_rate_at(100, 100, training) == pytest.approx(0.1)


def test_a_recipe_written_with_flat_text_fields_reads_as_the_nested_text_encoder(write_recipe):
    """Recipes before checkpoint format 1 spelled the text encoder flat (two ways); they load unchanged."""
    nested = load_recipe(write_recipe(
        '[model]\ntype = "contrastive_scorer"\nembedding_dim = 8\n[model.text_encoder]\nembedding_dim = 16\n'
        'num_layers = 1\nnum_heads = 2\nmax_tokens = 12\n\n[data]\nsource = "digits"\n\n[training]\nsteps = 1\n'))
    flat = load_recipe(write_recipe(
        '[model]\ntype = "contrastive_scorer"\nembedding_dim = 8\ntext_dim = 16\ntext_layers = 1\ntext_heads = 2\n'
        'max_tokens = 12\n\n[data]\nsource = "digits"\n\n[training]\nsteps = 1\n'))
    assert flat.model.config == nested.model.config
    assert nested.model.config["text_encoder"] == {"embedding_dim": 16, "num_layers": 1, "num_heads": 2,
                                                   "max_tokens": 12}
    prior = load_recipe(write_recipe(
        '[model]\ntype = "pixelcnn_prior"\ncondition = "text"\ntext_embedding_dim = 8\n[model.text_options]\n'
        'num_heads = 2\n\n[data]\nsource = "digits"\n\n[training]\nsteps = 1\n'))
    assert prior.model.config["text_encoder"] == {"embedding_dim": 8, "num_heads": 2}
    with pytest.raises(RecipeError, match="text_encoder"):
        load_recipe(write_recipe('[model]\ntype = "contrastive_scorer"\n[model.text_encoder]\nwidth = 3\n\n'
                                 '[data]\nsource = "digits"\n\n[training]\nsteps = 1\n'))
