"""Fixtures for the lesson tests: a private cache folder, and each lesson rendered once per session."""

from __future__ import annotations

import functools
import os

import pytest

from vaestudio.lessons import render
from vaestudio.lessons.models import LESSON_MODELS

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """The lessons' disk cache in a fresh folder: every test computes what it checks at least once."""
    saved = {name: os.environ.get(name) for name in ("VAESTUDIO_CACHE", "VAESTUDIO_PRETRAINED",
                                                     "VAESTUDIO_LESSON_SHIPPED_CACHE")}
    os.environ["VAESTUDIO_CACHE"] = str(tmp_path_factory.mktemp("lesson-cache"))
    os.environ["VAESTUDIO_LESSON_SHIPPED_CACHE"] = ""  # the shipped results are checked on their own (test_shipped_cache)
    os.environ.pop("VAESTUDIO_PRETRAINED", None)  # the shipped zoo
    missing = [name for name in set(LESSON_MODELS.values())
               if not os.path.isdir(os.path.join(REPOSITORY, "pretrained", name))]
    if missing:
        pytest.fail(f"the lessons' models are missing from pretrained/: {missing} (they ship with the repository; "
                    "scripts/train_zoo.sh trains them, docs/lessons.md)")
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@functools.lru_cache(maxsize=None)
def rendered(name: str, value: float | None = None):
    """A lesson rendered once per (name, value) per session."""
    return render(name, value)
