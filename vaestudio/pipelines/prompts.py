"""Prompt hygiene shared by text-to-image and inpainting: empty, overlong and unknown-word prompts.

Policy (documented for users in the model cards and the studio):

- an empty (or whitespace-only) prompt is replaced by the pipeline's *neutral prompt* (for the
  shapes model ``"a shape"``, a caption the prior saw with every attribute dropped), so a user
  still gets images; a note says so;
- a prompt longer than ``MAX_PROMPT_CHARACTERS`` is cut at the last word boundary before the limit
  and a note says how much was dropped; the text encoders additionally read at most their
  ``max_tokens`` words, with a note when that cuts further;
- words outside a text encoder's vocabulary are read as ``<unk>``: the result is still produced
  and a warning lists them.
"""

from __future__ import annotations

import dataclasses

from vaestudio.common.limits import MAX_PROMPT_CHARACTERS


@dataclasses.dataclass
class PreparedPrompt:
    text: str  # what the models read
    warnings: list[str]


def prepare_prompt(prompt: str | None, neutral_prompt: str, text_encoders: list) -> PreparedPrompt:
    """Cleans ``prompt`` for ``text_encoders`` (objects with ``tokenizer`` and ``unknown_words``)."""
    if prompt is not None and not isinstance(prompt, str):
        raise TypeError(f"a prompt is text, got {type(prompt).__name__}")
    warnings: list[str] = []
    text = " ".join((prompt or "").split())
    if not text:
        warnings.append(f"empty prompt: sampling from the neutral prompt {neutral_prompt!r}")
        text = neutral_prompt
    if len(text) > MAX_PROMPT_CHARACTERS:
        cut = text[:MAX_PROMPT_CHARACTERS]
        boundary = cut.rfind(" ")
        cut = cut[:boundary] if boundary > MAX_PROMPT_CHARACTERS // 2 else cut
        warnings.append(
            f"prompt truncated from {len(text):,} to {len(cut):,} characters (the limit is {MAX_PROMPT_CHARACTERS:,})"
        )
        text = cut
    unknown: list[str] = []
    for encoder in text_encoders:
        unknown += [word for word in encoder.unknown_words(text) if word not in unknown]
    if unknown:
        warnings.append(f"unknown words ignored by the model: {', '.join(unknown)}")
    limits = {encoder.tokenizer.max_tokens for encoder in text_encoders if encoder.tokenizer.is_truncated(text)}
    if limits:
        warnings.append(f"only the first {min(limits)} words of the prompt are read")
    return PreparedPrompt(text, warnings)
