"""The conditions a conditional VAE (Sohn, Lee & Yan, NeurIPS 2015) is edited with: a class id or a prompt.

- :func:`checked_condition`: what one image is encoded (or drawn) with, checked against the model's kind:
  a class id (int, ``0 <= id < num_classes``) for a class-conditional model, a prompt (str) for a
  text-conditional one, None for an unconditional one. A prompt goes through the prompt hygiene of
  :mod:`vaestudio.pipelines.prompts`: an empty one becomes the model's neutral prompt.
- :func:`interpolation_conditions` resolves the three conditions of an interpolation: the first image's,
  the second image's (default: the first's) and what the frames are drawn as.
- :func:`frame_conditions` gives the condition of each frame: the one the caller chose for every frame, or,
  when none was chosen and the two ends differ, the blend of the ends' condition vectors (class embeddings
  or pooled prompt embeddings) at each frame's weight, so the condition moves along with the latent.
"""

from __future__ import annotations

import dataclasses

import torch

from vaestudio.pipelines.prompts import prepare_prompt

Condition = int | str | None  # a class id, a prompt, or nothing (unconditional models)


@dataclasses.dataclass(frozen=True)
class InterpolationConditions:
    first: Condition  # what the first image is encoded with
    second: Condition  # what the second image is encoded with
    frames: Condition  # what every frame is drawn as; None: the blend from the first's to the second's


def checked_condition(model, kind: str, condition, neutral_prompt: str = "") -> Condition:
    """``condition`` for a model of condition ``kind`` ("none", "class", "text"); ValueError saying what to pass."""
    if kind == "none":
        if condition is not None:
            raise ValueError("this model is unconditional; pass no condition")
        return None
    if kind == "class":
        if isinstance(condition, torch.Tensor) and condition.numel() == 1 and not condition.is_floating_point():
            condition = int(condition)
        if isinstance(condition, bool) or not isinstance(condition, int):
            raise ValueError(f"this model is conditioned on a class: pass condition=<a class id>, got {condition!r}")
        count = int(model.config.num_classes)
        if not 0 <= condition < count:
            raise ValueError(f"this model draws classes 0 to {count - 1}; class {condition} is not one of them")
        return condition
    if condition is not None and not isinstance(condition, str):
        raise ValueError(f"this model is conditioned on a text: pass condition=<a prompt>, got {condition!r}")
    prompt = prepare_prompt(condition or "", neutral_prompt, [model.text_encoder]).text
    if not prompt:
        raise ValueError("this model is conditioned on a text: type a prompt that describes the image")
    return prompt


def interpolation_conditions(model, kind: str, first=None, second=None, frames=None,
                             neutral_prompt: str = "") -> InterpolationConditions:
    """The checked conditions of an interpolation; ``second`` None: the first image's condition."""
    first = checked_condition(model, kind, first, neutral_prompt)
    second = first if second is None else checked_condition(model, kind, second, neutral_prompt)
    frames = None if frames is None else checked_condition(model, kind, frames, neutral_prompt)
    return InterpolationConditions(first, second, frames)


def batched(condition: Condition, count: int):
    """One condition as the model takes it for a batch of ``count``: class ids (count,), prompts, or None."""
    if condition is None:
        return None
    if isinstance(condition, str):
        return [condition] * count
    return torch.full((count,), int(condition), dtype=torch.int64)  # (count,)


@torch.no_grad()
def frame_conditions(model, conditions: InterpolationConditions, weights: torch.Tensor):
    """The condition of each of the T frames at ``weights`` (T,): what the model's decode takes for them."""
    count = weights.shape[0]
    if conditions.frames is not None:
        return batched(conditions.frames, count)
    if conditions.first == conditions.second:
        return batched(conditions.first, count)
    first = model.condition_vector(batched(conditions.first, 1), 1)  # (1, Cd)
    second = model.condition_vector(batched(conditions.second, 1), 1)  # (1, Cd)
    return torch.lerp(first, second, weights[:, None].to(first.dtype))  # (T, Cd)
