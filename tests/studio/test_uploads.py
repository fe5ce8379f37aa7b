"""Awkward uploads through the served studio: each gives a clear error or a sensible result, and the
next request is still served. The FakeEngine reads uploads with vaestudio's policy when it is there."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from tests.studio.support import UPLOAD_CASE_NAMES, plain_image, upload_cases

MODEL = "fake-digits-vae"


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return upload_cases(tmp_path_factory.mktemp("uploads"))


def _encode(client: Client, path) -> list:
    return client.predict(MODEL, handle_file(str(path)), api_name="/encode")


def _still_serving(client: Client, tmp_path) -> None:
    outputs = _encode(client, plain_image(tmp_path / "good.png"))
    assert outputs[1] is not None, "a good upload after a bad one is served"


@pytest.mark.parametrize("name", UPLOAD_CASE_NAMES)
def test_awkward_upload(name, cases, studio_url, tmp_path):
    case = cases[name]
    client = Client(studio_url, verbose=False)
    if case.accepted:
        outputs = _encode(client, case.path)
        model_input = np.asarray(Image.open(outputs[0]).convert("RGB"), dtype=np.float32)
        assert model_input.shape[0] == model_input.shape[1] > 1
        assert outputs[1] is not None
    else:
        with pytest.raises(Exception) as refusal:
            _encode(client, case.path)
        message = str(refusal.value).lower()
        assert any(word in message for word in case.error_words), f"unclear message for {name}: {message}"
    _still_serving(client, tmp_path)


def test_exif_orientation_is_applied(cases, studio_url):
    client = Client(studio_url, verbose=False)
    model_input = np.asarray(Image.open(_encode(client, cases["EXIF-rotated"].path)[0]).convert("RGB"), dtype=float)
    top, bottom = model_input[: len(model_input) // 4], model_input[-len(model_input) // 4 :]
    assert top[..., 0].mean() > top[..., 2].mean() + 100, "after rotation the red half is on top"
    assert bottom[..., 2].mean() > bottom[..., 0].mean() + 100


def test_animated_gives_the_first_frame_and_sixteen_bit_is_scaled(cases, studio_url):
    client = Client(studio_url, verbose=False)
    first_frame = np.asarray(Image.open(_encode(client, cases["animated"].path)[0]).convert("RGB"), dtype=float)
    assert first_frame[..., 0].mean() > 200 and first_frame[..., 2].mean() < 60
    grey = np.asarray(Image.open(_encode(client, cases["16-bit"].path)[0]).convert("L"), dtype=float)
    assert abs(grey.mean() - 40000 / 257) < 12, "16-bit values are scaled to 8 bits, not clipped"


def test_palette_transparency_lands_on_white(cases, studio_url):
    client = Client(studio_url, verbose=False)
    picture = np.asarray(Image.open(_encode(client, cases["palette with transparency"].path)[0]).convert("RGB"))
    assert picture.mean() > 240


def test_the_server_itself_refuses_files_over_the_size_cap(cases, studio_url):
    """gradio_client refuses before sending; a raw upload shows the server enforces it too."""
    import httpx

    with open(cases["huge file"].path, "rb") as stream:
        response = httpx.post(f"{studio_url}gradio_api/upload", files={"files": ("huge.bmp", stream)}, timeout=60)
    assert response.status_code == 413
    assert "size" in response.text.lower()


def test_messages_name_the_users_file_not_the_servers_cache(cases, studio_url):
    with pytest.raises(Exception) as refusal:
        _encode(Client(studio_url, verbose=False), cases["truncated"].path)
    assert "truncated.png is truncated" in str(refusal.value)
    assert "/tmp/gradio" not in str(refusal.value)
