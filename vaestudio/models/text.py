"""Prompts to vectors: a word-level tokenizer and a small transformer text encoder.

The encoder is a pre-norm Transformer encoder (Vaswani et al., https://arxiv.org/abs/1706.03762)
over learned token and position embeddings, mean-pooled over the prompt's tokens. It has no
pretraining: it is trained jointly with the model that owns it (the PixelCNN prior, a
conditional VAE, the contrastive scorer).

Tokenizer policy
----------------
- Text is Unicode-normalised (NFKC) and case-folded, then split into words (runs of letters,
  digits and underscores, in any script) and single punctuation or symbol characters (so an
  emoji is a token of its own). Whitespace separates and is dropped.
- Words missing from the vocabulary map to ``<unk>``; :meth:`Tokenizer.unknown_words` lists them.
- Prompts longer than ``max_tokens`` keep their first ``max_tokens`` tokens (the subject of a prompt
  usually comes first); the rest is dropped, and tokenising stops there, so a 10,000-character
  prompt costs no more than a short one.
- An empty prompt (or one of whitespace only) encodes as a single ``<pad>`` position that is
  attended and pooled: the learned "no text" embedding, never a NaN.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import unicodedata
from collections.abc import Iterable, Iterator

import torch
from torch import nn

from vaestudio.models.outputs import TokenFeatures, TokenizedText

PAD = "<pad>"
UNKNOWN = "<unk>"
SPECIAL_TOKENS = (PAD, UNKNOWN)
PAD_ID = 0
UNKNOWN_ID = 1

_TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")


def iter_tokens(text: str) -> Iterator[str]:
    """Lazily yields the normalised, case-folded tokens of ``text`` (words and punctuation marks)."""
    normalised = unicodedata.normalize("NFKC", text).casefold()
    for match in _TOKEN_PATTERN.finditer(normalised):
        yield match.group(0)


def tokenize(text: str, max_tokens: int | None = None) -> list[str]:
    """The tokens of ``text``, the first ``max_tokens`` of them when given."""
    tokens = iter_tokens(text)
    if max_tokens is None:
        return list(tokens)
    return [token for _, token in zip(range(max_tokens), tokens)]


def build_vocabulary(captions: Iterable[str], min_count: int = 1) -> list[str]:
    """``<pad>``, ``<unk>``, then tokens seen at least ``min_count`` times, most frequent first."""
    counts = collections.Counter(token for caption in captions for token in iter_tokens(caption))
    words = sorted(
        (word for word, count in counts.items() if count >= min_count and word not in SPECIAL_TOKENS),
        key=lambda word: (-counts[word], word),
    )
    return [*SPECIAL_TOKENS, *words]


class Tokenizer:
    """Maps prompts to padded id tensors over a fixed vocabulary (see the module docstring for the policy)."""

    def __init__(self, vocabulary: list[str], max_tokens: int) -> None:
        if list(vocabulary[:2]) != list(SPECIAL_TOKENS):
            raise ValueError(
                f"a vocabulary must start with {SPECIAL_TOKENS}; build it with build_vocabulary()"
            )
        if len(set(vocabulary)) != len(vocabulary):
            raise ValueError("the vocabulary has repeated entries")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        self.vocabulary = list(vocabulary)
        self.max_tokens = max_tokens
        self._ids = {word: index for index, word in enumerate(self.vocabulary)}

    def __len__(self) -> int:
        return len(self.vocabulary)

    def ids(self, text: str) -> list[int]:
        """Token ids of one prompt, truncated to ``max_tokens`` (possibly empty)."""
        return [self._ids.get(token, UNKNOWN_ID) for token in tokenize(text, self.max_tokens)]

    def unknown_words(self, text: str) -> list[str]:
        """Tokens of ``text`` (all of it, not just the kept part) not in the vocabulary, once each."""
        unknown = [token for token in iter_tokens(text) if token not in self._ids]
        return list(dict.fromkeys(unknown))

    def is_truncated(self, text: str) -> bool:
        """Whether ``text`` has more than ``max_tokens`` tokens (the rest is dropped)."""
        return len(tokenize(text, self.max_tokens + 1)) > self.max_tokens

    def encode(self, texts: list[str], device: torch.device | str | None = None) -> TokenizedText:
        """Pads to the batch's longest prompt (at least 1); an empty prompt attends its one pad position."""
        if isinstance(texts, str):
            raise TypeError("encode takes a list of prompts; wrap a single prompt in a list")
        sequences = [self.ids(text) for text in texts]
        length = max([1, *map(len, sequences)])
        token_ids = torch.full((len(texts), length), PAD_ID, dtype=torch.int64)  # (B, T)
        mask = torch.zeros(len(texts), length, dtype=torch.bool)  # (B, T)
        for row, sequence in enumerate(sequences):
            token_ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.int64)
            mask[row, : max(1, len(sequence))] = True
        return TokenizedText(token_ids.to(device), mask.to(device))


@dataclasses.dataclass
class TextEncoderConfig:
    """The one text-encoder config every model that reads text nests (``text_encoder`` in its config)."""

    vocabulary: list[str] = dataclasses.field(default_factory=list)  # build_vocabulary(captions)
    embedding_dim: int = 128
    num_layers: int = 2
    num_heads: int = 4
    max_tokens: int = 32

    def __post_init__(self) -> None:
        self.vocabulary = list(self.vocabulary)

    @classmethod
    def of(cls, value: TextEncoderConfig | dict) -> TextEncoderConfig:
        """``value`` as a TextEncoderConfig (a dict from config.json or a recipe's ``[model.text_encoder]``)."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"text_encoder must be a table of TextEncoderConfig fields, got {type(value).__name__}")
        unknown = sorted(set(value) - {field.name for field in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"text_encoder has no field(s) {unknown}; its fields are "
                             f"{[field.name for field in dataclasses.fields(cls)]}")
        return cls(**value)


class TextEncoder(nn.Module):
    """Prompts -> (B, embedding_dim): token + position embeddings, a pre-norm transformer, mean pooling."""

    def __init__(self, config: TextEncoderConfig) -> None:
        super().__init__()
        if isinstance(config, dict):
            config = TextEncoderConfig(**config)
        if config.embedding_dim % config.num_heads:
            raise ValueError(
                f"embedding_dim {config.embedding_dim} must be divisible by num_heads {config.num_heads}"
            )
        self.config = config
        self.tokenizer = Tokenizer(config.vocabulary, config.max_tokens)
        self.token_embedding = nn.Embedding(len(config.vocabulary), config.embedding_dim)
        self.position_embedding = nn.Embedding(config.max_tokens, config.embedding_dim)
        layer = nn.TransformerEncoderLayer(
            config.embedding_dim,
            config.num_heads,
            dim_feedforward=4 * config.embedding_dim,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(config.embedding_dim)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding.weight, std=0.02)

    @property
    def embedding_dim(self) -> int:
        return self.config.embedding_dim

    def unknown_words(self, text: str) -> list[str]:
        """Words of ``text`` the encoder does not know (they are read as ``<unk>``)."""
        return self.tokenizer.unknown_words(text)

    def encode_tokens(self, tokens: TokenizedText) -> TokenFeatures:
        """Already tokenised prompts -> per-token features (B, T, E) and their mask (B, T)."""
        token_ids, mask = tokens.token_ids, tokens.mask  # (B, T) each
        positions = torch.arange(token_ids.shape[1], device=token_ids.device)  # (T,)
        hidden = self.token_embedding(token_ids) + self.position_embedding(positions)  # (B, T, E)
        hidden = self.transformer(hidden, src_key_padding_mask=~mask)  # (B, T, E)
        features = self.final_norm(hidden) * mask[..., None]  # (B, T, E) zero on padding
        return TokenFeatures(features, mask)

    def token_features(self, captions: list[str]) -> TokenFeatures:
        """Prompts -> per-token features (B, T, E) and mask (B, T); T <= max_tokens: the longest prompt."""
        return self.encode_tokens(self.tokenizer.encode(captions, device=self.token_embedding.weight.device))

    def pool(self, features: TokenFeatures) -> torch.Tensor:
        """Mean over the attended positions: (B, T, E) -> (B, E)."""
        counts = features.mask.sum(1, keepdim=True).to(features.features.dtype)  # (B, 1), at least 1
        return features.features.sum(1) / counts  # (B, E)

    def forward(self, captions: list[str]) -> torch.Tensor:
        """Prompts -> (B, embedding_dim)."""
        return self.pool(self.token_features(captions))
