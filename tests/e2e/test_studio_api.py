"""The studio's endpoints through gradio_client, on the real engine and the shipped models."""

from __future__ import annotations

import time

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from studio import limits
from studio.engine_api import Capability
from tests.e2e.conftest import model_that_can
from tests.studio.support import UPLOAD_CASE_NAMES, plain_image, upload_cases

pytestmark = pytest.mark.e2e


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)


def test_text_to_image_on_a_shipped_model(real_client, real_engine):
    model = model_that_can(real_engine, Capability.TEXT_TO_IMAGE)
    gallery, reading = real_client.predict(model, "a red circle", 4, 0, 1.0, 0, 8, api_name="/text_to_image")
    assert len(gallery) == 4 and "The model read" in reading
    assert all(item["caption"] != "sampling…" for item in gallery), "the final gallery is complete"
    scores = [float(item["caption"].removeprefix("score ")) for item in gallery if item["caption"]]
    assert scores == sorted(scores, reverse=True)  # best first when the model has a scorer
    again, _ = real_client.predict(model, "a red circle", 4, 0, 1.0, 0, 8, api_name="/text_to_image")
    assert [item["caption"] for item in again] == [item["caption"] for item in gallery], "same seed, same images"


def test_encode_then_move_a_slider(real_client, real_engine, tmp_path):
    model = model_that_can(real_engine, Capability.ENCODE)
    outputs = real_client.predict(model, handle_file(str(plain_image(tmp_path / "a.png", size=(80, 60)))),
                                  api_name="/encode")
    sliders = outputs[5 : 5 + limits.MAX_SLIDERS]
    values = [slider.get("value", 0.0) for slider in sliders]
    visible = [index for index, slider in enumerate(sliders) if slider.get("visible")]
    assert visible, "the encoded image has latent sliders"
    attributes = [0.0] * limits.MAX_ATTRIBUTES
    before = real_client.predict(*values, *attributes, api_name="/decode_sliders")
    moved = [sliders[index]["maximum"] if index in visible else value for index, value in enumerate(values)]
    after = real_client.predict(*moved, *attributes, api_name="/decode_sliders")
    assert np.abs(_pixels(after) - _pixels(before)).mean() > 0.5


def test_interpolate_and_inpaint(real_client, real_engine, tmp_path):
    first = plain_image(tmp_path / "a.png", colour=(230, 30, 30))
    second = plain_image(tmp_path / "b.png", colour=(30, 30, 230))
    strip, gif = real_client.predict(model_that_can(real_engine, Capability.INTERPOLATE), handle_file(str(first)),
                                     handle_file(str(second)), 6, "spherical", api_name="/interpolate")
    assert Image.open(strip).width >= 6 * Image.open(strip).height and Image.open(gif).format == "GIF"
    layer = Image.new("RGBA", (48, 40), (0, 0, 0, 0))
    layer.paste((0, 0, 0, 255), (10, 10, 30, 30))
    layer.save(tmp_path / "layer.png")
    painted = {"background": handle_file(str(first)), "layers": [handle_file(str(tmp_path / "layer.png"))],
               "composite": None}
    candidates = real_client.predict(model_that_can(real_engine, Capability.INPAINT), painted, "a blue square", 3, 0,
                                     api_name="/inpaint")
    assert len(candidates) == 3


def test_train_a_few_steps_then_load_the_model(real_client, real_engine, tmp_path):
    recipes = {recipe.name: recipe for recipe in real_engine.list_recipes()}
    recipe = next((name for name in recipes if "digits-vae" in name), next(iter(recipes)))
    job_id = real_client.predict("digits", recipe, 20, 32, 1e-3, 0, api_name="/train_start")
    deadline = time.monotonic() + 600  # the run ends with the recipe's evaluation
    status = ""
    while time.monotonic() < deadline and not any(word in status for word in ("finished", "stopped", "failed")):
        status, _, _ = real_client.predict(job_id, api_name="/train_poll")
        time.sleep(1)
    assert "finished" in status, status
    assert "Saved" in real_client.predict(job_id, str(tmp_path / "trained"), api_name="/train_save")
    assert "Loaded as" in real_client.predict(job_id, api_name="/train_load")


@pytest.mark.parametrize("name", UPLOAD_CASE_NAMES)
def test_awkward_uploads_through_the_real_policy(name, real_engine, real_studio_url, tmp_path_factory, tmp_path):
    from gradio_client import Client

    case = upload_cases(tmp_path_factory.getbasetemp() / "e2e-uploads")[name]
    client = Client(real_studio_url, verbose=False)
    model = model_that_can(real_engine, Capability.ENCODE)
    if case.accepted:
        assert client.predict(model, handle_file(str(case.path)), api_name="/encode")[1] is not None
    else:
        with pytest.raises(Exception) as refusal:
            client.predict(model, handle_file(str(case.path)), api_name="/encode")
        assert any(word in str(refusal.value).lower() for word in case.error_words), str(refusal.value)
    assert client.predict(model, handle_file(str(plain_image(tmp_path / "ok.png"))), api_name="/encode")[1]


def test_a_lesson_through_the_api_gives_the_engines_numbers(real_client, real_engine):
    paragraph, control, figure, note, numbers = real_client.predict("cvae", api_name="/lesson_open")
    assert paragraph.startswith("### 6. Conditional VAE") and control["value"] == 0
    assert numbers == real_engine.render_lesson("cvae", 0).numbers and "digits-cvae" in note
    assert _pixels(figure).std() > 10
    figure, note, numbers = real_client.predict("cvae", 5, api_name="/lesson_render")
    assert numbers["style_image"] == 5 and numbers == real_engine.render_lesson("cvae", 5).numbers
