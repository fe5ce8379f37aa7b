"""Image inputs that hand the handler the uploaded file itself, undecoded.

Gradio's own Image and ImageMask open and convert uploads before the handler runs, where a bad file
fails with a message the user never sees and a decompression bomb is decoded before any check. These
subclasses keep Gradio's widgets (same frontend) but pass on the upload as a path (or the bytes of
a canvas blob), so the engine's `read_image` applies the upload policy, pixel cap first.
"""

from __future__ import annotations

import base64

import gradio as gr

FileReference = str | bytes  # a path in Gradio's upload cache, or a file's bytes


def _reference(file) -> FileReference | None:
    """The path or bytes behind an uploaded file payload (FileData, raw bytes, or a data: URL)."""
    if file is None:
        return None
    if isinstance(file, (bytes, bytearray, memoryview)):
        return bytes(file)
    url = getattr(file, "url", None)
    if url and url.startswith("data:"):
        return base64.b64decode(url.split(",", 1)[1])
    return getattr(file, "path", None)


class UploadedImage(gr.Image):
    """gr.Image whose handler value is the upload's path (or bytes), not a decoded image."""

    is_template = True  # the frontend is gr.Image's

    def preprocess(self, payload) -> FileReference | None:
        return _reference(payload)


class UploadedMask(gr.ImageMask):
    """gr.ImageMask whose handler value is {"background": ref, "layers": [ref, ...]}, undecoded."""

    is_template = True

    def get_block_name(self) -> str:  # the frontend is gr.ImageEditor's (ImageMask is itself a template)
        return "imageeditor"

    def get_block_class(self) -> str:
        return "imageeditor"

    def preprocess(self, payload) -> dict | None:
        if payload is None:
            return None
        value = payload
        if getattr(payload, "id", None) is not None:  # the browser sent the canvas as blobs beforehand
            value = self.blob_storage.pop(payload.id, None)
            if value is None:
                return None
        layers = [_reference(layer) for layer in (getattr(value, "layers", None) or [])]
        return {
            "background": _reference(getattr(value, "background", None)),
            "layers": [layer for layer in layers if layer is not None],
            "composite": _reference(getattr(value, "composite", None)),
        }
