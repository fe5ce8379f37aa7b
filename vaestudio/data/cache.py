"""Rendered arrays cached as ``.npy`` files under ``~/.cache/vaestudio`` (or ``$VAESTUDIO_CACHE``).

Arrays are written atomically (temporary file, then rename), so parallel workers that render the same
chunk never see half a file, and read back with ``np.load(..., allow_pickle=False, mmap_mode="r")``:
nothing is ever unpickled. A cache key names everything the content depends on (a fingerprint of
the generating code, the options, the library versions); a changed key is a new folder, so an edit
to the generator can never serve stale images.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from collections.abc import Callable
from types import ModuleType

import numpy as np

CACHE_ENVIRONMENT_VARIABLE = "VAESTUDIO_CACHE"


def cache_root() -> str:
    return os.environ.get(CACHE_ENVIRONMENT_VARIABLE) or os.path.join(
        os.path.expanduser("~"), ".cache", "vaestudio"
    )


def code_fingerprint(*modules: ModuleType) -> str:
    """A hash of the source code of ``modules``: part of a cache key, so any code change makes a new key."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(inspect.getsource(module).encode("utf-8"))
    return digest.hexdigest()[:16]


def key_folder(namespace: str, key: dict, root: str | None = None) -> str:
    """A folder for one cache key: ``root/namespace/<hash of key>``, with the key saved as key.json."""
    text = json.dumps(key, sort_keys=True)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    folder = os.path.join(root or cache_root(), namespace, digest)
    os.makedirs(folder, exist_ok=True)
    key_path = os.path.join(folder, "key.json")
    if not os.path.exists(key_path):
        with open(key_path, "w", encoding="utf-8") as stream:
            stream.write(text + "\n")
    return folder


def save_array(path: str, array: np.ndarray) -> None:
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".npy")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, np.ascontiguousarray(array), allow_pickle=False)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def load_array(path: str) -> np.ndarray:
    return np.load(path, allow_pickle=False, mmap_mode="r")


def cached_array(path: str, make: Callable[[], np.ndarray]) -> np.ndarray:
    """The array at ``path``; made and saved first if absent (or unreadable, e.g. a damaged file)."""
    if os.path.exists(path):
        try:
            return load_array(path)
        except (ValueError, OSError):
            pass
    array = make()
    save_array(path, array)
    return array


class ChunkedArrayCache:
    """Item i of a long series lives in chunk ``i // chunk_size``; a chunk is rendered on first use.

    ``render_chunk(start, stop)`` returns the stacked items [start, stop). Open chunks are memory-mapped,
    so worker processes share the page cache instead of copies.
    """

    def __init__(self, folder: str, chunk_size: int, render_chunk: Callable[[int, int], np.ndarray]) -> None:
        self.folder, self.chunk_size, self.render_chunk = folder, chunk_size, render_chunk
        self._open: dict[int, np.ndarray] = {}

    def chunk(self, chunk_index: int) -> np.ndarray:
        if chunk_index not in self._open:
            start = chunk_index * self.chunk_size
            path = os.path.join(self.folder, f"chunk-{chunk_index:06d}.npy")
            self._open[chunk_index] = cached_array(
                path, lambda: self.render_chunk(start, start + self.chunk_size)
            )
        return self._open[chunk_index]

    def __getitem__(self, index: int) -> np.ndarray:
        return np.array(self.chunk(index // self.chunk_size)[index % self.chunk_size])  # a writable copy

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_open"] = {}  # memory maps are reopened in each worker process
        return state
