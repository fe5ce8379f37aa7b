"""The worlds' tests write render caches under a temporary folder, as the data tests do."""

from tests.data.conftest import session_cache, temporary_cache  # noqa: F401  (fixtures)
