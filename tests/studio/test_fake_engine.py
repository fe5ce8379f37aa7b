"""The FakeEngine is deterministic and checks its inputs like the real one."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.engine_api import InputError, ModelError
from studio.fake_engine import FakeEngine


@pytest.fixture(scope="module")
def engine():
    return FakeEngine()


def test_same_inputs_same_pictures(engine):
    first = engine.text_to_image("fake-shapes-vqvae", "a green square", 2, 3, 1.0, 0, 4)
    again = engine.text_to_image("fake-shapes-vqvae", "a green square", 2, 3, 1.0, 0, 4)
    assert [item.score for item in first.images] == [item.score for item in again.images]
    assert all(np.array_equal(np.asarray(a.image), np.asarray(b.image)) for a, b in zip(first.images, again.images))


def test_stream_yields_one_partial_gallery_per_row_then_the_scored_one(engine):
    generations = list(engine.text_to_image_stream("fake-shapes-vqvae", "a red circle", 2, 0, 1.0, 0, 2))
    assert [generation.done for generation in generations] == [False] * (len(generations) - 1) + [True]
    assert all(item.score is None for generation in generations[:-1] for item in generation.images)
    assert all(item.score is not None for item in generations[-1].images)


def test_encoding_round_trip_is_the_reconstruction(engine):
    encoding = engine.encode("fake-digits-vae", Image.new("RGB", (30, 50), (90, 90, 90)))
    assert len(encoding.sliders) == 8
    decoded = engine.decode_sliders("fake-digits-vae", encoding.state,
                                    engine.reset_slider_values("fake-digits-vae", encoding.state), {})
    assert np.array_equal(np.asarray(decoded), np.asarray(encoding.reconstruction))


def test_unknown_models_and_missing_capabilities_are_model_errors(engine):
    with pytest.raises(ModelError, match="no model called"):
        engine.manifold_grid("nope", 4)
    with pytest.raises(ModelError, match="Pick a model first"):
        engine.manifold_grid(None, 4)
    with pytest.raises(InputError, match=r"grid size must be an integer in \[2, 40\]"):
        engine.manifold_grid("fake-digits-vae", 100)
