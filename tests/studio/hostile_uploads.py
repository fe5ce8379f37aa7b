"""Zips a stranger might upload: a good folder, zip-slip, links, bombs, damaged ones (written into a folder)."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

from PIL import Image

ESCAPE_NAMES = ("../escaped.png", "../../escaped.png", "/tmp/escaped.png", "data/../../escaped.png",
                "..\\escaped.png", "%2e%2e/escaped.png", "\uff0e\uff0e/escaped.png")


def png_bytes(colour=(200, 30, 30), size=(16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def good_folder_zip(path: Path, count: int = 3) -> Path:
    """cats/0.png... with a metadata.jsonl of captions, and one stray file that is skipped."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        lines = []
        for index in range(count):
            archive.writestr(f"cats/{index}.png", png_bytes((40 * index, 90, 200)))
            lines.append(json.dumps({"file_name": f"{index}.png", "text": f"cat number {index}"}))
        archive.writestr("cats/metadata.jsonl", "\n".join(lines) + "\n")
        archive.writestr("cats/run.sh", "rm -rf /\n")
    return path


def zip_slip(path: Path, name: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fine.png", png_bytes())
        archive.writestr(zipfile.ZipInfo(name), png_bytes())
    return path


def symlink_entry(path: Path, target: str = "/etc/passwd") -> Path:
    info = zipfile.ZipInfo("link.png")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fine.png", png_bytes())
        archive.writestr(info, target)
    return path


def ratio_bomb(path: Path, megabytes: int = 60) -> Path:
    """One entry of zeros: tens of megabytes from tens of kilobytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("fine.png", png_bytes())
        with archive.open("zeros.png", "w", force_zip64=True) as entry:
            block = bytes(1 << 20)
            for _ in range(megabytes):
                entry.write(block)
    return path


def total_bomb(path: Path, entries: int, entry_bytes: int) -> Path:
    """Many random (incompressible) entries: no single one has a suspicious ratio, the sum is large."""
    import os

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for index in range(entries):
            archive.writestr(f"noise/{index}.png", os.urandom(entry_bytes))
    return path


def lying_header(path: Path) -> Path:
    """An entry whose header says 10 bytes but which inflates to far more."""
    body = b"A" * 100_000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("fine.png", png_bytes())
        archive.writestr("liar.png", body)
    raw = bytearray(path.read_bytes())
    size = len(body).to_bytes(4, "little")
    small = (10).to_bytes(4, "little")
    start = 0
    while (found := raw.find(size, start)) != -1:  # the local header and the central directory both
        raw[found:found + 4] = small
        start = found + 4
    path.write_bytes(bytes(raw))
    return path
