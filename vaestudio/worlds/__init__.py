"""Worlds: one package per synthetic or curated world (``shapes``: grammar, sampling, rendering, its data
source, the attribute checker, the layout).

Generic code (pipelines, training) never names a world's modules: it looks up what a world registered
by name in :mod:`vaestudio.worlds.registry`. Importing this package fills the registries.
"""

from vaestudio.worlds import shapes  # noqa: F401  (registers the shapes world's layout and prompt parser)
from vaestudio.worlds.registry import (
    DEFAULT_SOFTNESS,
    LABEL_WORDS,
    LAYOUTS,
    NEUTRAL_PROMPTS,
    PROMPT_PARSERS,
    get_layout,
    get_prompt_parser,
    register_label_words,
    register_layout,
    register_neutral_prompt,
    register_prompt_parser,
)

__all__ = [
    "DEFAULT_SOFTNESS",
    "LABEL_WORDS",
    "LAYOUTS",
    "NEUTRAL_PROMPTS",
    "PROMPT_PARSERS",
    "get_layout",
    "get_prompt_parser",
    "register_label_words",
    "register_layout",
    "register_neutral_prompt",
    "register_prompt_parser",
]
