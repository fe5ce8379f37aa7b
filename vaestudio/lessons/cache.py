"""Loaded models and heavy results, kept between renders.

- :func:`load_role` loads the model of a lesson role once per process.
- :func:`cached` keeps a lesson's heavy arrays on disk under ``<cache root>/lessons`` (the root is
  ``$VAESTUDIO_CACHE`` or ``~/.cache/vaestudio``, never the repository), keyed by the lesson, its
  arguments and the sha256 of the models' weights: retrained weights are a new key, so a figure is
  never drawn from another model's numbers. Files are ``.npz`` written atomically and read with
  ``allow_pickle=False``: nothing is unpickled.
- The heavy results of every lesson's default view also ship, under ``pretrained/lesson-cache``
  (``scripts/ship_lesson_cache.py`` writes them; ``$VAESTUDIO_LESSON_SHIPPED_CACHE`` names another
  folder, empty for none): a fresh machine's first render reads them instead of computing for seconds.
  The same keys apply, so a retrained model simply misses them and computes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from vaestudio.data.cache import cache_root
from vaestudio.lessons.base import LessonError
from vaestudio.lessons.models import model_for

_models: dict[str, object] = {}
_weights: dict[tuple[str, float, int], str] = {}
_lock = threading.Lock()


def load_role(role: str):
    """The model (or bundle) of a lesson role, loaded once per process, in eval mode."""
    from vaestudio.hub import ModelNotFoundError, load

    name = model_for(role)
    with _lock:
        if name not in _models:
            try:
                _models[name] = load(name)
            except ModelNotFoundError as error:
                raise LessonError(f"this lesson needs the model {name!r} (role {role!r}), which is not here: "
                                  f"{error}. Ship it (recipes/{name}.toml) or point the role at another model "
                                  "in vaestudio/lessons/models.py") from None
        return _models[name]


def role_folder(role: str) -> str:
    from vaestudio.hub import resolve

    return resolve(model_for(role))


def weights_digest(folder: str) -> str:
    """sha256 of every ``*.safetensors`` under a model or bundle folder (sorted by path), 16 hex digits."""
    files = sorted(os.path.join(root, name) for root, _, names in os.walk(folder)
                   for name in names if name.endswith(".safetensors"))
    if not files:
        raise LessonError(f"{folder} holds no weights (*.safetensors)")
    digest = hashlib.sha256()
    for path in files:
        status = os.stat(path)
        memo_key = (path, status.st_mtime, status.st_size)
        if memo_key not in _weights:
            with open(path, "rb") as stream:
                _weights[memo_key] = hashlib.file_digest(stream, "sha256").hexdigest()
        digest.update(_weights[memo_key].encode())
    return digest.hexdigest()[:16]


def lesson_cache_directory() -> str:
    return os.path.join(cache_root(), "lessons")


def shipped_cache_directory() -> str | None:
    """The read-only cache shipped beside the models, or None when ``$VAESTUDIO_LESSON_SHIPPED_CACHE`` is empty."""
    from vaestudio.hub import pretrained_directory

    setting = os.environ.get("VAESTUDIO_LESSON_SHIPPED_CACHE")
    if setting is None:
        return os.path.join(pretrained_directory(), "lesson-cache")
    return setting or None


def _read_entry(path: str) -> dict[str, np.ndarray] | None:
    if not os.path.isfile(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    except (OSError, ValueError):  # a damaged file: compute again (and replace it, in the user's cache)
        return None


def cached(lesson: str, roles: Sequence[str], arguments: Mapping[str, object],
           compute: Callable[[], Mapping[str, np.ndarray | float | int]]) -> dict[str, np.ndarray]:
    """``compute()``'s arrays, from the cache when the same lesson, arguments and weights made them before."""
    key = {"lesson": lesson, "arguments": dict(arguments),
           "weights": {role: weights_digest(role_folder(role)) for role in roles}}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    directory = lesson_cache_directory()
    path = os.path.join(directory, f"{lesson}-{digest}.npz")
    shipped = shipped_cache_directory()
    for candidate in (path, os.path.join(shipped, os.path.basename(path)) if shipped else None):
        if candidate and (stored := _read_entry(candidate)) is not None:
            return stored
    arrays = {name: np.asarray(value) for name, value in compute().items()}
    if any(array.dtype == object for array in arrays.values()):
        raise ValueError(f"the {lesson} cache holds numeric arrays only: an object array would be pickled")
    os.makedirs(directory, exist_ok=True)
    handle, staging = tempfile.mkstemp(dir=directory, suffix=".npz.tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
        os.replace(staging, path)
    except BaseException:
        if os.path.exists(staging):
            os.unlink(staging)
        raise
    return arrays
