"""Class-conditional models get a class picker: samples and a manifold per class (Explore), an image
encoded with its class and drawn as another (Edit); a class-to-image bundle (mnist-vqvae) draws the picked
digit (Explore) and redraws a painted region as the picked digit (Edit's inpainting). Through the UI on the
fake engine, and on the real engine with the shipped digits-cvae and mnist-vqvae."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from studio import limits
from studio.engine import Engine
from vaestudio.hub import pretrained_directory
from studio.engine_api import Capability, InputError
from tests.studio.support import plain_image

CVAE = "fake-digits-cvae"
CLASS_BUNDLE = "fake-mnist-vqvae"


def pixels(path_or_picture) -> np.ndarray:
    picture = path_or_picture if isinstance(path_or_picture, Image.Image) else Image.open(path_or_picture)
    return np.asarray(picture.convert("RGB"), dtype=np.float32)


def test_the_pickers_show_a_conditional_models_classes_and_hide_for_others(client):
    shown = client.predict(CVAE, api_name="/explore_classes")
    assert [choice[1] for choice in shown["choices"]][1:] == list("0123456789") and shown["visible"]
    assert not client.predict("fake-digits-vae", api_name="/explore_classes")["visible"]
    encode_as, draw_as = client.predict(CVAE, api_name="/edit_classes")  # (the row's visibility is not sent)
    assert encode_as["value"] == "0" and draw_as["value"] == ""
    assert [choice[1] for choice in draw_as["choices"]] == ["", *"0123456789"]


def test_samples_and_manifold_change_with_the_class(client):
    first = pixels(client.predict(CVAE, 4, "0", api_name="/manifold"))
    third = pixels(client.predict(CVAE, 4, "3", api_name="/manifold"))
    assert first.shape == third.shape and np.abs(first - third).mean() > 1.0
    samples = pixels(client.predict(CVAE, 4, 1, "7", api_name="/prior_samples"))
    every_class = pixels(client.predict(CVAE, 4, 1, "", api_name="/prior_samples"))
    assert np.abs(samples - every_class).mean() > 1.0
    with pytest.raises(AppError, match="draws the classes 0, 1, 2"):
        client.predict(CVAE, 4, "cat", api_name="/manifold")


def test_an_image_encoded_with_its_class_is_drawn_as_another(client, tmp_path):
    outputs = client.predict(CVAE, handle_file(str(plain_image(tmp_path / "a.png"))), "2", api_name="/encode")
    values = [slider.get("value", 0.0) for slider in outputs[6 : 6 + limits.MAX_SLIDERS]]
    attributes = [0.0] * limits.MAX_ATTRIBUTES
    same = pixels(client.predict(*values, *attributes, "", api_name="/decode_sliders"))
    other = pixels(client.predict(*values, *attributes, "5", api_name="/decode_sliders"))
    assert np.abs(same - other).mean() > 5.0


def test_a_class_to_image_model_gets_the_inpainting_class_picker_not_the_encoding_one(client):
    assert [choice[1] for choice in client.predict(CLASS_BUNDLE, api_name="/explore_classes")["choices"]][1:] == \
        list("0123456789")
    label, prompt = client.predict(CLASS_BUNDLE, api_name="/inpaint_classes")
    assert label["visible"] and not prompt["visible"] and label["value"] == ""
    assert [choice[1] for choice in label["choices"]] == ["", *"0123456789"]
    encode_as, draw_as = client.predict(CLASS_BUNDLE, api_name="/edit_classes")
    assert encode_as["value"] == "" and [choice[1] for choice in draw_as["choices"]] == [""]  # no encoding class
    label, prompt = client.predict("fake-shapes-vqvae", api_name="/inpaint_classes")
    assert not label["visible"] and prompt["visible"]


def test_the_picked_class_is_drawn_and_inpainted(client, tmp_path):
    threes = pixels(client.predict(CLASS_BUNDLE, 4, 1, "3", api_name="/prior_samples"))
    sevens = pixels(client.predict(CLASS_BUNDLE, 4, 1, "7", api_name="/prior_samples"))
    assert np.abs(threes - sevens).mean() > 1.0
    background = plain_image(tmp_path / "bg.png", size=(64, 64), colour=(255, 255, 255))
    layer = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    layer.paste((0, 0, 0, 255), (16, 16, 48, 48))
    layer.save(tmp_path / "layer.png")
    painted = {"background": handle_file(str(background)), "layers": [handle_file(str(tmp_path / "layer.png"))],
               "composite": None}
    as_three, as_eight = (client.predict(CLASS_BUNDLE, painted, "", 2, 0, label, api_name="/inpaint")
                          for label in ("3", "8"))
    three, eight = pixels(as_three[0]["image"]), pixels(as_eight[0]["image"])
    assert np.abs(three - eight).mean() > 1.0
    assert three[:8].mean() > 245 and eight[:8].mean() > 245  # outside the painted square: kept
    with pytest.raises(AppError, match="draws the classes 0, 1, 2"):
        client.predict(CLASS_BUNDLE, painted, "", 2, 0, "eleven", api_name="/inpaint")


@pytest.fixture(scope="module")
def real_engine() -> Engine:
    return Engine(models_dir=pretrained_directory())


def test_the_real_engine_encodes_as_one_digit_and_draws_as_another(real_engine):
    assert real_engine.model_classes("digits-cvae") == [str(digit) for digit in range(10)]
    assert real_engine.model_classes("digits") == []
    info = next(info for info in real_engine.list_models() if info.name == "digits-cvae")
    assert info.can(Capability.ENCODE) and info.can(Capability.MANIFOLD) and not info.can(Capability.INTERPOLATE)
    picture = Image.new("L", (8, 8), 0)
    picture.paste(255, (3, 1, 5, 7))  # a stroke: a one
    encoding = real_engine.encode("digits-cvae", picture, "1")
    values = [spec.value for spec in encoding.sliders]
    as_one = pixels(real_engine.decode_sliders("digits-cvae", encoding.state, values, {}, ""))
    as_eight = pixels(real_engine.decode_sliders("digits-cvae", encoding.state, values, {}, "8"))
    assert np.abs(as_one - as_eight).mean() > 10.0
    zeros = pixels(real_engine.manifold_grid("digits-cvae", 3, "0"))
    sevens = pixels(real_engine.manifold_grid("digits-cvae", 3, "7"))
    assert np.abs(zeros - sevens).mean() > 10.0
    with pytest.raises(InputError, match="draws the classes 0, 1"):
        real_engine.prior_samples("digits-cvae", 2, 0, "eleven")
    assert real_engine.manifold_grid("digits", 3, "7").size == real_engine.manifold_grid("digits", 3).size


def test_the_real_engine_draws_and_inpaints_the_picked_digit_with_mnist_vqvae(real_engine):
    assert real_engine.model_classes("mnist-vqvae") == [str(digit) for digit in range(10)]
    info = next(info for info in real_engine.list_models() if info.name == "mnist-vqvae")
    assert info.can(Capability.CLASS_TO_IMAGE) and info.can(Capability.INPAINT) and info.can(Capability.PRIOR)
    assert not info.can(Capability.MANIFOLD) and not info.can(Capability.TEXT_TO_IMAGE)
    threes, sevens = (pixels(real_engine.prior_samples("mnist-vqvae", 4, 0, label)) for label in ("3", "7"))
    assert threes.shape == sevens.shape and np.abs(threes - sevens).mean() > 5.0
    digit = Image.new("L", (28, 28), 0)
    digit.paste(255, (12, 4, 16, 24))  # a one
    mask = Image.new("L", (28, 28), 0)
    mask.paste(255, (0, 14, 28, 28))
    as_one, as_eight = (real_engine.inpaint("mnist-vqvae", digit, mask, "", 2, 0, label) for label in ("1", "8"))
    assert np.abs(pixels(as_one[0]) - pixels(as_eight[0])).mean() > 2.0
    with pytest.raises(InputError, match="draws the classes 0, 1"):
        real_engine.inpaint("mnist-vqvae", digit, mask, "", 2, 0, "eleven")

