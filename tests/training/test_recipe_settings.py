"""The main settings of a recipe as the Train tab edits them: which a recipe has, the recipe's own comments as
help, new values applied and checked (ranges, the model's own rules, a hosted studio's caps)."""

from __future__ import annotations

import pytest

from tests.training.conftest import TINY_VAE, TINY_VQVAE
from vaestudio.training import RecipeError, load_recipe, train
from vaestudio.training.catalogue import prepare_run
from vaestudio.training.recipe_settings import apply_settings, recipe_comments, recipe_settings

COMMENTED = TINY_VAE.replace("latent_dim = 2", 'latent_dim = 2  # size of z: "two" # is enough') \
    .replace("[evaluation]", '[evaluation]\nsplit = "test"  # the held-out images\n') \
    .replace('source = "digits"', 'source = "digits"  # 8x8 # digits')


def by_key(settings):
    return {setting.key: setting for setting in settings}


def test_the_comment_after_each_key_is_read_with_its_table():
    comments = recipe_comments('[model]\nname = "a # b"  # the real comment\nbeta = 1.0 # weight\nplain = 3\n'
                               "[training]\nsteps = 5  #  how long  \nquoted = 'x#y'\n[data.options]\nbinarize = "
                               '"dynamic"  # fresh draws\n')
    assert comments == {"model.name": "the real comment", "model.beta": "weight", "training.steps": "how long",
                        "data.options.binarize": "fresh draws"}


def test_a_vae_recipe_has_its_main_settings_with_the_recipes_comments_as_help(write_recipe):
    recipe = load_recipe(write_recipe(COMMENTED))
    settings = by_key(recipe_settings(recipe))
    assert list(settings) == ["model.beta", "model.latent_dim", "evaluation.iwae_k", "training.kl_warmup_steps",
                              "model.free_bits"]  # an ELBO VAE: no training k, no codebook
    assert settings["model.latent_dim"].value == 2 and settings["model.latent_dim"].kind == "int"
    assert settings["model.latent_dim"].help == 'size of z: "two" # is enough'  # the # inside quotes is kept
    assert settings["evaluation.iwae_k"].value == 8
    assert settings["model.beta"].value == 1.0 and "KL term" in settings["model.beta"].help  # no comment: general


def test_each_model_type_has_the_settings_it_reads(write_recipe):
    assert list(by_key(recipe_settings(load_recipe(write_recipe(TINY_VQVAE))))) == ["model.num_codes"]
    iwae = load_recipe(write_recipe(TINY_VAE.replace("hidden_sizes = [16]", 'hidden_sizes = [16]\nobjective = "iwae"\n'
                                                                              "iwae_samples = 7  # k in training")))
    settings = by_key(recipe_settings(iwae))
    assert settings["model.iwae_samples"].value == 7 and settings["model.iwae_samples"].help == "k in training"
    assert "model.free_bits" not in settings  # free bits apply to the ELBO only
    shipped = by_key(recipe_settings(load_recipe("recipes/mnist-pixelvae-warmup.toml")))
    assert shipped["training.kl_warmup_steps"].value == 600
    assert shipped["training.kl_warmup_steps"].help.startswith("steps over which the KL weight rises")


def test_new_values_reach_the_recipe_and_the_trained_model(write_recipe, tmp_path):
    recipe = load_recipe(write_recipe(TINY_VAE))
    changed = apply_settings(recipe, {"model.latent_dim": 3.0, "model.free_bits": 0.25, "training.kl_warmup_steps": 4,
                                      "evaluation.iwae_k": 2})
    assert changed.model.config["latent_dim"] == 3 and isinstance(changed.model.config["latent_dim"], int)
    assert changed.model.config["free_bits"] == 0.25
    assert changed.training.kl_warmup_steps == 4 and changed.evaluation.iwae_k == 2
    assert recipe.model.config["latent_dim"] == 2  # the original is untouched
    result = train(changed, str(tmp_path / "run"))
    assert result.model.config.latent_dim == 3 and result.model.config.free_bits == 0.25
    assert result.metrics["evaluation"]["iwae_k"] == 2
    assert "model.latent_dim=3" in (tmp_path / "run" / "README.md").read_text()  # the card's command says so


@pytest.mark.parametrize("values, message", [
    ({"model.latent_dim": 0}, r"Latent size \(model.latent_dim\) must lie between 1 and 1024, got 0"),
    ({"model.free_bits": -0.5}, "must lie between 0 and 100"),
    ({"model.latent_dim": 2.5}, "expected int"),
    ({"model.num_codes": 64}, "has no Codebook size setting"),
    ({"training.steps": 10}, "not a setting the Train tab edits"),
])
def test_bad_values_are_refused_with_what_to_do(write_recipe, values, message):
    with pytest.raises(RecipeError, match=message):
        apply_settings(load_recipe(write_recipe(TINY_VAE)), values)


def test_caps_refuse_larger_values_and_lower_the_recipes_own(write_recipe):
    recipe = load_recipe(write_recipe(TINY_VAE.replace("iwae_k = 8", "iwae_k = 5000")))
    caps = {"evaluation.iwae_k": 1000, "model.latent_dim": 256}
    with pytest.raises(RecipeError, match="between 0 and 1000, got 1001"):
        apply_settings(recipe, {"evaluation.iwae_k": 1001}, caps)
    assert apply_settings(recipe, {}, caps).evaluation.iwae_k == 1000  # the recipe's own 5000, lowered
    assert apply_settings(recipe, {"evaluation.iwae_k": 10}, caps).evaluation.iwae_k == 10


def test_prepare_run_applies_the_settings_of_a_shipped_recipe():
    recipe = prepare_run("recipes", "mnist-pixelvae", None, 10, 8, 1e-3, 0, {"model.free_bits": 0.5},
                         {"evaluation.iwae_k": 20})
    assert recipe.model.config["free_bits"] == 0.5 and recipe.evaluation.iwae_k == 20 and recipe.training.steps == 10
    with pytest.raises(ValueError, match="must lie between"):
        prepare_run("recipes", "mnist-pixelvae", None, 10, 8, 1e-3, 0, {"model.beta": -1.0})
