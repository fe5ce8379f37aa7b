"""The shapes world (spec: ``docs/specs/shapes-world.md``): its layout for regional conditioning and
its prompt parser, registered by name in :mod:`vaestudio.worlds.registry`. The grammar, sampling and
rendering live in ``vaestudio.data.shapes_*`` (the ``shapes`` data source renders them)."""

from vaestudio.data.shapes_grammar import parse_prompt
from vaestudio.worlds.registry import register_layout, register_prompt_parser
from vaestudio.worlds.shapes.layout import shapes_layout


def unknown_words(prompt: str) -> list[str]:
    """The prompt's words the shapes grammar does not know; ValueError when it is no scene of the world."""
    return list(parse_prompt(prompt).unknown_words)


register_layout("shapes", shapes_layout)
register_prompt_parser("shapes", unknown_words)
