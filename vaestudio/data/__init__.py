"""Data sources: one spec string (``shapes``, ``digits``, ``emoji``, ``folder:PATH``, ``idx:PATH``,
``hf:NAME``) opens a torch Dataset of ``Example``s; ``make_loader`` batches them into ``Batch``es.

The image-loading policy for uploads and folders is in ``vaestudio.data.images``. The ``shapes`` source
belongs to its world, ``vaestudio.worlds.shapes`` (grammar, sampling, rendering, source), which the
registry names like any other source module.
"""

from vaestudio.data.images import ImageError, ImageTooLargeError, load_image, to_model_input
from vaestudio.data.registry import KNOWN_SPECS, open_source, parse_spec
from vaestudio.data.source import EpochLoader, Example, ImageSource, collate, make_loader

__all__ = [
    "KNOWN_SPECS",
    "EpochLoader",
    "Example",
    "ImageError",
    "ImageSource",
    "ImageTooLargeError",
    "collate",
    "load_image",
    "make_loader",
    "open_source",
    "parse_spec",
    "to_model_input",
]
