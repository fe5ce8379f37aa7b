"""Every data test writes its render caches under a temporary folder, never under ~/.cache."""

import pytest

from vaestudio.data.cache import CACHE_ENVIRONMENT_VARIABLE


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("vaestudio-cache"))


@pytest.fixture(autouse=True)
def temporary_cache(session_cache, monkeypatch):
    monkeypatch.setenv(CACHE_ENVIRONMENT_VARIABLE, session_cache)
    return session_cache
