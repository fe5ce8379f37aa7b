"""Attribute vectors: the mean latent of the images that have an attribute minus the mean of the rest.

An attribute is a caption word (``"red"``, ``"circle"``, ``"top"``, ``"white"`` for shapes; keywords such as
``"smiling"``, ``"cat"`` or a style's name for emoji) or a label (``"7"`` for digits, ``"Trouser"``, an emoji's
CLDR subgroup). Vectors live in the flattened latent space (F,) of
:mod:`vaestudio.pipelines.latent_space`; adding ``strength`` times a vector to an image's latent
moves it toward the attribute (White, "Sampling Generative Networks", https://arxiv.org/abs/1609.04468).
"""

from __future__ import annotations

import collections

import torch

from vaestudio.models.text import iter_tokens

STOP_WORDS = frozenset({"a", "an", "the", "on", "in", "at", "and", "of", "with", "background", "shape"})
MIN_EXAMPLES = 8  # an attribute needs this many images with it and without it


def caption_words(caption: str) -> set[str]:
    return {token for token in iter_tokens(caption) if token.isalpha() and token not in STOP_WORDS}


def attribute_masks(
    labels: list[str] | None, captions: list[str] | None, label_order: list[str] | None = None
) -> dict[str, torch.Tensor]:
    """name -> (N,) bool: which examples have the attribute. Caption words (keywords, most frequent first: "face",
    "smiling", "cat", a style's name for emoji), then labels (in ``label_order``: digits, classes, emoji
    subgroups); each kept when at least MIN_EXAMPLES have it and lack it."""
    candidates: dict[str, torch.Tensor] = {}
    if captions is not None:
        words = [caption_words(caption or "") for caption in captions]
        counts = collections.Counter(word for group in words for word in group)
        ordered = sorted(counts, key=lambda word: (-counts[word], word))
        candidates.update({word: torch.tensor([word in group for group in words]) for word in ordered})
    if labels is not None:
        names = [name for name in (label_order or []) if name in set(labels)]
        names += [name for name in dict.fromkeys(labels) if name not in names]
        candidates.update({name: torch.tensor([label == name for label in labels])
                           for name in names if name not in candidates})
    return {
        name: mask
        for name, mask in candidates.items()
        if MIN_EXAMPLES <= int(mask.sum()) <= mask.numel() - MIN_EXAMPLES
    }


def attribute_vectors(flat_latents: torch.Tensor, masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """flat_latents (N, F) -> name -> (F,) mean(with) - mean(without)."""
    vectors = {}
    for name, mask in masks.items():
        with_attribute = flat_latents[mask].mean(0)  # (F,)
        without_attribute = flat_latents[~mask].mean(0)  # (F,)
        vectors[name] = with_attribute - without_attribute
    return vectors


def apply_attributes(
    flat: torch.Tensor, vectors: dict[str, torch.Tensor], strengths: dict[str, float] | None
) -> torch.Tensor:
    """flat (B, F) + sum of strength * vector; unknown names raise a KeyError listing the known ones."""
    result = flat
    for name, strength in (strengths or {}).items():
        if name not in vectors:
            raise KeyError(f"no attribute {name!r}; this model has {sorted(vectors)}")
        if strength:
            result = result + float(strength) * vectors[name].to(flat)  # (B, F)
    return result
