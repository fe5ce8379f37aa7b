"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable


def atomic_write(path: str, write: Callable[[str], object]) -> None:
    """Calls ``write(temporary_path)`` on a temporary file beside ``path``, flushes it to disk (fsync) and
    renames it over ``path``; on any error the temporary file is removed and ``path`` is left as it was."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def atomic_write_text(path: str, text: str) -> None:
    """``text`` (UTF-8) written to ``path`` atomically."""

    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as stream:
            stream.write(text)

    atomic_write(path, write)


def print_report(report: dict, out: str | None = None, sort_keys: bool = False) -> None:
    """Prints a measurement report as JSON and, with ``out``, writes the same text there (atomically)."""
    import json

    text = json.dumps(report, indent=2, sort_keys=sort_keys)
    print(text)
    if out:
        atomic_write_text(out, text + "\n")
