"""What several tabs do the same way: read an upload, show an image, hand out a file.

Images go back to Gradio as files of our own (unique names, written in full before Gradio sees
them), never as PIL objects: Gradio saves a PIL output by rewriting a file named after its content
hash in place, so two sessions producing the same picture at once could serve a half-written file.
"""

from __future__ import annotations

import io
import tempfile
import threading
import time
import uuid
from pathlib import Path

from PIL import Image

from studio import limits, pictures
from studio.engine_api import InputError, StudioEngine
from studio.uploads import FileReference

_FILES = Path(tempfile.gettempdir()) / "vaestudio-studio"
_FILES_KEPT_SECONDS = 600  # Gradio copies each file into its own cache as the event ends
_PRUNE_EVERY_SECONDS = 60
_last_prune = [0.0]
_prune_lock = threading.Lock()

# Engine work shares one pool of workers (the CPU), whichever tab asks.
ENGINE_QUEUE = {"concurrency_id": "engine", "concurrency_limit": limits.ENGINE_CONCURRENCY}


def read_upload(engine: StudioEngine, reference: FileReference | None, what: str = "an image") -> Image.Image:
    """The upload through the engine's policy (pixel cap before decoding); a clear error if absent."""
    if reference is None or reference == b"":
        raise InputError(f"Upload {what} first (drop a file, paste, or use the webcam).")
    return engine.read_image(reference, limits.MAX_PIXELS)


def show(image: Image.Image | None) -> str | None:
    """A model-sized image enlarged (crisp, nearest neighbour) for the screen, as a PNG file."""
    if image is None:
        return None
    buffer = io.BytesIO()
    pictures.enlarge(image, limits.DISPLAY_SIZE).save(buffer, format="PNG")
    return write_file(buffer.getvalue(), ".png")


def write_file(content: bytes, suffix: str) -> str:
    """Bytes saved, in full, to a fresh file in the studio's temp folder (which Gradio may serve)."""
    _FILES.mkdir(parents=True, exist_ok=True)
    path = _FILES / f"{uuid.uuid4().hex}{suffix}"
    staging = path.with_name(f".{path.name}")
    staging.write_bytes(content)
    staging.replace(path)
    _prune()
    return str(path)


def _prune() -> None:
    """Deletes the studio's files older than ten minutes, at most once a minute."""
    now = time.time()
    with _prune_lock:
        if now - _last_prune[0] < _PRUNE_EVERY_SECONDS:
            return
        _last_prune[0] = now
    for file in _FILES.iterdir():
        try:
            if now - file.stat().st_mtime > _FILES_KEPT_SECONDS:
                file.unlink()
        except FileNotFoundError:  # another request pruned it first
            pass
