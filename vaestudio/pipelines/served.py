"""A model being served (by the studio): what it is (``hub.describe``), the loaded model or bundle, what it can
do, and its pipelines, built once on first use and shared by the requests that follow."""

from __future__ import annotations

import threading
from typing import Any

from vaestudio import hub
from vaestudio.pipelines.capabilities import capabilities
from vaestudio.pipelines.editing import Editor
from vaestudio.pipelines.photo_editing import PhotoEditing
from vaestudio.pipelines.text_to_image import TextToImage

PIPELINES = {"text_to_image": TextToImage, "editor": Editor, "photo_editing": PhotoEditing}


class ServedModel:
    def __init__(self, name_or_path: str, device: str = "cpu") -> None:
        self.description = hub.describe(name_or_path)
        self.model = hub.load(self.description.directory, device)
        self._pipelines: dict[str, Any] = {}
        self._lock = threading.Lock()
        try:
            editor = self.pipeline("editor")
        except (TypeError, ValueError, KeyError):  # a prior or scorer alone, a two-level VQ-VAE: nothing to edit
            editor = None
        self.capabilities = capabilities(self.model, editor)

    def pipeline(self, kind: str) -> Any:
        """The ``text_to_image``, ``editor`` or ``photo_editing`` pipeline over this model (ValueError/TypeError when it has none)."""
        with self._lock:
            if kind not in self._pipelines:
                self._pipelines[kind] = PIPELINES[kind](self.model)
            return self._pipelines[kind]
