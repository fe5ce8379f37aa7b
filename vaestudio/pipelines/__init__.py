"""Inference recipes over the models: text to image, editing, inpainting.

Imported lazily, so that ``vaestudio.hub`` (which needs only :mod:`bundle`) stays light::

    from vaestudio.pipelines import TextToImage, Editor, Inpainter
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Bundle": "vaestudio.pipelines.bundle",
    "load_bundle": "vaestudio.pipelines.bundle",
    "save_bundle": "vaestudio.pipelines.bundle",
    "GeneratedImage": "vaestudio.pipelines.text_to_image",
    "StreamFrame": "vaestudio.pipelines.text_to_image",
    "TextToImage": "vaestudio.pipelines.text_to_image",
    "TextToImageResult": "vaestudio.pipelines.text_to_image",
    "Editor": "vaestudio.pipelines.editing",
    "Encoding": "vaestudio.pipelines.editing",
    "Interpolation": "vaestudio.pipelines.editing",
    "LatentScatter": "vaestudio.pipelines.editing",
    "Inpainter": "vaestudio.pipelines.inpainting",
    "InpaintingResult": "vaestudio.pipelines.inpainting",
}

__all__ = [  # noqa: RUF022  (grouped by module, as in _EXPORTS)
    "Bundle", "load_bundle", "save_bundle",
    "GeneratedImage", "StreamFrame", "TextToImage", "TextToImageResult",
    "Editor", "Encoding", "Interpolation", "LatentScatter",
    "Inpainter", "InpaintingResult",
]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vaestudio.pipelines' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
