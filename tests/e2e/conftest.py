"""Fixtures for the end-to-end tests: the real engine on the shipped models, served on localhost.

The zoo ships in pretrained/ (or VAESTUDIO_PRETRAINED points elsewhere): a missing zoo is a failure."""

from __future__ import annotations

import pytest
from gradio_client import Client

from studio.engine import Engine
from studio.engine_api import Capability
from tests.studio.support import running_studio
from vaestudio.hub import pretrained_directory, shipped_names


@pytest.fixture(scope="session")
def real_engine(tmp_path_factory) -> Engine:
    if not shipped_names():
        pytest.fail(f"{pretrained_directory()} has no models: the shipped zoo is missing (train it with make train-zoo)")
    engine = Engine(runs_dir=tmp_path_factory.mktemp("studio-runs"))
    assert engine.list_models(), "pretrained/ has model folders but none loaded: see the log above"
    return engine


@pytest.fixture(scope="session")
def real_studio_url(real_engine):
    with running_studio(real_engine) as url:
        yield url


@pytest.fixture()
def real_client(real_studio_url) -> Client:
    return Client(real_studio_url, verbose=False)


def model_that_can(engine: Engine, capability: Capability) -> str:
    """The first shipped model with `capability`; the zoo must have one."""
    names = [info.name for info in engine.list_models() if info.can(capability)]
    assert names, f"no shipped model can do {capability.value}; the zoo should cover every tab"
    return names[0]
