"""The one image-loading policy of the project: user uploads, folders, Hub datasets and array sources.

``load_image`` turns a path, bytes, a file object or a PIL image into a plain 8-bit RGB PIL image:

- the pixel count is read from the header and checked against ``max_pixels`` *before* anything is
  decoded (``ImageTooLargeError``); Pillow's own decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``)
  is left at its default as a second line and reported the same way;
- EXIF orientation is applied (``ImageOps.exif_transpose``);
- animated images (GIF, APNG, WebP) give their first frame;
- transparency (RGBA, LA, PA, palette or greyscale with a transparent colour) is composited on
  ``background``;
- 16-bit greyscale (``I;16*`` and ``I``) is scaled to 8 bits (``value / 257``), never clipped;
  32-bit float (``F``) is read as [0, 1] when its maximum is at most 1, else as [0, 255];
- CMYK, YCbCr, LAB and the rest go through Pillow's RGB conversion;
- empty, truncated and non-image input raises ``ImageError`` with what to do.

``to_model_input`` then fits the image to a model's square resolution:

- aspect ratio at most ``max_crop_aspect`` (2 by default): centre-crop to a square, resize (LANCZOS);
- more elongated (a 8000 x 1 strip): scale the long side to ``size`` (the short side never below one
  pixel) and centre it on a ``background`` square, so that a strip is not cropped down to one pixel;
- a 1 x 1 image becomes a uniform square of its colour.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 40_000_000  # about 6300 x 6300; decoded RGB is then at most 120 MB
WHITE = (255, 255, 255)
SUPPORTED_FORMATS = "PNG, JPEG, WebP, BMP or GIF"

ImageInput = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO | Image.Image


class ImageError(ValueError):
    """An input that is not a usable image; the message names it and says what to do."""


class ImageTooLargeError(ImageError):
    """An image whose header declares more pixels than allowed; it is rejected before decoding."""


def _describe(source: ImageInput) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"the uploaded data ({len(source)} bytes)"
    return "the image"


def _open_lazily(source: ImageInput) -> Image.Image:
    """Image.open reads only the header: nothing is decoded here."""
    name = _describe(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageError(f"{name} is empty; upload a {SUPPORTED_FORMATS} file")
        source = io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        if not os.path.isfile(source):
            raise ImageError(f"{name} does not exist or is not a file")
        if os.path.getsize(source) == 0:
            raise ImageError(f"{name} is empty (0 bytes); replace it with a {SUPPORTED_FORMATS} file")
    try:
        return Image.open(source)
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(f"{name} declares too many pixels ({error}); resize it first") from error
    except UnidentifiedImageError as error:
        raise ImageError(f"{name} is not an image Pillow can read; use a {SUPPORTED_FORMATS} file") from error
    except OSError as error:
        raise ImageError(f"{name} could not be opened ({error}); re-export it as PNG or JPEG") from error


def _check_pixel_count(image: Image.Image, name: str, max_pixels: int) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError(f"{name} has no pixels ({width} x {height}); re-export it")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name} is {width} x {height} = {width * height:,} pixels, more than the limit of "
            f"{max_pixels:,}; resize it below {max_pixels / 1e6:.0f} megapixels and try again"
        )


def _high_depth_to_8_bit(image: Image.Image) -> Image.Image:
    values = np.asarray(image, dtype=np.float64)  # (H, W)
    if image.mode == "F":
        scale = 1.0 if values.size and np.nanmax(values) <= 1.0 else 1.0 / 255.0
        values = np.nan_to_num(values) / scale
    else:  # I;16, I;16B, I;16L, I: 16-bit samples
        values = np.clip(values, 0, 65535) / 257.0
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")


def _to_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    if image.mode.startswith("I") or image.mode == "F":
        image = _high_depth_to_8_bit(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, tuple(background) + (255,))
    canvas.alpha_composite(rgba)
    return canvas.convert("RGB")


def load_image(
    source: ImageInput, max_pixels: int = DEFAULT_MAX_PIXELS, background: tuple[int, int, int] = WHITE
) -> Image.Image:
    """Any image input -> a decoded 8-bit RGB PIL image, following the policy in the module docstring."""
    name = _describe(source)
    image = source if isinstance(source, Image.Image) else _open_lazily(source)
    _check_pixel_count(image, name, max_pixels)
    try:
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        image = ImageOps.exif_transpose(image)  # decodes the (first) frame
        image.load()
        rgb = _to_rgb(image, background)
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(
            f"{name} is truncated or corrupt ({error}); re-export or re-download it as PNG or JPEG"
        ) from error
    return rgb


def fit_to_square(
    image: Image.Image,
    size: int,
    background: tuple[int, int, int] = WHITE,
    max_crop_aspect: float = 2.0,
) -> Image.Image:
    """Crop-or-letterbox policy of the module docstring; keeps the image's mode."""
    width, height = image.size
    if (width, height) == (size, size):
        return image
    long_side, short_side = max(width, height), min(width, height)
    if long_side <= max_crop_aspect * short_side:
        left, top = (width - short_side) // 2, (height - short_side) // 2
        square = image.crop((left, top, left + short_side, top + short_side))
        return square.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    scale = size / long_side
    fitted_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = image.resize(fitted_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    fill = background if image.mode == "RGB" else round(sum(background) / 3)
    canvas = Image.new(image.mode, (size, size), fill)
    canvas.paste(fitted, ((size - fitted_size[0]) // 2, (size - fitted_size[1]) // 2))
    return canvas


def pixels_to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """uint8 (H, W) or (H, W, C) -> float32 (C, H, W) in [0, 1]."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]  # (H, W, 1)
    pixels = np.require(pixels, requirements=["C", "W"])  # torch wants a contiguous, writable buffer
    return torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255.0)  # (C, H, W)


def to_model_input(
    image: ImageInput,
    size: int,
    channels: int = 3,
    background: tuple[int, int, int] = WHITE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_crop_aspect: float = 2.0,
) -> torch.Tensor:
    """Any image input -> float32 (channels, size, size) in [0, 1] at the model's resolution."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (greyscale) or 3 (RGB), got {channels}")
    rgb = load_image(image, max_pixels=max_pixels, background=background)
    square = fit_to_square(rgb, size, background, max_crop_aspect)
    if channels == 1:
        square = square.convert("L")
    return pixels_to_tensor(np.asarray(square))  # (C, size, size)


def resize_pixels(pixels: np.ndarray, size: int, background: tuple[int, int, int] = WHITE) -> np.ndarray:
    """uint8 (H, W) or (H, W, 3) array -> the same at (size, size), by ``fit_to_square``."""
    if pixels.shape[0] == size and pixels.shape[1] == size:
        return pixels
    return np.asarray(fit_to_square(Image.fromarray(pixels), size, background))
