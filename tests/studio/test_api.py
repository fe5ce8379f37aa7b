"""Every endpoint of the studio, driven with gradio_client against the FakeEngine on localhost."""

from __future__ import annotations

import time

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from studio import limits
from tests.studio.support import plain_image

SLIDERS_AND_ATTRIBUTES = limits.MAX_SLIDERS + limits.MAX_ATTRIBUTES


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)


def encode(client, model, path):
    return client.predict(model, handle_file(str(path)), api_name="/encode")


def test_text_to_image_gives_the_asked_number_of_scored_images(client):
    gallery, reading = client.predict("fake-shapes-vqvae", "a red circle", 3, 7, 1.0, 0, 8,
                                      api_name="/text_to_image")
    assert len(gallery) == 3 and "The model read: *a red circle*" in reading
    scores = [float(item["caption"].removeprefix("score ")) for item in gallery]
    assert scores == sorted(scores, reverse=True)
    red, green, blue = pixels(gallery[0]["image"]).reshape(-1, 3).min(axis=0)  # the shape's colour is there
    assert red > 150 and green < 100 and blue < 100


def test_text_to_image_takes_a_guidance_scale_and_refuses_an_absurd_one(client):
    gallery, _ = client.predict("fake-shapes-vqvae", "a red circle", 2, 7, 1.0, 0, 2, 3.0, api_name="/text_to_image")
    assert len(gallery) == 2
    with pytest.raises(AppError, match="greater than maximum value 8"):  # the slider refuses it, server up
        client.predict("fake-shapes-vqvae", "a red circle", 2, 7, 1.0, 0, 2, 25.0, api_name="/text_to_image")
    assert len(client.predict("fake-shapes-vqvae", "a red circle", 1, 7, 1.0, 0, 1, api_name="/text_to_image")[0]) == 1


def test_text_to_image_streams_rows_before_the_final_gallery(client):
    job = client.submit("fake-shapes-vqvae", "a blue square", 2, 0, 1.0, 0, 2, api_name="/text_to_image")
    updates = list(job)
    assert len(updates) >= 2
    first_gallery, first_reading = updates[0]
    assert all(item["caption"] == "sampling…" for item in first_gallery) and "Sampling code row 1" in first_reading
    assert all(item["caption"].startswith("score") for item in job.result()[0])


def test_text_to_image_reads_an_empty_prompt_as_neutral_and_notes_unknown_words(client):
    gallery, reading = client.predict("fake-shapes-vqvae", "   ", 2, 0, 1.0, 0, 2, api_name="/text_to_image")
    assert len(gallery) == 2 and "*a shape*" in reading
    _, reading = client.predict("fake-shapes-vqvae", "a red zeppelin", 1, 0, 1.0, 0, 1, api_name="/text_to_image")
    assert "unknown words ignored by the model: zeppelin" in reading


def test_text_to_image_refuses_a_model_that_cannot(client):
    with pytest.raises(AppError, match="cannot do text-to-image.*fake-shapes-vqvae"):
        client.predict("fake-digits-vae", "a red circle", 2, 0, 1.0, 0, 2, api_name="/text_to_image")


def test_encode_shows_the_model_sliders_and_their_values(client, tmp_path):
    outputs = encode(client, "fake-digits-vae", plain_image(tmp_path / "a.png"))
    model_input, reconstruction, _, summary, canvas, *controls = outputs
    assert Image.open(reconstruction).size == Image.open(model_input).size
    assert "8 latent dimensions" in summary
    assert canvas["background"] is not None
    sliders, attributes = controls[: limits.MAX_SLIDERS], controls[limits.MAX_SLIDERS:]
    assert [slider["visible"] for slider in sliders] == [True] * 8 + [False] * 8
    assert [attribute.get("label") for attribute in attributes[:3]] == ["thicker", "slanted", "rounder"]
    assert not attributes[3]["visible"]


def test_slider_decode_changes_the_edited_image(client, tmp_path):
    outputs = encode(client, "fake-digits-vae", plain_image(tmp_path / "a.png", colour=(120, 120, 120)))
    values = [slider.get("value", 0.0) for slider in outputs[5 : 5 + limits.MAX_SLIDERS]]
    unchanged = client.predict(*values, *[0.0] * limits.MAX_ATTRIBUTES, api_name="/decode_sliders")
    moved = list(values)
    moved[0] = values[0] + 1.0
    changed = client.predict(*moved, *[0.0] * limits.MAX_ATTRIBUTES, api_name="/decode_sliders")
    tinted = client.predict(*values, 1.5, *[0.0] * (limits.MAX_ATTRIBUTES - 1), api_name="/decode_sliders")
    assert np.abs(pixels(changed) - pixels(unchanged)).mean() > 5
    assert pixels(tinted)[..., 0].mean() > pixels(unchanged)[..., 0].mean() + 20


def test_reset_and_randomise_set_the_visible_sliders(client, tmp_path):
    encoded = encode(client, "fake-shapes-vqvae", plain_image(tmp_path / "a.png"))
    originals = [slider["value"] for slider in encoded[5 : 5 + 16]]
    randomised = client.predict(api_name="/randomise_sliders")
    assert len(randomised) == limits.MAX_SLIDERS
    assert [slider["value"] for slider in randomised] != originals
    reset = client.predict(api_name="/reset_sliders")
    assert [slider["value"] for slider in reset[: limits.MAX_SLIDERS]] == originals
    assert all(not attribute["visible"] for attribute in reset[limits.MAX_SLIDERS:])


def test_slider_endpoints_before_any_upload_say_to_upload(client):
    with pytest.raises(AppError, match="Upload an image"):
        client.predict(*[0.0] * SLIDERS_AND_ATTRIBUTES, api_name="/decode_sliders")
    with pytest.raises(AppError, match="Upload an image"):
        client.predict(api_name="/randomise_sliders")


def test_interpolate_gives_a_strip_and_an_animated_gif(client, tmp_path):
    first = plain_image(tmp_path / "a.png", colour=(250, 0, 0))
    second = plain_image(tmp_path / "b.png", colour=(0, 0, 250))
    strip, gif = client.predict("fake-digits-vae", handle_file(str(first)), handle_file(str(second)), 5, "linear",
                                api_name="/interpolate")
    strip_pixels = pixels(strip)
    assert strip_pixels[:, :10, 0].mean() > 200 and strip_pixels[:, -10:, 2].mean() > 200
    animation = Image.open(gif)
    assert animation.format == "GIF" and animation.n_frames == 8  # 5 there, 3 back


def test_interpolate_without_a_second_image_says_so(client, tmp_path):
    with pytest.raises(AppError, match="second image"):
        client.predict("fake-digits-vae", handle_file(str(plain_image(tmp_path / "a.png"))), None, 4, "linear",
                       api_name="/interpolate")


def _painted_layer(path, size=(64, 64)):
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    layer.paste((0, 0, 0, 255), (16, 16, 48, 48))
    layer.save(path)
    return path


def test_inpaint_redraws_only_the_painted_region(client, tmp_path):
    background = plain_image(tmp_path / "bg.png", size=(64, 64), colour=(255, 255, 255))
    painted = {"background": handle_file(str(background)),
               "layers": [handle_file(str(_painted_layer(tmp_path / "layer.png")))], "composite": None}
    candidates = client.predict("fake-shapes-vqvae", painted, "a red circle", 3, 1, api_name="/inpaint")
    assert len(candidates) == 3
    image = pixels(candidates[0]["image"])
    height, width, _ = image.shape
    assert image[: height // 8].mean() > 245  # outside the mask: untouched
    assert image[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4].mean() < 240


def test_inpaint_without_paint_asks_for_paint(client, tmp_path):
    background = plain_image(tmp_path / "bg.png", size=(64, 64))
    with pytest.raises(AppError, match="Paint"):
        client.predict("fake-shapes-vqvae", {"background": handle_file(str(background)), "layers": [],
                                             "composite": None}, "", 2, 0, api_name="/inpaint")


def test_explore_endpoints(client):
    assert Image.open(client.predict("fake-digits-vae", 6, api_name="/manifold")).width >= 6 * 32
    assert Image.open(client.predict("fake-emoji-dvae", 4, 3, api_name="/prior_samples")).width > 0
    scatter = client.predict("fake-digits-vae", "digits", 200, api_name="/scatter")
    assert Image.open(scatter).width > 400
    assert client.predict("fake-digits-vae", "", 50, api_name="/scatter")  # "": the model's training data
    decoded = client.predict(1.0, -1.0, api_name="/decode_point")
    assert Image.open(decoded).width > 0
    note, table = client.predict("fake-shapes-vqvae", api_name="/codebook")
    assert "of 64 codes used" in note
    assert len(table["data"]) == 64


def test_explore_refusals_name_what_would_work(client):
    with pytest.raises(AppError, match="manifold grid.*fake-digits-vae"):
        client.predict("fake-shapes-vqvae", 6, api_name="/manifold")
    with pytest.raises(AppError, match="Unknown data source"):
        client.predict("fake-digits-vae", "nonsense", 100, api_name="/scatter")
    with pytest.raises(AppError, match="Plot a latent scatter first"):
        client.predict(0.0, 0.0, api_name="/decode_point")


def test_train_start_poll_stop_save_and_load(client, tmp_path):
    job_id = client.predict("shapes", "digits-vae-2d", 400, 16, 1e-3, 0, api_name="/train_start")
    assert job_id
    with pytest.raises(AppError, match="already going"):
        client.predict("shapes", "digits-vae-2d", 10, 16, 1e-3, 0, api_name="/train_start")
    deadline = time.monotonic() + 20
    status, loss = "", {"data": []}
    while time.monotonic() < deadline and len(loss["data"]) < 5:
        status, loss, _ = client.predict(job_id, api_name="/train_poll")
    assert "running" in status and len(loss["data"]) >= 5
    status, _, samples = client.predict(job_id, api_name="/train_stop")
    assert "stopped" in status and samples is not None
    saved = client.predict(job_id, str(tmp_path / "trained"), api_name="/train_save")
    assert (tmp_path / "trained" / "config.json").is_file() and "Saved" in saved
    with pytest.raises(AppError, match="already exists"):
        client.predict(job_id, str(tmp_path / "trained"), api_name="/train_save")
    loaded = client.predict(job_id, api_name="/train_load")
    assert "trained-digits-vae-2d" in loaded
    pickers = client.predict(*[None] * 4, api_name="/refresh_models")  # the four tabs' model pickers
    assert any("trained-digits-vae-2d" in str(choice) for choice in pickers[1]["choices"])
    assert any(row[0].startswith("trained-digits-vae-2d") for row in pickers[-1]["data"])


def test_train_watch_streams_until_the_run_ends(client):
    job_id = client.predict("digits", "digits-vae-2d", 30, 8, 1e-3, 0, api_name="/train_start")
    job = client.submit(job_id, api_name="/train_watch")
    updates = list(job)
    assert "finished" in job.result()[0]
    assert len(updates) >= 2


def test_train_refuses_bad_settings(client):
    with pytest.raises(AppError, match="no-such-recipe"):
        client.predict("shapes", "no-such-recipe", 10, 8, 1e-3, 0, api_name="/train_start")
    with pytest.raises(AppError, match="no training job"):
        client.predict("deadbeef", api_name="/train_poll")


def test_models_tab_endpoints(client, tmp_path):
    assert "FakeEngine" in client.predict(api_name="/backend")
    assert "fake-digits-vae" in client.predict("fake-digits-vae", api_name="/model_card")
    with pytest.raises(AppError, match="not a model folder"):
        client.predict(str(tmp_path), api_name="/load_model")
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text('{"family": "VAE", "latent_dims": 3}')
    assert "Loaded **my-model**" in client.predict(str(folder), api_name="/load_model")
    # A model loaded after the page was built can be named straight away.
    encoded = encode(client, "my-model", plain_image(tmp_path / "a.png"))
    assert "3 latent dimensions" in encoded[3]


def test_recipe_defaults_fill_the_settings(client):
    note, data, steps, batch_size, learning_rate, _, *settings = client.predict("shapes-vqvae",
                                                                                  api_name="/recipe_defaults")
    assert "VQ-VAE" in note and data == "shapes" and (steps, batch_size, learning_rate) == (5000, 32, 1e-3)


def test_a_typed_keyword_adds_its_vector_and_an_unknown_one_says_which_exist(client, tmp_path):
    outputs = encode(client, "fake-digits-vae", plain_image(tmp_path / "a.png", colour=(120, 120, 120)))
    values = [slider.get("value", 0.0) for slider in outputs[5 : 5 + limits.MAX_SLIDERS]]
    attributes = [0.0] * limits.MAX_ATTRIBUTES
    by_slider = client.predict(*values, 1.5, *attributes[1:], "", "", 0.0, api_name="/decode_sliders")
    by_keyword = client.predict(*values, *attributes, "", " Thicker ", 1.5, api_name="/decode_sliders")
    unchanged = client.predict(*values, *attributes, "", "thicker", 0.0, api_name="/decode_sliders")
    assert np.array_equal(pixels(by_keyword), pixels(by_slider))  # "Thicker" typed is the "thicker" slider
    assert not np.array_equal(pixels(by_keyword), pixels(unchanged))
    with pytest.raises(AppError, match="'zeppelin'.*try a keyword such as thicker"):
        client.predict(*values, *attributes, "", "zeppelin", 1.0, api_name="/decode_sliders")
