"""Tensors to pictures and back: PIL images, a horizontal strip, a tiled grid, an animated GIF."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    """(B, C, H, W) float in [0, 1] with C in {1, 3} -> B PIL images (L or RGB)."""
    array = (images.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()  # (B, C, H, W)
    pictures = []
    for item in array:
        if item.shape[0] == 1:
            pictures.append(Image.fromarray(item[0], mode="L"))
        else:
            pictures.append(Image.fromarray(np.ascontiguousarray(item[:3].transpose(1, 2, 0)), mode="RGB"))
    return pictures


def strip(pictures: list[Image.Image], gap: int = 2, fill: int = 255) -> Image.Image:
    """Pictures of one size side by side, ``gap`` pixels apart."""
    return grid(pictures, columns=len(pictures), gap=gap, fill=fill)


def grid(pictures: list[Image.Image], columns: int, gap: int = 0, fill: int = 255) -> Image.Image:
    """Pictures of one size tiled row by row, ``columns`` per row."""
    if not pictures:
        raise ValueError("no pictures to tile")
    width, height = pictures[0].size
    rows = (len(pictures) + columns - 1) // columns
    mode = pictures[0].mode
    canvas = Image.new(
        mode,
        (columns * width + (columns - 1) * gap, rows * height + (rows - 1) * gap),
        fill if mode == "L" else (fill, fill, fill),
    )
    for index, picture in enumerate(pictures):
        row, column = divmod(index, columns)
        canvas.paste(picture, (column * (width + gap), row * (height + gap)))
    return canvas


def animated_gif(pictures: list[Image.Image], frame_milliseconds: int = 80, bounce: bool = True) -> bytes:
    """An endlessly looping GIF of the frames (forth and back when ``bounce``)."""
    frames = [picture.convert("RGB") for picture in pictures]
    if bounce and len(frames) > 2:
        frames = frames + frames[-2:0:-1]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, format="GIF", save_all=True, append_images=frames[1:], duration=frame_milliseconds, loop=0
    )
    return buffer.getvalue()
