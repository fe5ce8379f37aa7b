"""The lessons' disk cache: keyed by the weights' sha256, computed once, never unpickled."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from tests.lessons.conftest import REPOSITORY
from vaestudio.lessons import cache


@pytest.fixture()
def own_model(tmp_path, monkeypatch):
    """A copy of a shipped model that the test may change, as the role 'vae'."""
    folder = tmp_path / "model"
    shutil.copytree(os.path.join(REPOSITORY, "pretrained", "digits-vae-z2"), folder)
    monkeypatch.setenv("VAESTUDIO_LESSON_MODELS", json.dumps({"vae": str(folder)}))
    monkeypatch.setenv("VAESTUDIO_CACHE", str(tmp_path / "cache"))
    return folder


def test_computed_once_then_read_back_and_recomputed_when_the_weights_change(own_model):
    calls = []

    def compute():
        calls.append(1)
        return {"values": np.arange(3.0), "count": 7}

    first = cache.cached("demo", ("vae",), {"k": 5}, compute)
    second = cache.cached("demo", ("vae",), {"k": 5}, compute)
    assert len(calls) == 1 and np.array_equal(second["values"], [0.0, 1.0, 2.0]) and int(second["count"]) == 7
    assert np.array_equal(first["values"], second["values"])
    cache.cached("demo", ("vae",), {"k": 6}, compute)  # other arguments: another entry
    assert len(calls) == 2
    weights = own_model / "model.safetensors"
    content = bytearray(weights.read_bytes())
    content[-1] ^= 1  # retrained weights (one bit differs): a new key
    weights.write_bytes(bytes(content))
    cache.cached("demo", ("vae",), {"k": 5}, compute)
    assert len(calls) == 3
    files = os.listdir(cache.lesson_cache_directory())
    assert len(files) == 3 and all(name.endswith(".npz") for name in files)
    assert cache.lesson_cache_directory().startswith(os.environ["VAESTUDIO_CACHE"])


def test_a_damaged_entry_is_computed_again(own_model):
    cache.cached("demo", ("vae",), {}, lambda: {"x": np.ones(2)})
    (entry,) = os.listdir(cache.lesson_cache_directory())
    with open(os.path.join(cache.lesson_cache_directory(), entry), "wb") as stream:
        stream.write(b"not a zip")
    assert np.array_equal(cache.cached("demo", ("vae",), {}, lambda: {"x": np.zeros(2)})["x"], [0.0, 0.0])


def test_object_arrays_are_refused_rather_than_pickled(own_model):
    with pytest.raises(ValueError, match="numeric arrays only"):
        cache.cached("demo", ("vae",), {}, lambda: {"x": np.array([{"a": 1}], dtype=object)})
    assert not os.path.isdir(cache.lesson_cache_directory()) or not os.listdir(cache.lesson_cache_directory())
