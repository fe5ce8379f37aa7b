"""Helpers the studio's UI tests and end-to-end tests share: a served studio, and awkward uploads."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from PIL import Image

from studio import limits, serving
from studio.app import build_demo
from studio.engine_api import StudioEngine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_studio(engine: StudioEngine, hosting=None) -> Iterator[str]:
    """The studio served on a free localhost port in this process (local mode unless `hosting`); yields its URL."""
    demo = build_demo(engine, hosting)
    _, url, _ = serving.launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield url
    finally:
        demo.close()


def plain_image(path: Path, size=(48, 40), colour=(200, 60, 40)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


# --------------------------------------------------------------------------- awkward uploads


@dataclass(frozen=True)
class UploadCase:
    name: str
    path: Path
    accepted: bool  # True: a sensible result; False: a clear error
    error_words: tuple[str, ...] = ()  # for refusals: words the message must contain (any of them)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decompression_bomb_png(path: Path, side: int = 20_000) -> Path:
    """A small, valid 1-bit PNG whose header declares side x side pixels (all black)."""
    row = b"\x00" + bytes((side + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body)
                     + _png_chunk(b"IEND", b""))
    return path


def exif_rotated_jpeg(path: Path) -> Path:
    """60 x 30, left half red, right half blue, tagged "rotate 90 clockwise to view" (orientation 6)."""
    image = Image.new("RGB", (60, 30), (230, 20, 20))
    image.paste((20, 20, 230), (30, 0, 60, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(path, "JPEG", exif=exif.tobytes(), quality=95)
    return path


UPLOAD_CASE_NAMES = (
    "truncated", "empty", "not an image", "decompression bomb", "over the pixel cap", "huge file", "16-bit",
    "palette with transparency", "CMYK", "EXIF-rotated", "animated", "1x1", "8000x1",
)


def upload_cases(folder: Path) -> dict[str, UploadCase]:
    """Every awkward upload the door must handle (by name, see UPLOAD_CASE_NAMES), written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    good = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 200)).save(good, "PNG")
    (folder / "truncated.png").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    (folder / "empty.png").write_bytes(b"")
    (folder / "not-an-image.png").write_text("these are words, not pixels\n" * 20)
    (folder / "huge.bmp").write_bytes(os.urandom(_file_size_limit() + 1024))
    Image.fromarray(__import__("numpy").full((32, 32), 40000, dtype="uint16")).save(folder / "sixteen-bit.png")
    palette = Image.new("P", (32, 32), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.save(folder / "palette-transparent.png", transparency=1)
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(folder / "cmyk.jpg", "JPEG")
    frames = [Image.new("RGB", (24, 24), colour) for colour in ((240, 10, 10), (10, 10, 240))]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    Image.new("RGB", (1, 1), (0, 200, 0)).save(folder / "one-pixel.png")
    Image.new("RGB", (8000, 1), (120, 0, 120)).save(folder / "strip-8000x1.png")
    cases = [
        UploadCase("truncated", folder / "truncated.png", False, ("truncated", "corrupt", "could not")),
        UploadCase("empty", folder / "empty.png", False, ("empty",)),
        UploadCase("not an image", folder / "not-an-image.png", False, ("not an image", "could not")),
        UploadCase("decompression bomb", decompression_bomb_png(folder / "bomb.png"), False,
                   ("pixels", "too many", "limit")),
        UploadCase("over the pixel cap", decompression_bomb_png(folder / "big.png", side=6000), False,
                   ("pixels", "limit")),
        UploadCase("huge file", folder / "huge.bmp", False, ("large", "size", "413")),
        UploadCase("16-bit", folder / "sixteen-bit.png", True),
        UploadCase("palette with transparency", folder / "palette-transparent.png", True),
        UploadCase("CMYK", folder / "cmyk.jpg", True),
        UploadCase("EXIF-rotated", exif_rotated_jpeg(folder / "rotated.jpg"), True),
        UploadCase("animated", folder / "animated.gif", True),
        UploadCase("1x1", folder / "one-pixel.png", True),
        UploadCase("8000x1", folder / "strip-8000x1.png", True),
    ]
    assert tuple(case.name for case in cases) == UPLOAD_CASE_NAMES
    return {case.name: case for case in cases}


def _file_size_limit() -> int:
    number, unit = limits.MAX_FILE_SIZE[:-2], limits.MAX_FILE_SIZE[-2:].lower()
    return int(float(number) * {"kb": 1024, "mb": 1024**2, "gb": 1024**3}[unit])
