"""Every example prompt the studio offers is read in full by the shipped model it is for: no word its text
encoders do not know, and none its world's prompt parser cannot place."""

from __future__ import annotations

import pytest

from studio.tabs.text_to_image import EXAMPLE_PROMPTS, EXAMPLES_BY_MODEL, PLACEHOLDER
from vaestudio import hub
from vaestudio.worlds import PROMPT_PARSERS

EXAMPLES = [(model, prompt) for model, prompts in EXAMPLES_BY_MODEL.items() for prompt in prompts]
EXAMPLES.append(("shapes", PLACEHOLDER))  # what the empty prompt box suggests


@pytest.fixture(scope="module")
def bundles():
    return {model: hub.load(model) for model in EXAMPLES_BY_MODEL}


@pytest.mark.parametrize("model, prompt", EXAMPLES)
def test_the_model_knows_every_word_of_its_examples(bundles, model, prompt):
    bundle = bundles[model]
    encoders = [component.text_encoder for component in bundle.components.values()
                if hasattr(component, "text_encoder")]
    assert encoders, f"{model} reads no text"
    for encoder in encoders:
        assert encoder.unknown_words(prompt) == [], f"{model} does not know words of {prompt!r}"
    world = bundle.options.get("layout")
    if world in PROMPT_PARSERS:
        assert PROMPT_PARSERS[world](prompt) == [], f"the {world} grammar cannot place words of {prompt!r}"


def test_the_checks_would_catch_a_bad_example(bundles):
    """The parsers the test relies on do flag the examples the studio used to show."""
    encoder = bundles["shapes"]["prior"].text_encoder
    assert encoder.unknown_words("a blue square above a yellow triangle") == ["above"]
    assert PROMPT_PARSERS["shapes"]("two purple circles") == ["two", "circles"]


def test_the_gallery_shows_every_example():
    assert EXAMPLE_PROMPTS == [prompt for _, prompt in EXAMPLES[:-1]]
