"""The shapes world (spec: ``docs/specs/shapes-world.md``): its vocabulary (``world``), sampling, rendering,
captions and prompt grammar (``grammar``), the ``shapes`` data source (``source``), the analytic attribute
checker (``checker``) and the layout for regional conditioning (``layout``). It registers its layout, prompt
parser, scatter label words and neutral prompt in :mod:`vaestudio.worlds.registry`. (The scorer's near-miss
copies stay in ``vaestudio.models.near_misses``: a model's training loss uses them, and models import no
world.)"""

from vaestudio.worlds.registry import (
    register_label_words,
    register_layout,
    register_neutral_prompt,
    register_prompt_parser,
)
from vaestudio.worlds.shapes.grammar import parse_prompt
from vaestudio.worlds.shapes.layout import shapes_layout
from vaestudio.worlds.shapes.world import OBJECT_COLORS


def unknown_words(prompt: str) -> list[str]:
    """The prompt's words the shapes grammar does not know; ValueError when it is no scene of the world."""
    return list(parse_prompt(prompt).unknown_words)


register_layout("shapes", shapes_layout)
register_prompt_parser("shapes", unknown_words)
register_label_words("shapes", tuple(OBJECT_COLORS))  # a shapes scatter is coloured by its objects' colours
register_neutral_prompt("shapes", "a shape")  # the caption of a one-object scene with every attribute dropped
