"""What every model of the family shares: a typed config, one loss call for training, a registry of
model types. Saving and loading model folders is :mod:`vaestudio.checkpoints`' job."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from torch import nn

from vaestudio.common.batch import Batch

MODEL_TYPES: dict[str, type[StudioModel]] = {}


@dataclasses.dataclass
class TrainingOutput:
    """What ``training_loss`` returns: the scalar to minimise and the numbers worth logging."""

    loss: torch.Tensor  # () scalar
    logs: dict[str, float]


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

    def config_dict(self) -> dict[str, Any]:
        return {"model_type": self.model_type, "config": dataclasses.asdict(self.config)}


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
