"""The shapes cache key follows the generating code, so an edited generator never serves stale images."""

from __future__ import annotations

import types

from vaestudio.data import cache
from vaestudio.worlds.shapes import source as shapes


def _module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__["__source__"] = source
    return module


def test_fingerprint_changes_with_the_source(monkeypatch):
    sources = {"first": "def render():\n    return 1\n", "second": "def render():\n    return 2\n"}
    monkeypatch.setattr(cache.inspect, "getsource", lambda module: module.__dict__["__source__"])
    first = cache.code_fingerprint(_module("a", sources["first"]))
    again = cache.code_fingerprint(_module("a", sources["first"]))
    second = cache.code_fingerprint(_module("a", sources["second"]))
    assert first == again
    assert first != second


def test_shapes_cache_folder_moves_when_the_renderer_changes(monkeypatch, tmp_path):
    before = shapes.ShapesSource("train", num_images=4, cache_dir=str(tmp_path))._cache.folder
    original = cache.inspect.getsource
    monkeypatch.setattr(cache.inspect, "getsource", lambda module: original(module) + "\n# edited\n")
    after = shapes.ShapesSource("train", num_images=4, cache_dir=str(tmp_path))._cache.folder
    assert before != after
