"""What several tabs do the same way: read an upload, show a small image, hand out a file."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from PIL import Image

from studio import limits, pictures
from studio.engine_api import InputError, StudioEngine
from studio.uploads import FileReference

_FILES = Path(tempfile.gettempdir()) / "vaestudio-studio"
_FILES_KEPT = 200  # older files go; Gradio has copied them to its own cache by then


def read_upload(engine: StudioEngine, reference: FileReference | None, what: str = "an image") -> Image.Image:
    """The upload through the engine's policy (pixel cap before decoding); a clear error if absent."""
    if reference is None or reference == b"":
        raise InputError(f"Upload {what} first (drop a file, paste, or use the webcam).")
    return engine.read_image(reference, limits.MAX_PIXELS)


def show(image: Image.Image | None) -> Image.Image | None:
    """A model-sized image enlarged (crisp, nearest neighbour) for the screen."""
    return None if image is None else pictures.enlarge(image, limits.DISPLAY_SIZE)


def write_file(content: bytes, suffix: str) -> str:
    """Bytes saved to a fresh file in the studio's temp folder (which Gradio may serve)."""
    _FILES.mkdir(parents=True, exist_ok=True)
    path = _FILES / f"{uuid.uuid4().hex}{suffix}"
    path.write_bytes(content)
    _prune()
    return str(path)


def _prune() -> None:
    files = sorted(_FILES.iterdir(), key=lambda file: file.name)
    if len(files) <= _FILES_KEPT:
        return
    ages = []
    for file in files:
        try:
            ages.append((file.stat().st_mtime, file))
        except FileNotFoundError:  # another request pruned it first
            pass
    for _, old in sorted(ages)[:-_FILES_KEPT]:
        old.unlink(missing_ok=True)


# Engine work shares one pool of workers (the CPU), whichever tab asks.
ENGINE_QUEUE = {"concurrency_id": "engine", "concurrency_limit": limits.ENGINE_CONCURRENCY}
