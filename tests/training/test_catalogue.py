"""The recipe catalogue: what the Train tab lists, and a recipe re-run with the studio's data and settings."""

from __future__ import annotations

import os
import pathlib

import pytest

from vaestudio.training import load_recipe
from vaestudio.training.catalogue import describe_recipe, list_recipes, prepare_run, with_settings

RECIPES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "recipes")


def test_every_shipped_recipe_is_listed_with_its_comment_and_settings():
    summaries = {summary.name: summary for summary in list_recipes(RECIPES)}
    assert set(summaries) == {name[:-5] for name in os.listdir(RECIPES) if name.endswith(".toml")}
    digits = summaries["digits-vae-2d"]
    assert digits.data == "digits" and digits.description.startswith("A VAE with a 2-D latent space")
    assert (digits.steps, digits.batch_size) == (0, 64)  # it counts epochs


def test_a_recipe_that_does_not_load_is_skipped(tmp_path):
    (tmp_path / "broken.toml").write_text("[model\n")
    (tmp_path / "good.toml").write_bytes(pathlib.Path(RECIPES, "digits-vae-2d.toml").read_bytes())
    assert [summary.name for summary in list_recipes(str(tmp_path))] == ["good"]
    assert describe_recipe(str(tmp_path / "good.toml")).data == "digits"


def test_a_run_overrides_the_recipe_and_reports_often():
    recipe = load_recipe(os.path.join(RECIPES, "digits-vae-2d.toml"))
    training = with_settings(recipe, "digits", 200, 16, 1e-3, 7).training
    assert (training.steps, training.epochs, training.batch_size, training.seed) == (200, None, 16, 7)
    assert training.log_every == 2 and training.sample_every == 40
    assert with_settings(recipe, "", 0, 16, 1e-3, 7).training.epochs == recipe.training.epochs
    assert with_settings(recipe, "", 0, 16, 1e-3, 7).data.source == "digits"  # "" keeps the recipe's data


@pytest.mark.parametrize("name, data, settings, message", [
    ("no-such-recipe", "", (10, 8, 1e-3), "There is no recipe 'no-such-recipe'"),
    ("digits-vae-2d", "bogus", (10, 8, 1e-3), "unknown data source 'bogus'"),
    ("digits-vae-2d", "", (-1, 8, 1e-3), "Steps must be 0"),
    ("digits-vae-2d", "", (10, 0, 1e-3), "the batch size at least 1"),
    ("digits-vae-2d", "", (10, 8, 0.0), "learning rate above 0"),
])
def test_prepare_run_refuses_with_a_reason(name, data, settings, message):
    with pytest.raises(ValueError, match=message):
        prepare_run(RECIPES, name, data, *settings, 0)
