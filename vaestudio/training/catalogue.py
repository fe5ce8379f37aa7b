"""The recipes a user can pick (the studio's Train tab): each one's name, the description its leading
comment lines give, its data and its settings; and a recipe re-run with other data and settings."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping

from vaestudio.data import parse_spec
from vaestudio.training.recipe_settings import RecipeSetting, apply_settings, recipe_settings
from vaestudio.training.recipes import Recipe, load_recipe

log = logging.getLogger(__name__)
REPORTS_PER_RUN = 100  # loss reports over a run re-sized by ``with_settings``
SAMPLE_GRIDS_PER_RUN = 5


@dataclasses.dataclass(frozen=True)
class RecipeSummary:
    name: str
    description: str  # the recipe's first comment lines, joined
    data: str  # the data source spec it trains on
    steps: int  # 0 when the recipe counts epochs
    batch_size: int
    learning_rate: float
    seed: int
    settings: tuple[RecipeSetting, ...] = ()  # its main settings (beta, latent size, ...) with their help


def describe_recipe(path: str) -> RecipeSummary:
    recipe = load_recipe(path)
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    head = text.splitlines()[:4]
    description = " ".join(line.lstrip("#").strip() for line in head if line.startswith("#"))
    training = recipe.training
    return RecipeSummary(recipe.name, description, recipe.data.source, int(training.steps or 0),
                         int(training.batch_size), float(training.learning_rate), int(training.seed),
                         tuple(recipe_settings(recipe, text)))


def list_recipes(directory: str) -> list[RecipeSummary]:
    """Every ``*.toml`` recipe in ``directory`` that loads, by name (one that does not is skipped, logged)."""
    summaries = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        if name.endswith(".toml"):
            try:
                summaries.append(describe_recipe(os.path.join(directory, name)))
            except Exception:  # a recipe being written right now must not hide the others
                log.warning("skipping the recipe %s: it does not load", name, exc_info=True)
    return summaries


def with_settings(recipe: Recipe, data: str | None, steps: int, batch_size: int, learning_rate: float,
                  seed: int) -> Recipe:
    """The recipe on other data with other settings (``steps`` 0 keeps its own length). With a step count, the
    loss is reported about a hundred times and samples about five times, so a watcher sees the run move."""
    training = dataclasses.replace(recipe.training, batch_size=int(batch_size), learning_rate=float(learning_rate),
                                   seed=int(seed))
    if steps > 0:
        steps = int(steps)
        training = dataclasses.replace(
            training, steps=steps, epochs=None,
            log_every=max(1, min(training.log_every, steps // REPORTS_PER_RUN)),
            sample_every=max(1, min(training.sample_every or steps, steps // SAMPLE_GRIDS_PER_RUN)))
    source = (data or recipe.data.source).strip()
    return dataclasses.replace(recipe, training=training, data=dataclasses.replace(recipe.data, source=source))


def prepare_run(directory: str, name: str, data: str | None, steps: int, batch_size: int, learning_rate: float,
                seed: int, settings: Mapping[str, float] | None = None,
                caps: Mapping[str, float] | None = None) -> Recipe:
    """The recipe ``name`` of ``directory`` on ``data`` (None or "": its own) with the given settings, checked:
    a ValueError says what is wrong (no such recipe, a bad data spec, a bad setting). ``settings``: main recipe
    settings by key (``vaestudio.training.recipe_settings``); ``caps``: their maxima in a hosted studio."""
    path = os.path.join(directory, f"{name}.toml")
    if not os.path.isfile(path):
        raise ValueError(f"There is no recipe {name!r}. Pick one of the listed recipes")
    if steps < 0 or batch_size < 1 or learning_rate <= 0:
        raise ValueError("Steps must be 0 (the recipe's own) or more, the batch size at least 1, and the "
                         "learning rate above 0")
    if (data or "").strip():
        parse_spec(data)
    recipe = apply_settings(load_recipe(path), dict(settings or {}), caps)
    return with_settings(recipe, data, steps, batch_size, learning_rate, seed)
