"""The main settings of a recipe, as the studio's Train tab edits them: which ones a recipe has, their values,
the recipe's own comment on each as help, and a recipe re-made with new values, checked.

The main settings are beta, the latent size, the codebook size, k of IWAE (the training objective's and the
evaluation bound's), the KL warm-up and free bits (ranges: ``vaestudio.common.limits.RECIPE_SETTINGS``). A
recipe "has" a setting when its model type reads it: a VQ-VAE has a codebook size and no beta; an ELBO VAE
has free bits and no training k. The help is the comment after the key in the recipe file::

    latent_dim = 16  # size of z          ->  help "size of z"

and a general sentence where the recipe has no comment there (or leaves the key out, at its default).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from vaestudio.common.limits import RECIPE_SETTINGS
from vaestudio.training.recipes import Recipe, RecipeError, check_value, model_config_class


@dataclasses.dataclass(frozen=True)
class SettingSpec:
    key: str  # "model.beta": table and key of the recipe
    label: str
    kind: type  # int or float
    general_help: str  # shown when the recipe has no comment on the key
    applies: Callable[[Recipe], bool]


def _model_reads(field: str) -> Callable[[Recipe], bool]:
    def applies(recipe: Recipe) -> bool:
        fields = {item.name for item in dataclasses.fields(model_config_class(recipe.model.type))}
        return field in fields and recipe.model.vqvae is None  # a prior's codes come from its VQ-VAE
    return applies


def _vae_with_objective(objective: str) -> Callable[[Recipe], bool]:
    def applies(recipe: Recipe) -> bool:
        return recipe.model.type == "vae" and recipe.model.config.get("objective", "elbo") == objective
    return applies


def _is_vae(recipe: Recipe) -> bool:
    return recipe.model.type == "vae"


SETTINGS = (
    SettingSpec("model.beta", "beta (weight of the KL term)", float,
                "Weight of the KL term: 1 is the ELBO; above 1 a beta-VAE (smoother, blurrier), below 1 sharper.",
                _model_reads("beta")),
    SettingSpec("model.latent_dim", "Latent size", int, "Number of latent dimensions (the size of z).",
                _model_reads("latent_dim")),
    SettingSpec("model.num_codes", "Codebook size", int, "Number of codes K in the codebook.",
                _model_reads("num_codes")),
    SettingSpec("model.iwae_samples", "k of IWAE (training)", int,
                "Importance samples per image in the IWAE training bound (k = 1 is the ELBO).",
                _vae_with_objective("iwae")),
    SettingSpec("evaluation.iwae_k", "k of IWAE (evaluation)", int,
                "Importance samples per image of the IWAE bound measured at the end of the run (0: skip it).",
                _is_vae),
    SettingSpec("training.kl_warmup_steps", "KL warm-up (steps)", int,
                "The KL weight rises linearly from 0 to beta over this many steps (0: off).", _is_vae),
    SettingSpec("model.free_bits", "Free bits (nats per dimension)", float,
                "Each latent dimension's KL counts at least this many nats in the loss (0: off).",
                _vae_with_objective("elbo")),
)
SPECS = {spec.key: spec for spec in SETTINGS}


@dataclasses.dataclass(frozen=True)
class RecipeSetting:
    key: str
    label: str
    value: float | int
    help: str  # the recipe's comment on the key, else a general sentence
    kind: str  # "int" or "float"
    minimum: float
    maximum: float


# -- the comments -----------------------------------------------------------------------------------
_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=(.*)$")


def _comment_after_value(rest: str) -> str:
    """The comment of ``value  # comment``: the first # outside a quoted string ("" or '')."""
    quote = None
    for index, character in enumerate(rest):
        if quote:
            if character == "\\" and quote == '"':
                continue
            if character == quote and (quote == "'" or index == 0 or rest[index - 1] != "\\"):
                quote = None
        elif character in "\"'":
            quote = character
        elif character == "#":
            return rest[index + 1:].strip()
    return ""


def recipe_comments(text: str) -> dict[str, str]:
    """``"table.key" -> the comment after its value`` for every key of a recipe's TOML text that has one."""
    comments: dict[str, str] = {}
    table = ""
    for line in text.splitlines():
        header = _TABLE.match(line)
        if header and not line.lstrip().startswith("[["):
            table = header.group(1)
            continue
        assignment = _KEY.match(line)
        if assignment:
            comment = _comment_after_value(assignment.group(2))
            if comment:
                comments[f"{table}.{assignment.group(1)}" if table else assignment.group(1)] = comment
    return comments


# -- values ------------------------------------------------------------------------------------------
def _current(recipe: Recipe, key: str) -> Any:
    table, name = key.split(".", 1)
    if table == "model":
        if name in recipe.model.config:
            return recipe.model.config[name]
        field = next(item for item in dataclasses.fields(model_config_class(recipe.model.type)) if item.name == name)
        return field.default
    return getattr(getattr(recipe, table), name)


def recipe_settings(recipe: Recipe, text: str | None = None) -> list[RecipeSetting]:
    """The main settings ``recipe`` has, with its values and help (``text``: the recipe file, for its comments;
    by default read from ``recipe.path``)."""
    if text is None:
        with open(recipe.path, encoding="utf-8") as stream:
            text = stream.read()
    comments = recipe_comments(text)
    settings = []
    for spec in SETTINGS:
        if not spec.applies(recipe):
            continue
        minimum, maximum = RECIPE_SETTINGS[spec.key]
        settings.append(RecipeSetting(spec.key, spec.label, spec.kind(_current(recipe, spec.key)),
                                      comments.get(spec.key, spec.general_help), spec.kind.__name__, minimum, maximum))
    return settings


def _checked(recipe: Recipe, key: str, value: Any, caps: Mapping[str, float]) -> int | float:
    spec = SPECS.get(key)
    if spec is None:
        raise RecipeError(f"{key} is not a setting the Train tab edits; choose one of {sorted(SPECS)}")
    if not spec.applies(recipe):
        raise RecipeError(f"the recipe {recipe.name} has no {spec.label.split(' (')[0]} setting ({key}): its model "
                          f"({recipe.model.type}) does not use one")
    if spec.kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)  # number boxes send floats
    value = check_value(value, spec.kind, key, recipe.name)
    minimum, maximum = RECIPE_SETTINGS[key]
    if key in caps:
        maximum = min(maximum, caps[key])
    if not minimum <= value <= maximum:
        raise RecipeError(f"{spec.label} ({key}) must lie between {minimum:g} and {maximum:g}, got {value:g}")
    return value


def apply_settings(recipe: Recipe, values: Mapping[str, Any], caps: Mapping[str, float] | None = None) -> Recipe:
    """``recipe`` with the main settings in ``values`` (key -> number) changed, each checked (a RecipeError says
    which and why). ``caps`` (key -> maximum, a hosted studio's) also lowers the recipe's own values above them.
    The model's own rules (e.g. free bits need the ELBO) are checked here too, not at the start of training."""
    caps = dict(caps or {})
    checked = {key: _checked(recipe, key, value, caps) for key, value in values.items()}
    for key, maximum in caps.items():
        if key not in checked and key in SPECS and SPECS[key].applies(recipe) and _current(recipe, key) > maximum:
            checked[key] = SPECS[key].kind(maximum)
    model = dict(recipe.model.config)
    sections = {name: getattr(recipe, name) for name in ("training", "evaluation")}
    for key, value in checked.items():
        table, name = key.split(".", 1)
        if table == "model":
            model[name] = value
        else:
            sections[table] = dataclasses.replace(sections[table], **{name: value})
    _check_model(recipe, model)
    overrides = [*recipe.overrides, *(f"{key}={value!r}" for key, value in checked.items())]
    return dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, config=model), overrides=overrides,
                               **sections)


def _check_model(recipe: Recipe, model: dict[str, Any]) -> None:
    """The model config's own checks on the new values (fields the data fills in keep their defaults here; a
    recipe that only builds with its data is not judged)."""
    config_class = model_config_class(recipe.model.type)
    try:
        config_class(**recipe.model.config)
    except (TypeError, ValueError):
        return
    try:
        config_class(**model)
    except (TypeError, ValueError) as error:
        raise RecipeError(f"these settings do not fit the recipe {recipe.name}: {error}") from None
