"""A model folder: ``config.json`` beside ``model.safetensors`` (and, for shipped models, ``README.md``).

``config.json`` (format 1)::

    {"format_version": 1, "model_type": "vqvae", "config": {...the model's config dataclass...}}

Format 1 nests the text encoder's settings of every model that reads text (VAE, PixelCNN prior, scorer)
as one ``text_encoder`` table (:class:`vaestudio.models.text.TextEncoderConfig`). A folder written before
format versions existed (no ``format_version``) is format 0, with those settings spelled flat and in two
ways; it still loads: :func:`upgrade_config` turns any older form into the current one. The weights are
read strictly from safetensors; nothing is ever unpickled.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from vaestudio.common.files import atomic_write, atomic_write_text
from vaestudio.models import MODEL_TYPES, StudioModel

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be loaded; the message says what is wrong and what to do."""


def config_document(model: StudioModel) -> dict[str, Any]:
    """What ``config.json`` holds for ``model``."""
    return {"format_version": FORMAT_VERSION, "model_type": model.model_type,
            "config": dataclasses.asdict(model.config)}


def save_model(model: StudioModel, directory: str) -> None:
    """Writes ``model.safetensors`` and ``config.json`` (each atomically) into ``directory``."""
    os.makedirs(directory, exist_ok=True)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()}
    atomic_write(os.path.join(directory, WEIGHTS_FILE), lambda path: save_file(state, path))
    atomic_write_text(os.path.join(directory, CONFIG_FILE),
                      json.dumps(config_document(model), indent=2, sort_keys=True) + "\n")


# format 0's flat text-encoder fields, per model type: old name -> TextEncoderConfig field
FLAT_TEXT_FIELDS = {
    "vae": {"vocabulary": "vocabulary", "text_dim": "embedding_dim", "text_layers": "num_layers",
            "text_heads": "num_heads", "max_tokens": "max_tokens"},
    "contrastive_scorer": {"vocabulary": "vocabulary", "text_dim": "embedding_dim", "text_layers": "num_layers",
                           "text_heads": "num_heads", "max_tokens": "max_tokens"},
    "pixelcnn_prior": {"text_vocabulary": "vocabulary", "text_embedding_dim": "embedding_dim"},
}
FLAT_TEXT_OPTIONS = "text_options"  # format 0 of the prior: further TextEncoderConfig fields in a table


def nest_text_encoder(model_type: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with format 0's flat text-encoder fields (where there are any) moved into ``text_encoder``;
    values already in the nested form come back unchanged. Also what reads recipes written flat."""
    renames = FLAT_TEXT_FIELDS.get(model_type, {})
    flat = {name: values[name] for name in [*renames, FLAT_TEXT_OPTIONS] if name in values}
    if not flat:
        return dict(values)
    values = {name: value for name, value in values.items() if name not in flat}
    nested = dict(values.get("text_encoder", {}))
    nested.update(dict(flat.pop(FLAT_TEXT_OPTIONS, {})))
    nested.update({renames[name]: value for name, value in flat.items()})
    values["text_encoder"] = nested
    return values


def upgrade_config(model_type: str, values: dict[str, Any], version: int) -> dict[str, Any]:
    """A config of format ``version`` in the current format's form (0 -> 1: the nested text encoder)."""
    if version > FORMAT_VERSION:
        raise CheckpointError(f"config.json has format_version {version}, newer than this vaestudio reads "
                              f"({FORMAT_VERSION}); upgrade vaestudio")
    return nest_text_encoder(model_type, values) if version == 0 else dict(values)


def read_config(directory: str) -> tuple[str, dict[str, Any]]:
    """(model_type, config values in the current format) of the model folder ``directory``."""
    path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isfile(path):
        raise CheckpointError(f"{directory} is not a model folder: it has no {CONFIG_FILE}")
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
        version = document.get("format_version", 0)
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise ValueError(f"format_version must be a whole number, got {version!r}")
        model_type, values = str(document["model_type"]), dict(document["config"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointError(f"{path} is not a valid model config ({error}); re-save the model") from error
    return model_type, upgrade_config(model_type, values, version)


def config_from_values(model_class: type[StudioModel], values: dict[str, Any]) -> Any:
    """``model_class``'s config dataclass from ``values``, or a CheckpointError naming what is wrong."""
    config_class = model_class.config_class
    fields = {field.name for field in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise CheckpointError(
            f"config.json has fields {unknown} that {config_class.__name__} does not know; "
            "was it written by a newer vaestudio?"
        )
    try:
        return config_class(**values)
    except (TypeError, ValueError) as error:  # a missing field, or a value the config rejects
        raise CheckpointError(f"config.json does not make a valid {config_class.__name__}: {error}") from error


def load_model(directory: str, map_location: str | torch.device = "cpu",
               expected: type[StudioModel] = StudioModel) -> StudioModel:
    """Builds the model named in ``config.json`` and loads ``model.safetensors`` strictly; ``expected``:
    the class the folder must hold (any model by default)."""
    model_type, values = read_config(directory)
    if model_type not in MODEL_TYPES:
        raise CheckpointError(f"{directory}: unknown model_type {model_type!r}; known: {sorted(MODEL_TYPES)}")
    model_class = MODEL_TYPES[model_type]
    if not issubclass(model_class, expected):
        raise CheckpointError(f"{directory} holds a {model_class.__name__}, not a {expected.__name__}")
    model = model_class(config_from_values(model_class, values))
    weights = os.path.join(directory, WEIGHTS_FILE)
    if not os.path.isfile(weights):
        raise CheckpointError(f"{directory} has no {WEIGHTS_FILE} (weights are only read from safetensors)")
    try:
        state = load_file(weights, device=str(map_location))
    except Exception as error:
        raise CheckpointError(
            f"{weights} is not a readable safetensors file ({error}); pickled .pt/.bin files are never loaded"
        ) from error
    expected_state = model.state_dict()
    missing = sorted(set(expected_state) - set(state))
    unexpected = sorted(set(state) - set(expected_state))
    wrong_shape = sorted(n for n in set(state) & set(expected_state)
                         if tuple(state[n].shape) != tuple(expected_state[n].shape))
    if missing or unexpected or wrong_shape:
        raise CheckpointError(
            f"{directory}: weights do not match config.json (missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"wrong shape {wrong_shape[:5]}); config and weights must come from the same save"
        )
    model.load_state_dict(state, strict=True)
    return model.to(map_location)
