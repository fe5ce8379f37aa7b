"""From a recipe to the things a run needs: data, model, frozen VQ-VAE (priors), optimizer, schedule."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from vaestudio.checkpoints import load_model
from vaestudio.common.batch import Batch
from vaestudio.data import open_source
from vaestudio.hub import load, resolve
from vaestudio.models.base import MODEL_TYPES, StudioModel
from vaestudio.models.text import build_vocabulary
from vaestudio.training.recipes import Recipe, RecipeError, TrainingSection, model_config_class
from vaestudio.training.regional_captions import RegionalCaptions

# Config fields that the data decides when a recipe leaves them out.
CHANNEL_FIELDS = ("image_channels", "in_channels", "num_channels")


# -- data ---------------------------------------------------------------------------------------
def open_data(recipe: Recipe, split: str | None = None, image_size: int | None = None):
    """The recipe's data source for ``split`` (default: the recipe's own), errors naming the recipe.

    image_size: the size to use when the recipe leaves data.image_size out (a prior's VQ-VAE decides it).
    """
    data = recipe.data
    options = dict(data.options)
    size = data.image_size if data.image_size is not None else image_size
    try:
        source = open_source(data.source, split=split or data.split, image_size=size, **options)
    except (ValueError, KeyError, TypeError, FileNotFoundError, ImportError) as error:
        raise RecipeError(f"{recipe.path}: data.source = {data.source!r} could not be opened: {error}") from error
    return source


def source_captions(source) -> list[str]:
    """Every caption of a source, without rendering images where the source can say them alone (shapes);
    a source with ``vocabulary_captions()`` (emoji) says which captions its vocabulary is built from."""
    if hasattr(source, "vocabulary_captions"):
        return source.vocabulary_captions()
    if hasattr(source, "caption_of") and hasattr(source, "scene"):
        captions = [source.caption_of(index, source.scene(index)) for index in range(len(source))]
    else:
        captions = [source[index].caption for index in range(len(source))]
    return [caption for caption in captions if caption]


# -- model --------------------------------------------------------------------------------------
def complete_model_config(recipe: Recipe, source, vqvae: StudioModel | None,
                          initial: StudioModel | None = None) -> dict[str, Any]:
    """The recipe's model config plus what the data and the VQ-VAE decide (only fields the recipe left out);
    a fine-tune (``initial``) keeps the vocabulary of the model it starts from."""
    values = dict(recipe.model.config)
    fields = {field.name for field in dataclasses.fields(model_config_class(recipe.model.type))}

    def fill(name: str, value: Any) -> None:
        if name in fields and name not in values:
            values[name] = value

    for name in CHANNEL_FIELDS:
        fill(name, source.num_channels)
    fill("image_size", source.image_size)
    if getattr(source, "label_names", None):
        fill("num_classes", len(source.label_names))
    if vqvae is not None:
        fill("num_codes", vqvae.config.num_codes)
        two_levels = getattr(vqvae.config, "levels", 1) == 2
        if two_levels:  # a bottom prior reads the top codes
            fill("top_num_codes", vqvae.config.num_codes)
            fill("top_downsample_factor", vqvae.config.top_downsample_factor)
        if values.get("spatial_condition"):  # a plain prior over a VQ-VAE-2 models its top map
            fill("code_map_size", list(vqvae.code_map_shapes[0] if two_levels else vqvae.code_map_shape))
    if "text_encoder" not in fields:
        return values
    text_encoder = dict(values.get("text_encoder", {}))
    if initial is not None and "vocabulary" not in text_encoder:
        text_encoder["vocabulary"] = list(initial.config.text_encoder.vocabulary)
    # text models (the scorer) and text-conditioned ones (condition = "text") need the captions' vocabulary
    reads_text = values.get("condition") == "text" if "condition" in fields else True
    if reads_text and not text_encoder.get("vocabulary"):
        if not getattr(source, "has_captions", False):
            raise RecipeError(f"{recipe.path}: a text-conditioned model needs a data source with captions")
        text_encoder["vocabulary"] = build_vocabulary(source_captions(source))
    values["text_encoder"] = text_encoder
    return values


def build_model(recipe: Recipe, source, vqvae: StudioModel | None = None) -> StudioModel:
    """The recipe's model; with ``training.initialize_from``, holding that model's weights (a fine-tune)."""
    cls = MODEL_TYPES[recipe.model.type]
    initial = load_initial_model(recipe) if recipe.training.initialize_from else None
    values = complete_model_config(recipe, source, vqvae, initial)
    try:
        config = cls.config_class(**values)
    except (ValueError, TypeError) as error:
        raise RecipeError(f"{recipe.path}: [model] is not a valid {cls.config_class.__name__}: {error}") from error
    model = cls(config)
    if initial is not None:
        initialize_weights(model, initial, recipe)
    if recipe.training.train_only is not None:
        try:
            model.freeze_all_but(recipe.training.train_only)
        except ValueError as error:
            raise RecipeError(f"{recipe.path}: training.train_only: {error}") from error
    return model


def regional_captions(recipe: Recipe, model: StudioModel):
    """``training.layout``'s caption transform for a spatially text-conditioned prior (None without a layout).
    Its draws come from torch's global generator, which checkpoints save and restore per process."""
    if recipe.training.layout is None:
        return None
    config = model.config
    if getattr(config, "condition", None) != "text" or not getattr(config, "spatial_condition", False):
        raise RecipeError(f"{recipe.path}: training.layout trains a text prior with spatial_condition = true on "
                          f"regional conditions; this {recipe.model.type} is not one")
    return RegionalCaptions(recipe.training.layout, recipe.training.layout_probability, tuple(config.code_map_size))


def load_initial_model(recipe: Recipe) -> StudioModel:
    """The model that ``training.initialize_from`` names (a model folder or shipped name)."""
    name = recipe.training.initialize_from
    try:
        return load_model(resolve(name))
    except Exception as error:
        raise RecipeError(f"{recipe.path}: training.initialize_from = {name!r} could not be loaded: {error}") from error


def initialize_weights(model: StudioModel, start: StudioModel, recipe: Recipe) -> None:
    """Fine-tuning: copies the weights of ``start`` (same model type and config) into ``model``."""
    name = recipe.training.initialize_from
    if start.config_dict() != model.config_dict():
        differing = sorted(key for key, value in dataclasses.asdict(model.config).items()
                           if dataclasses.asdict(start.config).get(key) != value) \
            if type(start.config) is type(model.config) else ["model_type"]
        raise RecipeError(f"{recipe.path}: training.initialize_from = {name!r} has another config than this recipe's "
                          f"model (differs in {differing}); fine-tune with the [model] section it was trained with")
    model.load_state_dict(start.state_dict(), strict=True)


def needs_codes(recipe: Recipe) -> bool:
    return recipe.model.vqvae is not None


def load_frozen_vqvae(recipe: Recipe, device: torch.device) -> StudioModel:
    """The VQ-VAE a prior models the codes of, in eval mode with gradients off."""
    try:
        model = load(recipe.model.vqvae, device=device)
    except (OSError, ValueError) as error:
        raise RecipeError(f"{recipe.path}: model.vqvae = {recipe.model.vqvae!r} could not be loaded: {error}") from error
    if not hasattr(model, "encode_codes"):
        raise RecipeError(f"{recipe.path}: model.vqvae = {recipe.model.vqvae!r} is a {type(model).__name__}, "
                          "which has no encode_codes; name a VQ-VAE")
    model.eval().requires_grad_(False)
    return model


CODE_LEVELS = ("only", "top", "bottom")


def code_level(model: StudioModel, vqvae: StudioModel, path: str) -> str:
    """Which code map a prior models: "only" (a one-level VQ-VAE's), else "top" for a plain prior and "bottom"
    for a bottom prior (conditioned on the top map) over a two-level VQ-VAE's codes."""
    two_levels = getattr(vqvae.config, "levels", 1) == 2
    bottom = model.model_type == "pixelcnn_bottom_prior"
    if bottom and not two_levels:
        raise RecipeError(f"{path}: a pixelcnn_bottom_prior models the bottom codes of a two-level VQ-VAE given its "
                          "top codes; model.vqvae names a one-level one (train a pixelcnn_prior on it instead)")
    if not two_levels:
        return "only"
    return "bottom" if bottom else "top"


class CodeProvider:
    """Fills ``batch.codes`` with the frozen VQ-VAE's code maps, caching them per image index.

    Over a two-level VQ-VAE (``level`` "top" or "bottom") ``batch.codes`` is the map the prior models, and a
    bottom prior also gets ``batch.top_codes``. Images of a fixed data set are the same every epoch (unless
    binarised dynamically), so each image is encoded once; ``capacity`` 0 turns the cache off.
    """

    def __init__(self, vqvae: StudioModel, capacity: int, level: str = "only") -> None:
        if level not in CODE_LEVELS:
            raise ValueError(f"level must be one of {CODE_LEVELS}, got {level!r}")
        self.vqvae = vqvae
        self.capacity = capacity
        self.level = level
        self.maps: list[torch.Tensor] | None = None  # per level, top first: (N, h, w) int16/int32, filled lazily
        self.known: torch.Tensor | None = None  # (N,) bool

    @torch.no_grad()
    def encode_levels(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The code maps of ``images``: [(B, h, w)] for one level, [top, bottom] for two."""
        codes = self.vqvae.encode_codes(images)
        if isinstance(codes, torch.Tensor):
            if self.level != "only":
                raise RecipeError("this VQ-VAE has one code map; a top or bottom prior needs a two-level VQ-VAE")
            return [codes.long()]
        if self.level == "only":
            raise RecipeError("this VQ-VAE returns two code maps: say which level the prior models")
        return [codes.top.long(), codes.bottom.long()]

    def _with_codes(self, batch: Batch, maps: list[torch.Tensor]) -> Batch:
        if self.level == "only":
            return dataclasses.replace(batch, codes=maps[0])
        top, bottom = maps
        if self.level == "top":
            return dataclasses.replace(batch, codes=top)
        return dataclasses.replace(batch, codes=bottom, top_codes=top)

    def fill(self, batch: Batch, indices: torch.Tensor | None) -> Batch:
        if indices is None or self.capacity == 0:
            return self._with_codes(batch, self.encode_levels(batch.images))
        if self.maps is None:
            return self._first(batch, indices)
        missing = ~self.known[indices]  # (B,)
        if missing.any():
            for cache, codes in zip(self.maps, self.encode_levels(batch.images[missing])):
                cache[indices[missing]] = codes.cpu().to(cache.dtype)
            self.known[indices[missing]] = True
        device = batch.images.device
        return self._with_codes(batch, [cache[indices].long().to(device) for cache in self.maps])

    def _first(self, batch: Batch, indices: torch.Tensor) -> Batch:
        maps = self.encode_levels(batch.images)  # [(B, h, w)] per level
        dtype = torch.int16 if self.vqvae.config.num_codes <= 2**15 else torch.int32
        self.maps = [torch.zeros(self.capacity, *codes.shape[1:], dtype=dtype) for codes in maps]  # (N, h, w) each
        self.known = torch.zeros(self.capacity, dtype=torch.bool)  # (N,)
        for cache, codes in zip(self.maps, maps):
            cache[indices] = codes.cpu().to(dtype)
        self.known[indices] = True
        return self._with_codes(batch, maps)


# -- optimisation -------------------------------------------------------------------------------
def build_optimizer(model: StudioModel, training: TrainingSection) -> torch.optim.Optimizer:
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    cls = torch.optim.AdamW if training.optimizer == "adamw" else torch.optim.Adam
    return cls(parameters, lr=training.learning_rate, betas=training.betas, eps=training.eps,
               weight_decay=training.weight_decay)


def kl_weight_at(step: int, training: TrainingSection) -> float:
    """The factor on the model's KL weight at optimizer step ``step`` (0-based): a linear ramp from 0 over
    ``training.kl_warmup_steps`` steps, then 1. A pure function of the step, so a resumed run agrees."""
    if training.kl_warmup_steps <= 0:
        return 1.0
    return min(1.0, step / training.kl_warmup_steps)


def check_kl_warmup(model: StudioModel, training: TrainingSection, path: str) -> None:
    """A recipe that warms up a KL needs a model with one."""
    if training.kl_warmup_steps < 0:
        raise RecipeError(f"{path}: training.kl_warmup_steps must be >= 0, got {training.kl_warmup_steps}")
    if training.kl_warmup_steps > 0 and not hasattr(model, "kl_weight_factor"):
        raise RecipeError(f"{path}: training.kl_warmup_steps needs a model with a KL term (a VAE, a dVAE); a "
                          f"{model.model_type} has none. Remove the key")


def learning_rate_at(step: int, total_steps: int, training: TrainingSection) -> float:
    """The learning rate for optimizer step ``step`` (0-based) of ``total_steps``: a pure function of the step."""
    base = training.learning_rate
    if training.warmup_steps and step < training.warmup_steps:
        return base * (step + 1) / training.warmup_steps
    span = max(1, total_steps - training.warmup_steps)
    progress = min(1.0, (step - training.warmup_steps) / span)
    floor = training.min_lr_ratio
    if training.lr_schedule == "cosine":
        return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))
    if training.lr_schedule == "linear":
        return base * (floor + (1 - floor) * (1 - progress))
    if training.lr_schedule == "stages":
        ratio, count = training.stage_length_ratio, training.stage_count
        lengths = [ratio**index for index in range(count)]
        position, stage = progress * sum(lengths), 0
        while stage < count - 1 and position >= lengths[stage]:
            position -= lengths[stage]
            stage += 1
        return base * training.stage_lr_ratio**stage
    return base
