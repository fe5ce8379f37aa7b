"""A small CLIP-style text-image scorer, used to rerank text-to-image samples.

CLIP: Radford et al., "Learning Transferable Visual Models From Natural Language Supervision",
https://arxiv.org/abs/2103.00020 — two encoders, linear projections to a shared space, unit-norm
embeddings, a learned temperature and the symmetric InfoNCE loss over a batch of pairs.

Here the image encoder is a few stride-2 convolutions and a global average pool (16 candidates of
64x64 score in milliseconds on a CPU), and the text encoder is :class:`TextEncoder`. Captions that
repeat within a batch (common with procedural datasets) are all counted as positives of each other.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from vaestudio.models import losses
from vaestudio.models.base import Batch, StudioModel, TrainingOutput, register_model
from vaestudio.models.layers import DownsampleStack
from vaestudio.models.outputs import ContrastiveEmbeddings
from vaestudio.models.text import TextEncoder, TextEncoderConfig


@dataclasses.dataclass
class ContrastiveScorerConfig:
    vocabulary: list[str] = dataclasses.field(default_factory=list)  # build_vocabulary(captions)
    image_channels: int = 3
    image_size: int = 64
    hidden_sizes: tuple[int, ...] = (32, 64, 128)  # channels of the stride-2 conv stages of the image encoder
    embedding_dim: int = 128  # the shared space
    text_dim: int = 128
    text_layers: int = 2
    text_heads: int = 4
    max_tokens: int = 32
    initial_temperature: float = 0.07
    max_logit_scale: float = 100.0  # CLIP clips 1 / temperature here

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(size) for size in self.hidden_sizes)
        self.vocabulary = list(self.vocabulary)
        if not self.vocabulary:
            raise ValueError(
                "ContrastiveScorerConfig needs a vocabulary (vaestudio.models.text.build_vocabulary)"
            )
        if not self.hidden_sizes:
            raise ValueError("ContrastiveScorerConfig.hidden_sizes needs at least one stage")

    def text_encoder_config(self) -> TextEncoderConfig:
        return TextEncoderConfig(
            self.vocabulary, self.text_dim, self.text_layers, self.text_heads, self.max_tokens
        )


class ImageEncoder(nn.Module):
    """images (B, C, H, W) in [0, 1] -> features (B, hidden_sizes[-1]): conv stages, global average pool."""

    def __init__(self, image_channels: int, hidden_sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.stages = DownsampleStack(image_channels, hidden_sizes, "silu")
        self.mix = nn.Conv2d(hidden_sizes[-1], hidden_sizes[-1], kernel_size=3, padding=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.stages(2.0 * images - 1.0)  # (B, c, H / 2^n, W / 2^n)
        return F.silu(self.mix(features)).mean(dim=(2, 3))  # (B, c)


@register_model
class ContrastiveScorer(StudioModel):
    model_type = "contrastive_scorer"
    config_class = ContrastiveScorerConfig

    def __init__(self, config: ContrastiveScorerConfig) -> None:
        super().__init__(config)
        self.image_encoder = ImageEncoder(config.image_channels, config.hidden_sizes)
        self.text_encoder = TextEncoder(config.text_encoder_config())
        self.image_projection = nn.Linear(config.hidden_sizes[-1], config.embedding_dim, bias=False)
        self.text_projection = nn.Linear(config.text_dim, config.embedding_dim, bias=False)
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
        """Symmetric InfoNCE over the (image, caption) pairs; equal captions are each other's positives."""
        if batch.captions is None:
            raise ValueError("the contrastive scorer trains on batches with captions")
        embeddings = self(batch.images, batch.captions)
        similarities = embeddings.image_embeddings @ embeddings.text_embeddings.t()  # (B, B) cosines
        logits = embeddings.logit_scale * similarities  # (B, B)
        captions = batch.captions
        same = torch.tensor([[a == b for b in captions] for a in captions], device=logits.device)  # (B, B)
        targets = same.float() / same.sum(1, keepdim=True)  # (B, B) rows sum to one, symmetric support
        image_to_text = -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()
        text_to_image = -(targets * F.log_softmax(logits.t(), dim=1)).sum(1).mean()
        loss = 0.5 * (image_to_text + text_to_image)
        accuracy = same.gather(1, logits.argmax(1, keepdim=True)).float()  # (B, 1) top caption is a positive
        logs = {
            "loss": losses.logged_mean(loss),
            "accuracy": losses.logged_mean(accuracy),
            "temperature": float(1.0 / embeddings.logit_scale.detach()),
        }
        return TrainingOutput(loss, logs)
