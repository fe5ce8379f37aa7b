"""Small PIL helpers both engines use to lay out what they return: grids, strips and GIFs."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from PIL import Image

BACKGROUND = (255, 255, 255)


def grid(images: Sequence[Image.Image], columns: int | None = None, gap: int = 2) -> Image.Image:
    """The images (all one size) in rows of `columns` (square-ish by default), `gap` pixels apart."""
    if not images:
        raise ValueError("grid needs at least one image")
    columns = columns or math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    width, height = images[0].size
    sheet = Image.new("RGB", (columns * width + (columns - 1) * gap, rows * height + (rows - 1) * gap), BACKGROUND)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        sheet.paste(image.convert("RGB"), (column * (width + gap), row * (height + gap)))
    return sheet


def strip(images: Sequence[Image.Image], gap: int = 2) -> Image.Image:
    """The images side by side in one row."""
    return grid(images, columns=len(images), gap=gap)


def gif_bytes(frames: Sequence[Image.Image], frame_ms: int = 120, there_and_back: bool = True) -> bytes:
    """An endlessly looping animated GIF of the frames (forwards, then backwards when asked)."""
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    sequence = list(frames) + (list(frames[-2:0:-1]) if there_and_back else [])
    buffer = io.BytesIO()
    first, *rest = [frame.convert("RGB") for frame in sequence]
    first.save(buffer, format="GIF", save_all=True, append_images=rest, duration=frame_ms, loop=0)
    return buffer.getvalue()


def enlarge(image: Image.Image, at_least: int) -> Image.Image:
    """Nearest-neighbour upscale by a whole factor so small model outputs stay crisp on screen."""
    factor = max(1, math.ceil(at_least / max(image.size)))
    if factor == 1:
        return image
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
