"""A bundle: several model folders that together make one pipeline.

On disk a bundle is a folder holding ``bundle.json``::

    {"kind": "text_to_image", "components": {"vqvae": "vqvae", "prior": "prior", "scorer": "scorer"},
     "options": {"neutral_prompt": "a shape"}}

where each component names a subfolder that is an ordinary model folder
(``config.json`` + ``model.safetensors``) and the optional ``options`` are pipeline settings
(``neutral_prompt``: what an empty prompt samples from). Nothing is unpickled.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import torch

from vaestudio.checkpoints.model_folder import CheckpointError, load_model, save_model
from vaestudio.common.files import atomic_write_text
from vaestudio.models import StudioModel

BUNDLE_FILE = "bundle.json"


@dataclasses.dataclass
class Bundle:
    """Loaded components of a bundle, by role ("vqvae", "prior", "scorer", ...)."""

    kind: str
    components: dict[str, StudioModel]
    directory: str | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __getitem__(self, role: str) -> StudioModel:
        if role not in self.components:
            raise KeyError(f"this {self.kind} bundle has no {role!r} component; it has {sorted(self.components)}")
        return self.components[role]

    def get(self, role: str) -> StudioModel | None:
        return self.components.get(role)

    def to(self, device: str | torch.device) -> Bundle:
        for model in self.components.values():
            model.to(device)
        return self

    def eval(self) -> Bundle:
        for model in self.components.values():
            model.eval()
        return self


def is_bundle(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, BUNDLE_FILE))


def read_bundle_description(directory: str) -> dict[str, Any]:
    path = os.path.join(directory, BUNDLE_FILE)
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
        kind = str(document["kind"])
        components = {str(role): str(folder) for role, folder in dict(document["components"]).items()}
        options = dict(document.get("options", {}))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(
            f"{path} is not a valid bundle description ({error}); it needs "
            '{"kind": ..., "components": {"role": "subfolder", ...}}'
        ) from error
    return {"kind": kind, "components": components, "options": options}


def load_bundle(directory: str, device: str | torch.device = "cpu") -> Bundle:
    """Loads every component folder named in ``bundle.json``, in eval mode."""
    description = read_bundle_description(directory)
    components: dict[str, StudioModel] = {}
    for role, folder in description["components"].items():
        component_directory = os.path.normpath(os.path.join(directory, folder))
        if not component_directory.startswith(os.path.normpath(directory) + os.sep):
            raise CheckpointError(f"{directory}: component {role!r} points outside the bundle ({folder!r})")
        components[role] = load_model(component_directory, map_location=device).eval()
        components[role].name_or_path = component_directory  # its recipe.toml names its training data
    return Bundle(description["kind"], components, directory, description["options"])


def save_bundle(
    directory: str, kind: str, components: dict[str, StudioModel], options: dict[str, Any] | None = None
) -> None:
    """Writes each component to ``directory/ROLE`` and the ``bundle.json`` naming them."""
    os.makedirs(directory, exist_ok=True)
    for role, model in components.items():
        save_model(model, os.path.join(directory, role))
    document = {"kind": kind, "components": {role: role for role in components}, "options": dict(options or {})}
    atomic_write_text(os.path.join(directory, BUNDLE_FILE), json.dumps(document, indent=2, sort_keys=True) + "\n")
