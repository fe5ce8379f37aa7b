"""The inpainting mask from gr.ImageMask's painted layers: white where any layer has paint."""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageChops

from studio.engine_api import InputError
from studio.uploads import FileReference


def _read_layer(reference: FileReference, max_pixels: int) -> Image.Image:
    """One painted layer's coverage (its alpha, or its brightness if it has none), pixel cap first."""
    try:
        layer = Image.open(io.BytesIO(reference) if isinstance(reference, bytes) else reference)
        if layer.width * layer.height > max_pixels:
            raise InputError(f"The mask is {layer.width}x{layer.height} pixels; paint on a smaller image.")
        layer.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise InputError("The painted mask could not be read. Paint the region again and retry.") from None
    if "A" in layer.getbands():
        return layer.getchannel("A")
    if layer.mode == "P" and "transparency" in layer.info:
        return layer.convert("RGBA").getchannel("A")
    return layer.convert("L")


def mask_from_layers(layers: Sequence[FileReference], size: tuple[int, int], max_pixels: int) -> Image.Image:
    """Mode "L", `size`: 255 where any layer is painted (over half opaque), 0 elsewhere."""
    if not layers:
        raise InputError("Paint over the part of the image to redraw (the brush), then press Inpaint.")
    mask = Image.new("L", size, 0)
    for reference in layers:
        coverage = _read_layer(reference, max_pixels).resize(size, Image.Resampling.NEAREST)
        mask = ImageChops.lighter(mask, coverage)
    mask = mask.point(lambda value: 255 if value > 127 else 0)
    if mask.getbbox() is None:
        raise InputError("The mask is empty. Paint over the part of the image to redraw, then press Inpaint.")
    return mask
