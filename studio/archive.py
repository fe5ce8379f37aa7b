"""Visitors' data in, models out: uploaded images or a zip of a folder unpacked safely; a folder zipped.

Unpacking refuses, before writing anything: more than ``max_files`` entries, entries whose names
leave the destination (zip-slip: ``..``, absolute, backslashes... by :func:`studio.workspace.confine`),
links and other special entries, a declared total above ``max_total_bytes``, and any entry
compressed more than ``max_ratio`` to one (a zip bomb). While writing, it counts the bytes really
inflated, so a header that lies cannot get past the caps. It writes into a hidden staging folder
that becomes the destination only when everything went through, so a refusal leaves nothing behind.
Only images, ``metadata.jsonl`` and ``.txt`` captions are kept; other files are skipped and counted.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from studio import workspace
from studio.engine_api import InputError

KEPT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".jsonl", ".txt")
CHUNK = 1 << 16


@dataclass(frozen=True)
class UploadCaps:
    max_files: int = 2000
    max_total_bytes: int = 100 * 1024**2  # unpacked
    max_ratio: float = 100.0  # unpacked bytes per packed byte, per entry


class UploadRefused(InputError):
    """An upload that breaks a cap or tries to write outside its folder; nothing was kept."""


def unpack(uploads: list[str], destination: Path, caps: UploadCaps = UploadCaps()) -> tuple[int, int]:
    """Unpacks uploaded files (images, and zips of folders) into `destination` (new); returns (kept, skipped)."""
    if destination.exists():
        raise UploadRefused(f"{destination.name} already exists in your workspace; choose another name.")
    staging = destination.with_name(f".staging-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    kept = skipped = written = 0
    try:
        for upload in uploads:
            path = Path(upload)
            if path.suffix.lower() == ".zip":
                counts = _unpack_zip(path, staging, caps, written, kept + skipped)
                kept, skipped, written = kept + counts[0], skipped + counts[1], written + counts[2]
            elif path.suffix.lower() in KEPT_EXTENSIONS:
                if kept + skipped + 1 > caps.max_files:
                    raise UploadRefused(f"Too many files: at most {caps.max_files} per upload.")
                size = path.stat().st_size
                written += size
                if written > caps.max_total_bytes:
                    raise UploadRefused(_too_big(caps))
                target = workspace.confine(staging, path.name)
                shutil.copyfile(path, target)
                kept += 1
            else:
                skipped += 1
        if kept == 0:
            raise UploadRefused("The upload held no images: upload PNG/JPEG/WebP/BMP/GIF files, or a zip of a "
                                "folder of them (with an optional metadata.jsonl of captions).")
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return kept, skipped


def _too_big(caps: UploadCaps) -> str:
    return f"The upload unpacks to more than {caps.max_total_bytes // 1024**2} MB; upload less at a time."


def _unpack_zip(path: Path, staging: Path, caps: UploadCaps, written_before: int, count_before: int):
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise UploadRefused(f"{path.name} is not a readable zip file.") from None
    with archive:
        entries = archive.infolist()
        if count_before + len(entries) > caps.max_files:
            raise UploadRefused(f"{path.name} holds {len(entries)} entries; at most {caps.max_files} per upload.")
        if written_before + sum(entry.file_size for entry in entries) > caps.max_total_bytes:
            raise UploadRefused(_too_big(caps))
        plan = []
        for entry in entries:
            mode = entry.external_attr >> 16
            if entry.is_dir():
                continue
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # 0: no type recorded (a plain file)
                raise UploadRefused(f"{path.name}: {entry.filename!r} is a link or special file; zips of plain "
                                    "files only.")
            try:
                target = workspace.confine(staging, entry.filename)
            except workspace.PathRefused:
                raise UploadRefused(f"{path.name}: the entry {entry.filename!r} would be written outside its "
                                    "folder (zip-slip); the zip was refused, nothing was kept.") from None
            if entry.file_size > caps.max_ratio * max(entry.compress_size, 1):
                raise UploadRefused(f"{path.name}: {entry.filename!r} inflates {entry.file_size} bytes from "
                                    f"{entry.compress_size} (a zip bomb?); refused.")
            plan.append((entry, target))
        try:
            return _write_entries(archive, plan, caps, written_before)
        except (zipfile.BadZipFile, zlib.error, EOFError, FileExistsError):  # damaged, lying sizes, a name twice
            raise UploadRefused(f"{path.name} is damaged (an entry does not match its header); refused.") from None


def _write_entries(archive: zipfile.ZipFile, plan, caps: UploadCaps, written_before: int):
    kept = skipped = written = 0
    for entry, target in plan:
        name = os.path.basename(entry.filename)
        if name.startswith(".") or not name.lower().endswith(KEPT_EXTENSIONS):
            skipped += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(entry) as source, open(target, "xb") as sink:
            entry_bytes = 0
            while chunk := source.read(CHUNK):
                entry_bytes += len(chunk)
                written += len(chunk)
                if entry_bytes > entry.file_size or written_before + written > caps.max_total_bytes:
                    raise UploadRefused(_too_big(caps))
                sink.write(chunk)
        kept += 1
    return kept, skipped, written


def zip_folder(folder: Path) -> bytes:
    """The regular files below `folder` (links skipped) as a zip, paths relative to the folder."""
    if not folder.is_dir():
        raise InputError(f"There is no folder {folder.name!r} to download; save the model first.")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for parent, subfolders, files in os.walk(folder):
            subfolders.sort()
            for name in sorted(files):
                path = Path(parent) / name
                if path.is_symlink() or not path.is_file():
                    continue
                archive.write(path, str(path.relative_to(folder)))
    return buffer.getvalue()
