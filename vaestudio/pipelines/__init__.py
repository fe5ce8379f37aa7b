"""Inference recipes over the models: text to image, editing, inpainting::

    from vaestudio.pipelines import TextToImage, Editor, Inpainter
"""

from vaestudio.pipelines.editing import Editor, Encoding, Interpolation, LatentScatter
from vaestudio.pipelines.inpainting import Inpainter, InpaintingResult
from vaestudio.pipelines.text_to_image import GeneratedImage, StreamFrame, TextToImage, TextToImageResult

__all__ = [  # noqa: RUF022  (grouped by module)
    "GeneratedImage", "StreamFrame", "TextToImage", "TextToImageResult",
    "Editor", "Encoding", "Interpolation", "LatentScatter",
    "Inpainter", "InpaintingResult",
]
