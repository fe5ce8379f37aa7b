"""Where a visitor's paths may point: the confinement rule of hosted mode (pure Python, no torch).

In hosted mode (a public Space) every path a visitor types is read inside that visitor's own workspace,
``ROOT/<visitor>/``: it must be relative, without ``..``, ``~``, backslashes, percent-escapes, NUL or
other control characters, or Unicode that normalises into something else (fullwidth dots and
slashes); and once resolved, symlinks followed, it must still lie inside the workspace. Anything
else is refused with :class:`PathRefused`, whose message says what to type instead. Local mode keeps
full paths: :class:`studio.hosting.Hosting` only applies this rule when hosted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import unicodedata
import urllib.parse
from pathlib import Path, PurePosixPath

from studio.engine_api import InputError

ENVIRONMENT_ROOT = "VAESTUDIO_WORKSPACES"  # where the workspaces live (default: TMPDIR/vaestudio-workspaces)


class PathRefused(InputError):
    """A path outside the visitor's workspace (the web's 403): the message says what to type instead."""


def _refuse(path: str, why: str) -> PathRefused:
    shown = repr(path) if len(path) <= 80 else repr(path[:77] + "...")
    return PathRefused(
        f"Refused (403): {shown} {why}. This hosted studio only reads and writes inside your own workspace: "
        "type a name relative to it, such as runs/my-model or uploads/my-data (upload data first)."
    )


def confine(workspace: Path, user_path: str) -> Path:
    """The absolute, resolved path `user_path` names inside `workspace`; PathRefused if it leaves it."""
    text = user_path if isinstance(user_path, str) else ""
    if "\x00" in text or any(unicodedata.category(character) == "Cc" for character in text):
        raise _refuse(text.replace("\x00", "\\0"), "holds a NUL or control character")
    text = text.strip()
    if not text:
        raise _refuse(text, "is empty")
    if unicodedata.normalize("NFKC", text) != text:
        raise _refuse(text, "holds characters that stand in for others (e.g. fullwidth dots or slashes)")
    if urllib.parse.unquote(text) != text:
        raise _refuse(text, "holds percent-escapes (%2e, %2f...); type the plain name")
    if "\\" in text:
        raise _refuse(text, "holds a backslash; separate folders with /")
    if text.startswith("~"):
        raise _refuse(text, "starts with ~ (a home folder on the server)")
    relative = PurePosixPath(text)
    if relative.is_absolute():
        raise _refuse(text, "is an absolute path on the server")
    if ".." in relative.parts:
        raise _refuse(text, "climbs out with ..")
    home = workspace.resolve()
    resolved = (home / relative).resolve()  # symlinks followed, wherever they point
    if resolved != home and not resolved.is_relative_to(home):
        raise _refuse(text, "leads outside your workspace (through a link)")
    return resolved


def visitor_name(visitor_key: str) -> str:
    """A visitor's workspace folder name: a hash of their session key, never the key itself."""
    return hashlib.sha256((visitor_key or "anonymous").encode()).hexdigest()[:24]


def default_root() -> Path:
    import tempfile

    return Path(os.environ.get(ENVIRONMENT_ROOT) or Path(tempfile.gettempdir()) / "vaestudio-workspaces")


def folder_size(folder: Path) -> int:
    """Bytes of the regular files below `folder` (links are not followed)."""
    total = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except FileNotFoundError:
                pass
    return total


def expire(root: Path, max_age_seconds: float, keep: frozenset[str] = frozenset(), now: float | None = None) -> list[str]:
    """Deletes the workspaces under `root` unused (mtime) for longer than `max_age_seconds`; returns their names.

    `keep`: names never deleted (a visitor with a training still running)."""
    now = time.time() if now is None else now
    removed = []
    if not root.is_dir():
        return removed
    for entry in root.iterdir():
        if entry.name in keep or entry.is_symlink() or not entry.is_dir():
            continue
        try:
            if now - entry.stat().st_mtime > max_age_seconds:
                shutil.rmtree(entry)
                removed.append(entry.name)
        except FileNotFoundError:  # another request expired it first
            pass
    return removed
