"""Recipes: one small TOML file says what to train, on what, and how.

A recipe has four tables::

    [model]              # type = a registered model type; every other key is a field of its config
    type = "vqvae"       # (priors also name their frozen VQ-VAE: vqvae = "path or shipped name")
    num_codes = 128

    [data]               # source = a spec for vaestudio.data.open_source
    source = "shapes"
    image_size = 32
    [data.options]       # passed to open_source as keyword arguments
    num_images = 4096

    [training]           # see TrainingSection for every key and its default
    steps = 2000
    batch_size = 64

    [evaluation]         # the quick evaluation written to metrics.json at the end
    limit = 512

``load_recipe(path, overrides)`` reads, applies ``--set key.sub=value`` overrides
(values are TOML: ``3``, ``2e-4``, ``true``, ``"text"``, ``[1, 2]``; a bare word
is taken as a string) and checks every key and type, naming the key and the
file in the error.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from typing import Any

from vaestudio.checkpoints.model_folder import nest_text_encoder
from vaestudio.models import MODEL_TYPES
from vaestudio.worlds import LAYOUTS


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file and the key."""


@dataclasses.dataclass
class ModelSection:
    type: str
    config: dict[str, Any]  # fields of the model type's config dataclass, checked against it
    vqvae: str | None = None  # priors: the frozen VQ-VAE whose codes they model (path or shipped name)


@dataclasses.dataclass
class DataSection:
    source: str = "shapes"  # "shapes", "digits", "emoji", "folder:PATH", "idx:PATH", "hf:NAME"
    split: str = "train"
    image_size: int | None = None  # None: the source's own size
    # keyword arguments for open_source; every source takes binarize = "static" | "dynamic" (a fresh
    # Bernoulli draw per epoch, as in the IWAE paper) and binarize_seed
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TrainingSection:
    steps: int | None = None  # exactly one of steps and epochs
    epochs: int | None = None
    batch_size: int = 64  # global: split evenly over the processes of a distributed run
    learning_rate: float = 2e-4
    optimizer: str = "adamw"  # "adamw" | "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    lr_schedule: str = "constant"  # "constant" | "cosine" | "linear" | "stages"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0  # cosine / linear: the last learning rate as a fraction of learning_rate
    stage_count: int = 8  # "stages": stage i lasts stage_length_ratio**i units, at lr * stage_lr_ratio**i
    stage_length_ratio: float = 3.0
    stage_lr_ratio: float = 0.7196856730011519  # 10 ** (-1 / 7), the IWAE paper's decay
    grad_clip: float = 0.0  # max global gradient norm; 0 = off
    # KL warm-up (Bowman et al. 2016; Sonderby et al. 2016): the KL weight rises linearly from 0 to the model's
    # beta over this many steps, so the decoder learns to use the latent before the KL can switch it off; 0 = off.
    # Models with a KL term only (VAE; dVAE: its kl_weight); free bits are the model's own setting (model.free_bits)
    kl_warmup_steps: int = 0
    seed: int = 0
    precision: str = "fp32"  # "fp32" | "bf16" (autocast)
    device: str = "auto"  # "auto" (CUDA when there is one) | "cpu" | "cuda"
    log_every: int = 50
    sample_every: int = 500  # sample grids and the loss curve (PNG); 0 = only at the end
    checkpoint_every: int = 1000  # 0 = only at the end
    sample_count: int = 16  # images per grid
    num_workers: int = 0
    num_threads: int = 0  # torch CPU threads during the run; 0 = torch's default (small models: try 1)
    code_cache_limit: int = 200_000  # priors: cache the VQ-VAE's codes when the split has at most this many images
    stop_after: int | None = None  # stop (and save) after this many steps, as if killed: for tests and drills
    # fine-tuning: start from this model's weights (a model folder or shipped name whose config equals the recipe's)
    initialize_from: str | None = None
    # fine-tuning only part of a model: these submodules (e.g. ["decoder"]) learn; the rest keeps its weights
    # and stays in eval mode (a VQ-VAE's codebook and encoder, so a prior over its codes stays valid)
    train_only: list[str] | None = None
    # text priors: train on the regional conditions a layout (e.g. "shapes") builds at sampling time, for this
    # fraction of the captions it can place (vaestudio/training/regional_captions.py)
    layout: str | None = None
    layout_probability: float = 0.5


@dataclasses.dataclass
class EvaluationSection:
    enabled: bool = True
    split: str = "test"
    limit: int | None = 1024  # images; None = the whole split
    iwae_k: int = 100  # importance samples for the IWAE bound of VAEs
    batch_size: int = 64


@dataclasses.dataclass
class Recipe:
    model: ModelSection
    data: DataSection
    training: TrainingSection
    evaluation: EvaluationSection
    path: str = "<recipe>"
    overrides: list[str] = dataclasses.field(default_factory=list)

    @property
    def name(self) -> str:
        import os

        return os.path.splitext(os.path.basename(self.path))[0]

    def to_dict(self) -> dict[str, Any]:
        model = {"type": self.model.type, **self.model.config}
        if self.model.vqvae is not None:
            model["vqvae"] = self.model.vqvae
        return {
            "model": model,
            "data": _without_none(dataclasses.asdict(self.data)),
            "training": _without_none(dataclasses.asdict(self.training)),
            "evaluation": _without_none(dataclasses.asdict(self.evaluation)),
        }

    def to_toml(self) -> str:
        """The resolved recipe (overrides applied) as TOML: training it again reproduces the run."""
        return dump_toml(self.to_dict())


SECTIONS = {"data": DataSection, "training": TrainingSection, "evaluation": EvaluationSection}
MODEL_RESERVED_KEYS = ("type", "vqvae")


# -- loading ----------------------------------------------------------------------------------
def load_recipe(path: str, overrides: typing.Sequence[str] = ()) -> Recipe:
    """Reads a recipe file, applies ``key.sub=value`` overrides and checks everything."""
    try:
        with open(path, "rb") as stream:
            document = tomllib.load(stream)
    except FileNotFoundError as error:
        raise RecipeError(f"no recipe file at {path}") from error
    except tomllib.TOMLDecodeError as error:
        raise RecipeError(f"{path} is not valid TOML: {error}") from error
    for override in overrides:
        keys, value = parse_override(override, path)
        _set_nested(document, keys, value, override, path)
    return recipe_from_dict(document, path, list(overrides))


def parse_override(text: str, path: str = "<recipe>") -> tuple[list[str], Any]:
    """``"training.steps=100"`` -> (["training", "steps"], 100). Values are TOML; bare words are strings."""
    if "=" not in text:
        raise RecipeError(f"--set {text!r}: expected key.sub=value (for {path})")
    key, raw = (part.strip() for part in text.split("=", 1))
    keys = key.split(".")
    if not key or any(not part for part in keys):
        raise RecipeError(f"--set {text!r}: {key!r} is not a dotted key like training.steps (for {path})")
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word: data.source=digits
    return keys, value


def _set_nested(document: dict, keys: list[str], value: Any, override: str, path: str) -> None:
    table = document
    for index, key in enumerate(keys[:-1]):
        table = table.setdefault(key, {})
        if not isinstance(table, dict):
            raise RecipeError(f"--set {override!r}: {'.'.join(keys[: index + 1])} is not a table in {path}")
    table[keys[-1]] = value


def recipe_from_dict(document: dict[str, Any], path: str = "<recipe>", overrides: list[str] | None = None) -> Recipe:
    unknown = sorted(set(document) - {"model", *SECTIONS})
    if unknown:
        raise RecipeError(f"{path}: unknown table(s) {unknown}; a recipe has [model], [data], [training], [evaluation]")
    sections = {name: _build_section(cls, document.get(name, {}), name, path) for name, cls in SECTIONS.items()}
    recipe = Recipe(
        model=_build_model_section(document.get("model"), path), path=path, overrides=list(overrides or []),
        **sections,
    )
    _check_training(recipe.training, path)
    return recipe


def _build_model_section(table: Any, path: str) -> ModelSection:
    if not isinstance(table, dict) or "type" not in table:
        raise RecipeError(f"{path}: [model] needs type = \"...\" (one of {known_model_types()})")
    model_type = table["type"]
    if model_type not in known_model_types():
        raise RecipeError(f"{path}: model.type = {model_type!r} is not a model type; known: {known_model_types()}")
    vqvae = table.get("vqvae")
    if vqvae is not None and not isinstance(vqvae, str):
        raise RecipeError(f"{path}: model.vqvae must be a string (a path or a shipped name), got {vqvae!r}")
    config = {key: value for key, value in table.items() if key not in MODEL_RESERVED_KEYS}
    config = nest_text_encoder(model_type, config)  # recipes written before the nested text encoder still read
    config_class = model_config_class(model_type)
    hints = typing.get_type_hints(config_class)
    known = {field.name for field in dataclasses.fields(config_class)}
    for key in sorted(config):
        if key not in known:
            raise RecipeError(
                f"{path}: model.{key} is not a field of {config_class.__name__}; known: {sorted(known)}"
            )
        config[key] = check_value(config[key], hints[key], f"model.{key}", path)
    return ModelSection(type=model_type, config=config, vqvae=vqvae)


def _build_section(cls: type, table: Any, name: str, path: str) -> Any:
    if not isinstance(table, dict):
        raise RecipeError(f"{path}: {name} must be a table ([{name}]), got {table!r}")
    hints = typing.get_type_hints(cls)
    known = {field.name for field in dataclasses.fields(cls)}
    values = {}
    for key, value in table.items():
        if key not in known:
            raise RecipeError(f"{path}: {name}.{key} is not a recipe key; [{name}] knows {sorted(known)}")
        values[key] = check_value(value, hints[key], f"{name}.{key}", path)
    return cls(**values)


def _check_training(training: TrainingSection, path: str) -> None:
    def fail(message: str) -> None:
        raise RecipeError(f"{path}: {message}")

    if (training.steps is None) == (training.epochs is None):
        fail("[training] needs exactly one of steps and epochs")
    if (training.steps or training.epochs or 0) <= 0 or training.batch_size <= 0:
        fail("training.steps/epochs and training.batch_size must be positive")
    choices = {
        "optimizer": ("adamw", "adam"),
        "lr_schedule": ("constant", "cosine", "linear", "stages"),
        "precision": ("fp32", "bf16"),
        "device": ("auto", "cpu", "cuda"),
    }
    for key, allowed in choices.items():
        if getattr(training, key) not in allowed:
            fail(f"training.{key} = {getattr(training, key)!r}; choose one of {list(allowed)}")
    if training.learning_rate <= 0:
        fail("training.learning_rate must be positive")
    if training.train_only is not None:
        if not training.train_only:
            fail("training.train_only is empty; name the submodules to train (e.g. [\"decoder\"]) or leave it out")
        if training.initialize_from is None:
            fail("training.train_only freezes the rest of a trained model; set training.initialize_from to it")
    if training.layout is not None:
        if training.layout not in LAYOUTS:
            fail(f"training.layout = {training.layout!r}; choose one of {sorted(LAYOUTS)} or leave it out")
        if not 0.0 < training.layout_probability <= 1.0:
            fail(f"training.layout_probability = {training.layout_probability}; it is a fraction in (0, 1]")


# -- type checking ----------------------------------------------------------------------------
def check_value(value: Any, annotation: Any, key: str, path: str) -> Any:
    """``value`` converted to ``annotation`` (lists to tuples, ints to floats), or a RecipeError naming the key."""
    converted = _convert(value, annotation)
    if converted is _MISMATCH:
        raise RecipeError(
            f"{path}: {key} = {value!r} has the wrong type: expected {_describe(annotation)}, "
            f"got {type(value).__name__}"
        )
    return converted


_MISMATCH = object()


def _convert(value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for option in arguments:
            converted = _convert(value, option)
            if converted is not _MISMATCH:
                return converted
        return _MISMATCH
    if annotation is type(None):
        return None if value is None else _MISMATCH
    if annotation is bool:
        return value if isinstance(value, bool) else _MISMATCH
    if annotation is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _MISMATCH
    if annotation is float:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else _MISMATCH
    if annotation is str:
        return value if isinstance(value, str) else _MISMATCH
    if typing.get_origin(annotation) is typing.Literal:
        return value if value in arguments else _MISMATCH
    if origin in (list, tuple, typing.Sequence) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return _MISMATCH
        if origin is tuple and arguments and arguments[-1] is not Ellipsis:
            if len(arguments) != len(value):
                return _MISMATCH
            items = [_convert(item, argument) for item, argument in zip(value, arguments)]
        else:
            item_type = arguments[0] if arguments else Any
            items = [_convert(item, item_type) for item in value]
        if any(item is _MISMATCH for item in items):
            return _MISMATCH
        return tuple(items) if (origin is tuple or annotation is tuple) else list(items)
    if origin is dict or annotation is dict:
        return dict(value) if isinstance(value, dict) else _MISMATCH
    if dataclasses.is_dataclass(annotation) and isinstance(value, dict):  # a nested config table
        hints = typing.get_type_hints(annotation)
        if set(value) - set(hints):
            return _MISMATCH
        fields = {key: _convert(item, hints[key]) for key, item in value.items()}
        return _MISMATCH if any(item is _MISMATCH for item in fields.values()) else fields
    if isinstance(annotation, type):
        return value if isinstance(value, annotation) else _MISMATCH
    return value  # an annotation this checker does not understand: the config class checks it


def _describe(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


# -- model types --------------------------------------------------------------------------------
def known_model_types() -> list[str]:
    return sorted(MODEL_TYPES)


def model_config_class(model_type: str) -> type:
    return MODEL_TYPES[model_type].config_class


# -- writing ----------------------------------------------------------------------------------
def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} as a TOML value")


def dump_toml(document: dict[str, Any]) -> str:
    """A minimal TOML writer for recipes: tables of scalars and lists, and nested tables."""
    return "\n\n".join(_toml_blocks(document, "")) + "\n"


def _toml_blocks(table: dict[str, Any], name: str) -> list[str]:
    lines = [f"{key} = {_toml_value(value)}" for key, value in table.items() if not isinstance(value, dict)]
    blocks = ["\n".join(([f"[{name}]"] if name else []) + lines)] if lines else []
    for key, value in table.items():
        if isinstance(value, dict):
            blocks += _toml_blocks(value, f"{name}.{key}" if name else key)
    return blocks
