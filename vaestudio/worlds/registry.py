"""What worlds provide to generic code, by name: layouts (a prompt -> one region per placed object,
see :mod:`vaestudio.common.batch`'s RegionalCondition), prompt parsers (a prompt -> the words the
world does not know), label words (the caption words that label a data source's points in a latent
scatter) and neutral prompts (a data source's caption with every attribute dropped: what a
text-conditional model reads for an empty prompt). A bundle names its world's entries in its options
(``"layout": "shapes"``); a data source's spec names its label words and its neutral prompt."""

from __future__ import annotations

from collections.abc import Callable

from vaestudio.common.batch import RegionalCondition

# layout(prompt, code_map_shape, count, softness) -> RegionalCondition, or None when the prompt places
# fewer than two objects (the whole prompt then conditions every position)
Layout = Callable[..., RegionalCondition | None]
# parser(prompt) -> the prompt's words the world's grammar does not know ([] when it parses); raises
# ValueError when the words are known but do not make a prompt of the world
PromptParser = Callable[[str], list[str]]

LAYOUTS: dict[str, Layout] = {}
PROMPT_PARSERS: dict[str, PromptParser] = {}
LABEL_WORDS: dict[str, tuple[str, ...]] = {}  # data source spec -> caption words that label its scatter points
NEUTRAL_PROMPTS: dict[str, str] = {}  # data source spec -> its caption that says nothing (all attributes dropped)
DEFAULT_SOFTNESS = 0.25  # how far a region's weight reaches past its object (see a world's layout)


def register_layout(name: str, layout: Layout) -> None:
    LAYOUTS[name] = layout


def register_prompt_parser(name: str, parser: PromptParser) -> None:
    PROMPT_PARSERS[name] = parser


def register_label_words(source: str, words: tuple[str, ...]) -> None:
    LABEL_WORDS[source] = tuple(words)


def register_neutral_prompt(source: str, prompt: str) -> None:
    NEUTRAL_PROMPTS[source] = prompt


def get_layout(name: str | None) -> Layout | None:
    """The layout a bundle names (None: no regional conditioning)."""
    if name is None:
        return None
    if name not in LAYOUTS:
        raise ValueError(f"unknown layout {name!r} in the bundle's options; known layouts: {sorted(LAYOUTS)}")
    return LAYOUTS[name]


def get_prompt_parser(name: str) -> PromptParser:
    if name not in PROMPT_PARSERS:
        raise ValueError(f"no world called {name!r} parses prompts; known: {sorted(PROMPT_PARSERS)}")
    return PROMPT_PARSERS[name]
