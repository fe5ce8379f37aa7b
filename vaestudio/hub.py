"""Finding and loading models: the shipped zoo in ``pretrained/``, local folders, the Hugging Face Hub.

``load(name_or_path)`` tries, in order:

1. a shipped name: ``pretrained/NAME`` (``VAESTUDIO_PRETRAINED`` overrides the folder);
2. a local path to a model folder or a bundle folder;
3. a Hugging Face Hub id (``owner/name``), downloaded with ``huggingface_hub`` when it is
   installed and the network is allowed (``HF_HUB_OFFLINE``/``VAESTUDIO_OFFLINE`` unset).

A plain model folder loads as its model; a bundle folder (``bundle.json``) loads as a
:class:`~vaestudio.checkpoints.Bundle` of its components.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib

import torch

from vaestudio.checkpoints import (
    Bundle,
    CheckpointError,
    is_bundle,
    load_bundle,
    load_model,
    read_bundle_description,
    read_config,
)
from vaestudio.models.base import StudioModel

REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ModelNotFoundError(FileNotFoundError):
    """No shipped model, local folder or reachable Hub repository has that name."""


KIND_FAMILIES = {
    "text_to_image": "VQ-VAE + text-conditioned PixelCNN prior",
    "class_to_image": "VQ-VAE + class-conditional PixelCNN prior",
    "two_level": "VQ-VAE-2 + top and bottom PixelCNN priors",
    "code_prior": "dVAE or VQ-VAE + unconditional PixelCNN prior over its codes",
    "vae": "VAE",
    "ae": "autoencoder",
    "wae": "WAE-MMD",
    "vqvae": "VQ-VAE",
    "photo_vqvae": "VQ-VAE for photos (any size)",
    "photo_editing": "VQ-VAE for photos (any size) + PixelCNN prior",
    "dvae": "dVAE",
    "pixelcnn_prior": "PixelCNN prior",
    "pixelcnn_bottom_prior": "PixelCNN bottom prior (VQ-VAE-2)",
    "contrastive_scorer": "text-image scorer",
}
BUNDLE_KINDS = ("text_to_image", "class_to_image", "code_prior")  # metrics.json of a bundle: one table per component
NOT_HEADLINE = ("seconds", "images", "per_second", "_k", "steps", "epochs")  # counts and timings


@dataclasses.dataclass
class ModelInfo:
    """One entry of :func:`list_models`: what a model folder holds, read without loading its weights."""

    name: str
    kind: str  # bundle kind ("text_to_image") or model type ("vae", "vqvae", ...)
    card: str  # README.md markdown ("" when missing)
    metrics: dict  # metrics.json ({} when missing)
    directory: str
    family: str = ""  # "VAE", "beta-VAE", "conditional VAE", "VQ-VAE-2", ...
    summary: str = ""  # one line: family, latent size or codes, image size
    image_size: int = 0  # pixels on a side (0: not an image model)

    @property
    def headline_metrics(self) -> dict[str, float]:
        """The evaluation numbers of metrics.json (bits/dim, ELBO, IWAE, PSNR...) without counts and timings; a
        bundle's by component or report ("vqvae.psnr", "prior.bits_per_code", "faithfulness.all_attributes")."""
        if "evaluation" in self.metrics or self.kind not in BUNDLE_KINDS:
            return _numbers(self.metrics.get("evaluation", self.metrics))
        return {f"{part}.{key}": value for part, table in self.metrics.items() if isinstance(table, dict)
                for key, value in _numbers(table.get("all_prompts", table)).items()}


def _numbers(table: dict) -> dict[str, float]:
    return {str(key): float(value) for key, value in table.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            and not any(word in str(key) for word in NOT_HEADLINE)}


def family(kind: str, config: dict) -> str:
    """The family a model type (or bundle kind) and its config values make: beta-VAE, VQ-VAE-2, ..."""
    if kind == "vae" and config.get("decoder") == "pixelcnn":
        return "PixelVAE"
    if kind == "vae" and config.get("beta", 1.0) != 1.0:
        return "beta-VAE"
    if kind == "vae" and config.get("condition", "none") not in (None, "none"):
        return "conditional VAE"
    if kind == "vqvae" and config.get("levels", 1) == 2:
        return "VQ-VAE-2"
    return KIND_FAMILIES.get(kind, kind)


def _summary(family_name: str, config: dict) -> str:
    parts = [family_name]
    if config.get("latent_dim"):
        parts.append(f"{config['latent_dim']}-D latent")
    if config.get("num_codes"):
        parts.append(f"{config['num_codes']} codes")
    if config.get("image_size"):
        parts.append(f"{config['image_size']}x{config['image_size']} images")
    return ", ".join(parts)


def pretrained_directory() -> str:
    return os.environ.get("VAESTUDIO_PRETRAINED", os.path.join(REPOSITORY_ROOT, "pretrained"))


def _is_model_folder(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, "config.json")) or is_bundle(directory)


def _load_folder(directory: str, device: str | torch.device) -> StudioModel | Bundle:
    if is_bundle(directory):
        return load_bundle(directory, device)
    model = load_model(directory, map_location=device).eval()
    model.name_or_path = directory  # where it came from: its recipe.toml names its training data
    return model


def _offline() -> bool:
    return any(os.environ.get(flag, "") not in ("", "0") for flag in ("HF_HUB_OFFLINE", "VAESTUDIO_OFFLINE"))


def _download_from_hub(repository_id: str) -> str:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as error:
        raise ModelNotFoundError(
            f"{repository_id!r} is not a shipped model or a local folder, and huggingface_hub is not installed "
            "to fetch it from the Hub (pip install huggingface_hub)"
        ) from error
    if _offline():
        raise ModelNotFoundError(
            f"{repository_id!r} is not a shipped model or a local folder, and Hub downloads are off "
            "(HF_HUB_OFFLINE or VAESTUDIO_OFFLINE is set)"
        )
    try:
        return snapshot_download(repository_id, allow_patterns=["*.json", "*.safetensors", "*.md"])
    except Exception as error:  # network errors, missing repositories, gated repositories
        raise ModelNotFoundError(f"could not download {repository_id!r} from the Hugging Face Hub: {error}") from error


def resolve(name_or_path: str) -> str:
    """The local folder that ``name_or_path`` names (downloading a Hub id if needed)."""
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path).strip():
        raise ModelNotFoundError(f"a model name or path is needed, got {name_or_path!r}; shipped: {shipped_names()}")
    name = str(name_or_path)
    shipped = os.path.join(pretrained_directory(), name)
    if "/" not in name and _is_model_folder(shipped):
        return shipped
    if os.path.isdir(name):
        if not _is_model_folder(name):
            raise CheckpointError(f"{name} is a folder but holds neither config.json nor bundle.json")
        return name
    if HUB_ID.match(name) and not os.path.exists(name):
        return _download_from_hub(name)
    raise ModelNotFoundError(
        f"no model called {name!r}: not a shipped name ({', '.join(shipped_names()) or 'none shipped'}), "
        "not a local folder, not a Hub id (owner/name)"
    )


def load(name_or_path: str, device: str | torch.device = "cpu") -> StudioModel | Bundle:
    """A shipped name, a local folder or a Hub id -> the model (or bundle), in eval mode on ``device``."""
    return _load_folder(resolve(name_or_path), device)


# The flagship models come first, so pickers open on the text-to-image bundle, then the real-data zoo.
FEATURED_ORDER = ("shapes", "mnist-vae-2d", "fashion-vae", "mnist-cvae", "mnist-vqvae", "mnist-vae", "mnist-iwae",
                  "shapes-vae", "emoji", "digits", "digits-cvae")


def shipped_names(root: str | None = None) -> list[str]:
    """The model and bundle folders directly under ``root`` (default: the shipped zoo), flagships first."""
    root = root or pretrained_directory()
    if not os.path.isdir(root):
        return []
    names = [entry for entry in os.listdir(root) if _is_model_folder(os.path.join(root, entry))]
    return sorted(names, key=lambda name: (FEATURED_ORDER.index(name) if name in FEATURED_ORDER else
                                           len(FEATURED_ORDER), name))


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except OSError:
        return ""


def _read_metrics(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as stream:
            return dict(json.load(stream))
    except (OSError, ValueError, TypeError):
        return {}


def describe(name_or_path: str, name: str | None = None) -> ModelInfo:
    """A model's name, kind, family, one-line summary, card and metrics, from its folder (no weights loaded).
    A bundle is described by its kind and its image model (the ``vqvae`` component)."""
    directory = resolve(name_or_path)
    if is_bundle(directory):
        description = read_bundle_description(directory)
        kind = description["kind"]
        image_model = description["components"].get("vqvae")
        image_kind, config = read_config(os.path.join(directory, image_model)) if image_model else ("", {})
    else:
        kind, config = read_config(directory)
        image_kind = kind
    described_family = f"{family(image_kind, config)} + PixelCNN prior" if kind == "code_prior" else family(kind, config)
    return ModelInfo(
        name=name or os.path.basename(os.path.normpath(directory)),
        kind=kind,
        card=_read_text(os.path.join(directory, "README.md")),
        metrics=_read_metrics(os.path.join(directory, "metrics.json")),
        directory=directory,
        family=described_family,
        summary=_summary(described_family, config),
        image_size=int(config.get("image_size", 0) or 0),
    )


def list_models(root: str | None = None) -> list[ModelInfo]:
    """Every model folder under ``root`` (default: the shipped zoo), described (:func:`describe`)."""
    root = root or pretrained_directory()
    return [describe(os.path.join(root, name), name) for name in shipped_names(root)]


def training_data(model_or_directory) -> dict | None:
    """The ``[data]`` table of the recipe a model was trained with (``recipe.toml`` beside its weights):
    {"source": spec, "split": ..., "image_size": ..., "options": {...}}, or None when unknown."""
    directory = model_or_directory if isinstance(model_or_directory, str) else getattr(
        model_or_directory, "name_or_path", None
    )
    path = os.path.join(directory, "recipe.toml") if directory else None
    if not path or not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as stream:
            data = dict(tomllib.load(stream).get("data", {}))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return data if data.get("source") else None
