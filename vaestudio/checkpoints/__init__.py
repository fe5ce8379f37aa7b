"""Checkpoints on disk: a model folder (``config.json`` with its format version, ``model.safetensors``),
a bundle folder (``bundle.json`` naming component model folders). Nothing is ever unpickled."""

from vaestudio.checkpoints.bundle import Bundle, is_bundle, load_bundle, read_bundle_description, save_bundle
from vaestudio.checkpoints.model_folder import (
    FORMAT_VERSION,
    CheckpointError,
    load_model,
    read_config,
    save_model,
)

__all__ = [
    "FORMAT_VERSION",
    "Bundle",
    "CheckpointError",
    "is_bundle",
    "load_bundle",
    "load_model",
    "read_bundle_description",
    "read_config",
    "save_bundle",
    "save_model",
]
