"""Fixtures for the studio's UI tests: the FakeEngine, served once per session, and clients."""

from __future__ import annotations

import pytest
from gradio_client import Client

from studio.fake_engine import FakeEngine
from tests.studio.support import running_studio


@pytest.fixture(scope="session")
def fake_engine() -> FakeEngine:
    return FakeEngine(step_delay=0.01)


@pytest.fixture(scope="session")
def studio_url(fake_engine):
    with running_studio(fake_engine) as url:
        yield url


@pytest.fixture()
def client(studio_url) -> Client:
    """A fresh client: its own session, so its own encoded image and scatter."""
    return Client(studio_url, verbose=False)
