"""pretrained/lesson-cache: every lesson's default view renders from it on a fresh machine, and what it
holds is what the lessons compute (scripts/ship_lesson_cache.py writes it)."""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from tests.lessons.conftest import REPOSITORY
from vaestudio.lessons import list_lessons, render
from vaestudio.lessons.cache import lesson_cache_directory

SHIPPED = os.path.join(REPOSITORY, "pretrained", "lesson-cache")


def _written(directory: str) -> list[str]:
    return sorted(os.path.basename(path) for path in glob.glob(os.path.join(directory, "*.npz")))


def test_every_default_view_reads_the_shipped_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAESTUDIO_CACHE", str(tmp_path))
    monkeypatch.delenv("VAESTUDIO_LESSON_SHIPPED_CACHE")  # the shipped folder, as on a fresh machine
    for lesson in list_lessons():
        render(lesson.name, None)
    computed = _written(lesson_cache_directory())
    assert computed == [], (f"computed instead of read from {SHIPPED}: {computed}; a lesson model changed "
                            "or a lesson caches something new: run python scripts/ship_lesson_cache.py")


def test_the_shipped_entries_are_what_the_lessons_compute(tmp_path, monkeypatch):
    monkeypatch.setenv("VAESTUDIO_CACHE", str(tmp_path))  # and no shipped cache (the session's setting)
    render("vq-vae", None)
    computed = _written(lesson_cache_directory())
    assert computed and set(computed) <= set(_written(SHIPPED))
    for name in computed:
        with np.load(os.path.join(lesson_cache_directory(), name)) as fresh, \
                np.load(os.path.join(SHIPPED, name)) as shipped:
            assert fresh.files == shipped.files
            for key in fresh.files:
                np.testing.assert_allclose(fresh[key], shipped[key], rtol=1e-5, err_msg=f"{name}: {key}")


@pytest.mark.parametrize("name", _written(SHIPPED))
def test_shipped_entries_hold_numbers_only(name):
    with np.load(os.path.join(SHIPPED, name), allow_pickle=False) as stored:
        assert stored.files and all(stored[key].dtype != object for key in stored.files)
