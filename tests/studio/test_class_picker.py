"""Class-conditional models get a class picker: samples and a manifold per class (Explore), an image
encoded with its class and drawn as another, an interpolation from an image of one class to an image of
another (Edit); a class-to-image bundle (mnist-vqvae) draws the picked digit (Explore) and redraws a painted
region as the picked digit (Edit's inpainting). Through the UI on the fake engine, and on the real engine with
the shipped digits-cvae and mnist-vqvae."""

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
    assert info.can(Capability.ENCODE) and info.can(Capability.MANIFOLD) and info.can(Capability.INTERPOLATE)
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


def test_the_interpolation_pickers_show_a_conditional_models_classes_and_hide_for_others(client):
    second_as, frames_as = client.predict(CVAE, api_name="/interpolation_classes")
    assert [choice[1] for choice in second_as["choices"]] == ["", *"0123456789"] and second_as["value"] == ""
    assert [choice[1] for choice in frames_as["choices"]] == ["", *"0123456789"]
    assert second_as["label"] == "Class of the second image" and frames_as["label"] == "Draw the frames as"
    second_as, _ = client.predict("fake-digits-vae", api_name="/interpolation_classes")
    assert [choice[1] for choice in second_as["choices"]] == [""]


def test_an_interpolation_goes_from_one_class_to_another(client, tmp_path):
    first, second = (handle_file(str(plain_image(tmp_path / f"{name}.png"))) for name in "ab")
    same, _ = client.predict(CVAE, first, second, 3, "linear", "2", "", "", api_name="/interpolate")
    to_five, _ = client.predict(CVAE, first, second, 3, "linear", "2", "5", "", api_name="/interpolate")
    as_nine, _ = client.predict(CVAE, first, second, 3, "linear", "2", "5", "9", api_name="/interpolate")
    width = pixels(same).shape[1]
    assert np.abs(pixels(same)[:, : width // 4] - pixels(to_five)[:, : width // 4]).mean() < 1.0  # first frame kept
    assert np.abs(pixels(same)[:, -width // 4 :] - pixels(to_five)[:, -width // 4 :]).mean() > 5.0
    assert np.abs(pixels(to_five) - pixels(as_nine)).mean() > 5.0
    with pytest.raises(AppError, match="draws the classes 0, 1, 2"):
        client.predict(CVAE, first, second, 3, "linear", "2", "eleven", "", api_name="/interpolate")


def test_the_real_engine_interpolates_from_one_digit_to_another(real_engine):
    assert real_engine.interpolation_classes("digits-cvae") == [str(digit) for digit in range(10)]
    assert real_engine.interpolation_classes("digits") == [] and real_engine.model_prompts("digits-cvae") == []
    one = Image.new("L", (8, 8), 0)
    one.paste(255, (3, 1, 5, 7))
    ring = Image.new("L", (8, 8), 255)
    ring.paste(0, (2, 2, 6, 6))
    ones = pixels(real_engine.interpolate("digits-cvae", one, ring, 3, "linear", "1", "", "").strip)
    one_to_zero = pixels(real_engine.interpolate("digits-cvae", one, ring, 3, "linear", "1", "0", "").strip)
    as_eights = pixels(real_engine.interpolate("digits-cvae", one, ring, 3, "linear", "1", "0", "8").strip)
    width = ones.shape[1]
    assert np.abs(ones[:, : width // 4] - one_to_zero[:, : width // 4]).mean() < 1.0  # the same first end
    assert np.abs(ones[:, -width // 4 :] - one_to_zero[:, -width // 4 :]).mean() > 10.0  # a one, then a zero
    assert np.abs(as_eights - one_to_zero).mean() > 10.0
    with pytest.raises(InputError, match="draws the classes 0, 1"):
        real_engine.interpolate("digits-cvae", one, ring, 3, "linear", "1", "ten", "")


TEXT_CVAE = "fake-shapes-text-cvae"


def test_a_text_conditional_model_offers_its_example_prompts_in_every_picker(client):
    encode_as, draw_as = client.predict(TEXT_CVAE, api_name="/edit_classes")
    assert encode_as["value"] == "a shape" and encode_as["label"] == "Caption of your image"
    assert [choice[1] for choice in draw_as["choices"]][0] == "" and len(draw_as["choices"]) == 4
    second_as, _ = client.predict(TEXT_CVAE, api_name="/interpolation_classes")
    assert second_as["label"] == "Caption of the second image" and len(second_as["choices"]) == 4
    shown = client.predict(TEXT_CVAE, api_name="/explore_classes")
    assert shown["visible"] and [choice[1] for choice in shown["choices"]][1] == "a shape"


def test_a_text_conditional_model_samples_and_interpolates_from_typed_prompts(client, tmp_path):
    red = pixels(client.predict(TEXT_CVAE, 4, 1, "a red circle", api_name="/prior_samples"))
    blue = pixels(client.predict(TEXT_CVAE, 4, 1, "a blue square", api_name="/prior_samples"))
    assert np.abs(red - blue).mean() > 5.0
    first, second = (handle_file(str(plain_image(tmp_path / f"{name}.png"))) for name in "ab")
    same, _ = client.predict(TEXT_CVAE, first, second, 3, "linear", "a red circle", "", "", api_name="/interpolate")
    other, _ = client.predict(TEXT_CVAE, first, second, 3, "linear", "a red circle", "a blue square", "",
                              api_name="/interpolate")
    width = pixels(same).shape[1]
    assert np.abs(pixels(same)[:, -width // 4 :] - pixels(other)[:, -width // 4 :]).mean() > 5.0


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


def test_the_real_engine_edits_and_samples_the_shipped_text_cvae(real_engine):
    from vaestudio.worlds.shapes.source import ShapesSource

    model = "shapes-text-cvae"
    info = next(info for info in real_engine.list_models() if info.name == model)
    assert all(info.can(capability) for capability in (Capability.ENCODE, Capability.INTERPOLATE, Capability.PRIOR))
    prompts = real_engine.model_prompts(model)
    assert prompts[0] == "a shape" and len(prompts) == len(set(prompts)) == 8
    assert real_engine.interpolation_classes(model) == [] and real_engine.model_classes(model) == []
    source = ShapesSource("test", num_images=2)
    first, second = (Image.fromarray(source.pixels(index)) for index in range(2))
    encoding = real_engine.encode(model, first, source[0].caption)
    assert f"read the prompt {source[0].caption!r}" in encoding.summary
    values = [spec.value for spec in encoding.sliders]
    as_captioned = pixels(real_engine.decode_sliders(model, encoding.state, values, {}, ""))
    on_black = pixels(real_engine.decode_sliders(model, encoding.state, values, {},
                                                 "a large blue square in the center on a black background"))
    assert np.abs(as_captioned - on_black).mean() > 10.0
    white = pixels(real_engine.prior_samples(model, 4, 0, "a large red circle in the center on a white background"))
    black = pixels(real_engine.prior_samples(model, 4, 0, "a large red circle in the center on a black background"))
    assert white.mean() > black.mean() + 100.0
    strip = pixels(real_engine.interpolate(model, first, second, 3, "linear", source[0].caption, source[1].caption,
                                           "").strip)
    ends = pixels(real_engine.interpolate(model, first, second, 3, "linear", source[0].caption, "", "").strip)
    width = strip.shape[1]
    assert np.abs(strip[:, -width // 4 :] - ends[:, -width // 4 :]).mean() > 1.0
