"""The models an engine serves, by name, with the checks every engine method starts with."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

from studio.engine_api import Capability, ModelError, ModelInfo

Handle = TypeVar("Handle")  # what the engine keeps per model (a loaded model, a fake's settings)

CAPABILITY_WORDS = {
    Capability.TEXT_TO_IMAGE: "text-to-image",
    Capability.ENCODE: "encoding and latent sliders",
    Capability.ATTRIBUTES: "attribute vectors",
    Capability.INTERPOLATE: "interpolation",
    Capability.INPAINT: "inpainting",
    Capability.MANIFOLD: "a 2-D manifold grid",
    Capability.SCATTER: "a latent scatter",
    Capability.CODEBOOK: "codebook usage",
    Capability.PRIOR: "prior samples",
}


class Catalogue(Generic[Handle]):
    def __init__(self) -> None:
        self._entries: dict[str, tuple[ModelInfo, Handle]] = {}
        self._lock = threading.Lock()

    def add(self, info: ModelInfo, handle: Handle) -> None:
        with self._lock:
            self._entries[info.name] = (info, handle)

    def infos(self) -> list[ModelInfo]:
        with self._lock:
            return [info for info, _ in self._entries.values()]

    def unique_name(self, wanted: str) -> str:
        """`wanted`, or `wanted-2`, `wanted-3`... whichever is free."""
        with self._lock:
            name, number = wanted, 1
            while name in self._entries:
                number += 1
                name = f"{wanted}-{number}"
            return name

    def get(self, name: str | None) -> tuple[ModelInfo, Handle] | None:
        """The model called `name` and its handle, or None."""
        with self._lock:
            return self._entries.get(name or "")

    def require(self, name: str | None, capability: Capability) -> tuple[ModelInfo, Handle]:
        """The model called `name`, checked to have `capability`; else a ModelError saying which can."""
        able = [info.name for info in self.infos() if info.can(capability)]
        offer = (
            f"Models that can: {', '.join(able)}."
            if able
            else "No loaded model can; load or train one in the Models or Train tab."
        )
        if not name:
            raise ModelError(f"Pick a model first. {offer}")
        with self._lock:
            entry = self._entries.get(name)
        if entry is None:
            raise ModelError(f"There is no model called {name!r}. {offer}")
        info, handle = entry
        if not info.can(capability):
            raise ModelError(f"{name} ({info.family}) cannot do {CAPABILITY_WORDS[capability]}. {offer}")
        return info, handle
