"""What every model of the family shares: a typed config, one loss call for training, and checkpoints.

A checkpoint is a folder: ``config.json`` (``{"model_type": ..., "config": {...}}``),
``model.safetensors`` (strictly loaded) and, for shipped models, ``README.md``.
Nothing is ever unpickled.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from typing import Any, ClassVar

import torch
from safetensors.torch import load_file, save_file
from torch import nn

MODEL_TYPES: dict[str, type[StudioModel]] = {}


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be loaded; the message says what is wrong and what to do."""


@dataclasses.dataclass
class Batch:
    """One batch from any data source.

    images: (B, C, H, W) float in [0, 1]; labels: (B,) int64 or None; captions: B strings or None;
    codes: (B, h, w) int64 code maps of a VQ model, filled in by the trainer for prior training.
    """

    images: torch.Tensor
    labels: torch.Tensor | None = None
    captions: list[str] | None = None
    codes: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        labels = self.labels.to(device) if self.labels is not None else None
        codes = self.codes.to(device) if self.codes is not None else None
        return Batch(self.images.to(device, non_blocking=True), labels, self.captions, codes)


@dataclasses.dataclass
class TrainingOutput:
    """What ``training_loss`` returns: the scalar to minimise and the numbers worth logging."""

    loss: torch.Tensor  # () scalar
    logs: dict[str, float]


def _atomic_write(path: str, write) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def register_model(cls: type[StudioModel]) -> type[StudioModel]:
    """Class decorator: makes the model loadable by its ``model_type`` name."""
    MODEL_TYPES[cls.model_type] = cls
    return cls


class StudioModel(nn.Module):
    """Base class: subclasses set ``model_type`` and ``config_class`` and implement ``training_loss``."""

    model_type: ClassVar[str] = ""
    config_class: ClassVar[type] = object

    def __init__(self, config: Any) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config
        self.frozen_modules: tuple[str, ...] = ()  # names kept in eval mode by train() (see freeze_all_but)

    def freeze_all_but(self, trainable: list[str]) -> None:
        """Partial fine-tuning: only the named submodules (dotted names, e.g. "decoder") keep gradients; every
        other top-level part stops learning and stays in eval mode (no EMA codebook updates, no k-means)."""
        names = dict(self.named_modules())
        unknown = [name for name in trainable if not name or name not in names]
        if unknown:
            parts = sorted(name for name, _ in self.named_children())
            raise ValueError(f"no submodule named {unknown} in {type(self).__name__}; its parts are {parts}")
        self.requires_grad_(False)
        for name in trainable:
            names[name].requires_grad_(True)
        self.frozen_modules = tuple(  # top-level parts that neither are nor hold a trained submodule
            name for name, _ in self.named_children()
            if not any(kept == name or kept.startswith(name + ".") for kept in trainable)
        )
        self.train(self.training)

    def train(self, mode: bool = True) -> StudioModel:
        super().train(mode)
        for name in getattr(self, "frozen_modules", ()):
            self.get_submodule(name).eval()
        return self

    def training_loss(self, batch: Batch) -> TrainingOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_train_step_end(self, step: int) -> None:
        """Hook after each optimizer step (temperature annealing, dead-code revival...)."""

    # -- checkpoints ----------------------------------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        return {"model_type": self.model_type, "config": dataclasses.asdict(self.config)}

    def save_pretrained(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        text = json.dumps(self.config_dict(), indent=2, sort_keys=True)

        def write_config(path: str) -> None:
            with open(path, "w", encoding="utf-8") as stream:
                stream.write(text + "\n")

        state = {name: tensor.detach().contiguous().cpu() for name, tensor in self.state_dict().items()}
        _atomic_write(os.path.join(directory, "model.safetensors"), lambda path: save_file(state, path))
        _atomic_write(os.path.join(directory, "config.json"), write_config)

    @classmethod
    def config_from_dict(cls, values: dict[str, Any]) -> Any:
        fields = {field.name for field in dataclasses.fields(cls.config_class)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise CheckpointError(
                f"config.json has fields {unknown} that {cls.config_class.__name__} does not know; "
                "was it written by a newer vaestudio?"
            )
        try:
            return cls.config_class(**values)
        except (TypeError, ValueError) as error:  # a missing field, or a value the config rejects
            raise CheckpointError(f"config.json does not make a valid {cls.config_class.__name__}: {error}") from error

    @classmethod
    def from_pretrained(cls, directory: str, map_location: str | torch.device = "cpu") -> StudioModel:
        model = load_model(directory, map_location)
        if cls is not StudioModel and not isinstance(model, cls):
            raise CheckpointError(f"{directory} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


class CodeMapModel(StudioModel):
    """A StudioModel that encodes images to maps of discrete codes (VQ-VAE, dVAE) and decodes them back."""

    @property
    def code_map_shape(self) -> tuple[int, int]:
        """(h, w) of the bottom (or only) code map: the one a PixelCNN prior models."""
        side = self.config.image_size // self.config.downsample_factor
        return side, side

    def encode_codes(self, images: torch.Tensor) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode_codes(self, codes: Any) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """images -> (argmax) codes -> images (B, C, H, W) in [0, 1]."""
        return self.decode_codes(self.encode_codes(images))


def read_config(directory: str) -> tuple[str, dict[str, Any]]:
    path = os.path.join(directory, "config.json")
    if not os.path.isfile(path):
        raise CheckpointError(f"{directory} is not a model folder: it has no config.json")
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
        return str(document["model_type"]), dict(document["config"])
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path} is not a valid model config ({error}); re-save the model") from error


def load_model(directory: str, map_location: str | torch.device = "cpu") -> StudioModel:
    """Builds the model named in ``config.json`` and loads ``model.safetensors`` strictly."""
    model_type, values = read_config(directory)
    if model_type not in MODEL_TYPES:
        import vaestudio.models  # noqa: F401  (registers every model type)
    if model_type not in MODEL_TYPES:
        raise CheckpointError(f"{directory}: unknown model_type {model_type!r}; known: {sorted(MODEL_TYPES)}")
    cls = MODEL_TYPES[model_type]
    model = cls(cls.config_from_dict(values))
    weights = os.path.join(directory, "model.safetensors")
    if not os.path.isfile(weights):
        raise CheckpointError(f"{directory} has no model.safetensors (weights are only read from safetensors)")
    try:
        state = load_file(weights, device=str(map_location))
    except Exception as error:
        raise CheckpointError(
            f"{weights} is not a readable safetensors file ({error}); pickled .pt/.bin files are never loaded"
        ) from error
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(n for n in set(state) & set(expected) if tuple(state[n].shape) != tuple(expected[n].shape))
    if missing or unexpected or wrong_shape:
        raise CheckpointError(
            f"{directory}: weights do not match config.json (missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"wrong shape {wrong_shape[:5]}); config and weights must come from the same save"
        )
    model.load_state_dict(state, strict=True)
    return model.to(map_location)
