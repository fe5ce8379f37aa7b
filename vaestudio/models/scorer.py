"""A small CLIP-style text-image scorer, used to rerank text-to-image samples.

CLIP: Radford et al., "Learning Transferable Visual Models From Natural Language Supervision",
https://arxiv.org/abs/2103.00020 — two encoders, linear projections to a shared space, unit-norm
embeddings, a learned temperature and the symmetric InfoNCE loss over a batch of pairs.

Here the image encoder is a few stride-2 convolutions and a global average pool, or, with
``pooling = "flatten"``, a linear map of the whole final feature map, which keeps where things are
(16 candidates of 64x64 score in milliseconds on a CPU); the text encoder is :class:`TextEncoder`.
Captions that repeat within a batch (common with procedural datasets) are all counted as positives
of each other.

Hard negatives: with ``negative_word_groups`` (e.g. the shape words, the colour words), every
caption of a batch also yields a copy with one grouped word swapped for another of its group
("a red circle" -> "a red star"); the image-to-text loss must rank each image's caption above all
of them, which teaches the scorer the single-attribute differences that reranking has to see.

Near misses: with ``near_miss_weight`` > 0, half of each batch also gets a badly drawn copy
(:mod:`vaestudio.models.near_misses`: rounded corners, wobbly edges), and each of those captions must
pick its own image out of the real images and the copies, so the scorer learns to rank a crisp
drawing above a wobbly one of the same scene, the difference a sample's reranking turns on.
``stem_channels`` and ``convs_per_stage`` give the image encoder the full-resolution convolution
and the depth per stage that such detail needs.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from vaestudio.common.batch import Batch
from vaestudio.models import losses
from vaestudio.models.base import StudioModel, TrainingOutput, register_model
from vaestudio.models.layers import DownsampleStack
from vaestudio.models.near_misses import near_misses
from vaestudio.models.outputs import ContrastiveEmbeddings
from vaestudio.models.text import TextEncoder, TextEncoderConfig

POOLINGS = ("mean", "flatten")


@dataclasses.dataclass
class ContrastiveScorerConfig:
    text_encoder: TextEncoderConfig = dataclasses.field(default_factory=TextEncoderConfig)  # needs a vocabulary
    image_channels: int = 3
    image_size: int = 64
    hidden_sizes: tuple[int, ...] = (32, 64, 128)  # channels of the stride-2 conv stages of the image encoder
    embedding_dim: int = 128  # the shared space
    initial_temperature: float = 0.07
    max_logit_scale: float = 100.0  # CLIP clips 1 / temperature here
    pooling: str = "mean"  # "mean" (global average) or "flatten" (the whole final map: keeps positions)
    negative_word_groups: list[list[str]] = dataclasses.field(default_factory=list)  # hard negatives by swaps
    stem_channels: int = 0  # a full-resolution 3x3 conv before the stages (0: none)
    convs_per_stage: int = 0  # 3x3 convs after each stride-2 conv of the image encoder
    near_miss_weight: float = 0.0  # weight of the near-miss loss (0: off)

    def __post_init__(self) -> None:
        for name in ("stem_channels", "convs_per_stage"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"ContrastiveScorerConfig.{name} must be a non-negative integer, got {value!r}")
        if isinstance(self.near_miss_weight, bool) or not isinstance(self.near_miss_weight, (int, float)) \
                or not self.near_miss_weight >= 0:
            raise ValueError(f"ContrastiveScorerConfig.near_miss_weight must be a number >= 0, got "
                             f"{self.near_miss_weight!r}")
        self.near_miss_weight = float(self.near_miss_weight)
        if self.pooling not in POOLINGS:
            raise ValueError(f"ContrastiveScorerConfig.pooling must be one of {POOLINGS}, got {self.pooling!r}")
        self.negative_word_groups = [list(group) for group in self.negative_word_groups]
        if any(len(group) < 2 for group in self.negative_word_groups):
            raise ValueError("every group of negative_word_groups needs at least two words to swap between")
        self.hidden_sizes = tuple(int(size) for size in self.hidden_sizes)
        self.text_encoder = TextEncoderConfig.of(self.text_encoder)
        if not self.text_encoder.vocabulary:
            raise ValueError(
                "ContrastiveScorerConfig needs text_encoder.vocabulary (vaestudio.models.text.build_vocabulary)"
            )
        if not self.hidden_sizes:
            raise ValueError("ContrastiveScorerConfig.hidden_sizes needs at least one stage")


class ImageEncoder(nn.Module):
    """images (B, C, H, W) in [0, 1] -> features (B, output_size): conv stages, then mean or flatten."""

    def __init__(self, image_channels: int, hidden_sizes: tuple[int, ...], image_size: int = 64,
                 pooling: str = "mean", stem_channels: int = 0, convs_per_stage: int = 0) -> None:
        super().__init__()
        self.stem = (nn.Sequential(nn.Conv2d(image_channels, stem_channels, kernel_size=3, padding=1), nn.SiLU())
                     if stem_channels else nn.Identity())
        self.stages = DownsampleStack(stem_channels or image_channels, hidden_sizes, "silu", convs_per_stage)
        self.mix = nn.Conv2d(hidden_sizes[-1], hidden_sizes[-1], kernel_size=3, padding=1)
        self.pooling, self.image_size = pooling, image_size
        side = image_size // 2 ** len(hidden_sizes)  # of the final feature map
        self.output_size = hidden_sizes[-1] * (side * side if pooling == "flatten" else 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.pooling == "flatten" and tuple(images.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"this scorer reads {self.image_size}x{self.image_size} images, got "
                             f"{tuple(images.shape[-2:])}: resize them first")
        features = F.silu(self.mix(self.stages(self.stem(2.0 * images - 1.0))))  # (B, c, H / 2^n, W / 2^n)
        return features.flatten(1) if self.pooling == "flatten" else features.mean(dim=(2, 3))  # (B, output_size)


def swap_one_word(caption: str, groups: list[list[str]], generator: torch.Generator | None = None) -> str | None:
    """``caption`` with one word of a group replaced by another word of that group; None if it has none."""
    words = caption.split()
    group_of = {word: group for group in groups for word in group}
    places = [index for index, word in enumerate(words) if word.casefold() in group_of]
    if not places:
        return None
    place = places[int(torch.randint(len(places), (), generator=generator))]
    others = [word for word in group_of[words[place].casefold()] if word != words[place].casefold()]
    words[place] = others[int(torch.randint(len(others), (), generator=generator))]
    return " ".join(words)


@register_model
class ContrastiveScorer(StudioModel):
    model_type = "contrastive_scorer"
    config_class = ContrastiveScorerConfig

    def __init__(self, config: ContrastiveScorerConfig) -> None:
        super().__init__(config)
        self.image_encoder = ImageEncoder(config.image_channels, config.hidden_sizes, config.image_size,
                                          config.pooling, config.stem_channels, config.convs_per_stage)
        self.text_encoder = TextEncoder(config.text_encoder)
        self.image_projection = nn.Linear(self.image_encoder.output_size, config.embedding_dim, bias=False)
        self.text_projection = nn.Linear(config.text_encoder.embedding_dim, config.embedding_dim, bias=False)
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.initial_temperature)))

    def logit_scale(self) -> torch.Tensor:
        """1 / temperature, clipped at ``max_logit_scale``: ()."""
        return self.log_logit_scale.clamp(max=math.log(self.config.max_logit_scale)).exp()

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> unit-norm (B, E)."""
        return F.normalize(self.image_projection(self.image_encoder(images)), dim=-1)

    def embed_text(self, captions: list[str]) -> torch.Tensor:
        """B prompts -> unit-norm (B, E)."""
        return F.normalize(self.text_projection(self.text_encoder(captions)), dim=-1)

    def forward(self, images: torch.Tensor, captions: list[str]) -> ContrastiveEmbeddings:
        return ContrastiveEmbeddings(self.embed_images(images), self.embed_text(captions), self.logit_scale())

    @torch.no_grad()
    def score(self, images: torch.Tensor, captions: list[str] | str) -> torch.Tensor:
        """Cosine similarity of each image with its caption: (B,) in [-1, 1].

        ``captions`` holds B prompts, or one prompt (a str or a 1-list) scored against every image,
        which encodes the text once (the reranking case: many candidates for one prompt).
        """
        captions = [captions] if isinstance(captions, str) else list(captions)
        if len(captions) not in (1, images.shape[0]):
            raise ValueError(
                f"score takes 1 or {images.shape[0]} captions for {images.shape[0]} images, "
                f"got {len(captions)}"
            )
        image_embeddings = self.embed_images(images)  # (B, E)
        text_embeddings = self.embed_text(captions)  # (B, E) or (1, E)
        return (image_embeddings * text_embeddings).sum(-1)  # (B,)

    def training_loss(self, batch: Batch) -> TrainingOutput:
        """Symmetric InfoNCE over the (image, caption) pairs; equal captions are each other's positives.

        With ``negative_word_groups`` the image-to-text side also ranks each image against one
        word-swapped copy of every caption (hard negatives), and with ``near_miss_weight`` the first
        half of the captions also rank their images above badly drawn copies (see the module docstring).
        """
        if batch.captions is None:
            raise ValueError("the contrastive scorer trains on batches with captions")
        captions = list(batch.captions)
        negatives = [swap_one_word(caption, self.config.negative_word_groups) for caption in captions]
        candidates = captions + [caption for caption in negatives if caption is not None]  # B + M texts
        image_embeddings = self.embed_images(batch.images)  # (B, E)
        text_embeddings = self.embed_text(candidates)  # (B + M, E)
        logits = self.logit_scale() * image_embeddings @ text_embeddings.t()  # (B, B + M) scaled cosines
        same = torch.tensor([[a == b for b in candidates] for a in captions], device=logits.device)  # (B, B + M)
        targets = same.float() / same.sum(1, keepdim=True)  # rows sum to one
        image_to_text = -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()
        batch_size = len(captions)
        pair_targets = targets[:, :batch_size] / targets[:, :batch_size].sum(1, keepdim=True)  # (B, B)
        text_to_image = -(pair_targets.t() * F.log_softmax(logits[:, :batch_size].t(), dim=1)).sum(1).mean()
        loss = 0.5 * (image_to_text + text_to_image)
        accuracy = same.gather(1, logits.argmax(1, keepdim=True)).float()  # (B, 1) top text is a positive
        logs = {
            "loss": losses.logged_mean(loss),
            "accuracy": losses.logged_mean(accuracy),
            "temperature": float(1.0 / self.logit_scale().detach()),
        }
        if self.config.near_miss_weight > 0:
            near_miss_loss, near_miss_accuracy = self._near_miss_loss(
                batch.images, image_embeddings, text_embeddings, pair_targets)
            loss = loss + self.config.near_miss_weight * near_miss_loss
            logs["near_miss_loss"] = losses.logged_mean(near_miss_loss)
            logs["near_miss_accuracy"] = near_miss_accuracy
        return TrainingOutput(loss, logs)

    def _near_miss_loss(self, images: torch.Tensor, image_embeddings: torch.Tensor, text_embeddings: torch.Tensor,
                        pair_targets: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Text-to-image InfoNCE of the first half of the captions over their real images and badly drawn
        copies of them (never positives); and how often a caption scores its image above its copy."""
        half = max(1, images.shape[0] // 2)
        copies = self.embed_images(near_misses(images[:half]))  # (b, E)
        pictures = torch.cat([image_embeddings[:half], copies])  # (2b, E)
        logits = self.logit_scale() * text_embeddings[:half] @ pictures.t()  # (b, 2b)
        targets = pair_targets[:half, :half] / pair_targets[:half, :half].sum(1, keepdim=True)  # (b, b)
        targets = torch.cat([targets, torch.zeros_like(targets)], dim=1)  # (b, 2b): the copies are negatives
        loss = -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()
        own = torch.arange(half, device=logits.device)  # (b,)
        beaten = (logits[own, own] > logits[own, half + own]).float().mean()
        return loss, float(beaten.detach())
