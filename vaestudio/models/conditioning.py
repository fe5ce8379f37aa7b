"""Conditioning, in one place: the kinds of condition a model can take, and the condition it takes from data.

A conditional model (VAE, PixelCNN prior) names its kind in its config's ``condition``: ``"class"`` (labels,
int64 (B,)), ``"text"`` (captions, B strings; a prior also takes regional conditions) or ``"none"``. Training
batches, evaluation batches and the editor's data samples all hand a model its condition through
:func:`condition_from_data`.
"""

from __future__ import annotations

from typing import Any

CONDITIONS = ("none", "class", "text")


def condition_kind(model: Any) -> str:
    """The kind of condition ``model`` (or a model's config) takes; "none" for models without one."""
    config = getattr(model, "config", model)
    return getattr(config, "condition", "none")


def condition_from_data(kind: str, labels: Any, captions: Any, owner: str = "this model") -> Any:
    """The condition a model of ``kind`` takes from data with these ``labels`` and ``captions``: the labels,
    the captions or None; a ValueError naming ``owner`` when the data lacks what the kind needs."""
    if kind not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {kind!r}")
    if kind == "class":
        if labels is None:
            raise ValueError(f"{owner} is class-conditional: it needs data with labels")
        return labels
    if kind == "text":
        if captions is None:
            raise ValueError(f"{owner} is text-conditional: it needs data with captions")
        return captions
    return None
