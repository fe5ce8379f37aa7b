"""Conditional VAEs in the editor: each end of an interpolation encoded with its own class or prompt, the frames
drawn as one condition or as the blend of the two, prompts read like text to image's, example prompts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.pipelines.conftest import TINY_SIZE, shapes_picture
from vaestudio.data import open_source
from vaestudio.models import VAE, VAEConfig
from vaestudio.pipelines.conditions import InterpolationConditions, frame_conditions
from vaestudio.pipelines.editing import Editor


@pytest.fixture(scope="module")
def digits():
    return open_source("digits", split="train")


@pytest.fixture(scope="module")
def class_editor(digits):
    torch.manual_seed(0)
    model = VAE(VAEConfig(image_channels=1, image_size=8, latent_dim=3, hidden_sizes=(16,), condition="class",
                          class_embedding_dim=4))
    return Editor(model, source=digits, sample_size=32, kl_threshold=0.0)


def text_model(vocabulary: list[str]) -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(image_channels=3, image_size=TINY_SIZE, latent_dim=4, hidden_sizes=(16,), condition="text",
                         text_encoder={"vocabulary": vocabulary, "embedding_dim": 8, "num_layers": 1,
                                       "num_heads": 2, "max_tokens": 16}))


@pytest.fixture(scope="module")
def text_editor(tiny_source, vocabulary):
    """Trained on full captions and on "a shape" (blank captions), as recipes/shapes-text-cvae.toml is."""
    return Editor(text_model([*vocabulary, "shape"]), source=tiny_source, sample_size=32, kl_threshold=0.0)


def pixels(picture) -> np.ndarray:
    return np.asarray(picture, dtype=np.float32)


def digit(source, index: int):
    return Image.fromarray((source[index].image[0].numpy() * 255).round().astype(np.uint8))  # 8 x 8, grey


@pytest.mark.parametrize("kind", ["class", "text"])
def test_each_end_is_encoded_and_drawn_with_its_own_condition(request, digits, kind):
    editor = request.getfixturevalue(f"{kind}_editor")
    first_image, second_image = ((digit(digits, 0), digit(digits, 1)) if kind == "class"
                                 else (shapes_picture(0), shapes_picture(1)))
    first, second = (1, 7) if kind == "class" else ("a red circle", "a blue square on a black background")
    frames = editor.interpolate(first_image, second_image, 4, "linear", condition=first, second_condition=second)
    assert np.array_equal(pixels(frames.frames[0]), pixels(editor.encode(first_image, first).reconstruction))
    assert np.array_equal(pixels(frames.frames[-1]), pixels(editor.encode(second_image, second).reconstruction))
    same = editor.interpolate(first_image, second_image, 4, "linear", condition=first)  # both ends as the first
    assert not np.array_equal(pixels(same.frames[-1]), pixels(frames.frames[-1]))
    assert np.array_equal(pixels(same.frames[0]), pixels(frames.frames[0]))


def test_the_frames_are_drawn_as_the_chosen_class(class_editor, digits):
    drawn_as_five = class_editor.interpolate(digit(digits, 0), digit(digits, 1), 3, "linear", condition=1,
                                             second_condition=7, frame_condition=5)
    latents = class_editor.encode(digit(digits, 1), 7).latents  # (1, F): the last frame's latent
    assert np.array_equal(pixels(drawn_as_five.frames[-1]), pixels(class_editor.decode_flat(latents, 5)[0]))


def test_between_two_conditions_the_frames_blend_their_vectors(class_editor):
    model = class_editor.model
    weights = torch.tensor([0.0, 0.25, 1.0])  # (T,)
    vectors = frame_conditions(model, InterpolationConditions(2, 6, None), weights)  # (T, Cd)
    embedding = model.class_embedding.weight.detach()  # (K, Cd)
    assert torch.allclose(vectors[0], embedding[2]) and torch.allclose(vectors[2], embedding[6])
    assert torch.allclose(vectors[1], 0.75 * embedding[2] + 0.25 * embedding[6])
    assert frame_conditions(model, InterpolationConditions(2, 6, 4), weights).tolist() == [4, 4, 4]
    assert frame_conditions(model, InterpolationConditions(2, 2, None), weights).tolist() == [2, 2, 2]


def test_a_text_model_reads_prompts_like_text_to_image(text_editor):
    assert text_editor.text_neutral_prompt() == "a shape"  # the shapes world's caption with nothing kept
    empty = text_editor.encode(shapes_picture(0), "   ")
    assert empty.condition == "a shape"
    assert text_editor.encode(shapes_picture(0), "  a   red circle ").condition == "a red circle"
    prompts = text_editor.example_prompts()
    assert prompts[0] == "a shape" and len(prompts) == len(set(prompts)) == 8
    assert all(text_editor.model.text_encoder.unknown_words(prompt) == [] for prompt in prompts)
    red = pixels(text_editor.sample(2, seed=0, condition="a red circle")[0])
    blue = pixels(text_editor.sample(2, seed=0, condition="a blue square")[0])
    assert not np.array_equal(red, blue)


def test_a_model_that_never_read_the_neutral_prompt_asks_for_a_prompt(tiny_source, vocabulary):
    editor = Editor(text_model(vocabulary), source=tiny_source, sample_size=32)  # full captions only: no "shape"
    assert editor.text_neutral_prompt() == "" and "a shape" not in editor.example_prompts()
    with pytest.raises(ValueError, match="type a prompt"):
        editor.encode(shapes_picture(0), "")
    assert editor.encode(shapes_picture(0), "a red circle").condition == "a red circle"


@pytest.mark.parametrize("kind, condition, message", [
    ("class", "seven", "conditioned on a class"),
    ("class", 10, "classes 0 to 9"),
    ("class", -1, "classes 0 to 9"),
    ("text", 3, "conditioned on a text"),
])
def test_a_wrong_condition_says_what_to_pass(request, digits, kind, condition, message):
    editor = request.getfixturevalue(f"{kind}_editor")
    image = digit(digits, 0) if kind == "class" else shapes_picture(0)
    with pytest.raises(ValueError, match=message):
        editor.interpolate(image, image, 3, "linear", condition=0 if kind == "class" else "a shape",
                           second_condition=condition)
    with pytest.raises(ValueError, match=message):
        editor.encode(image, condition)


def test_models_without_prompts_offer_none(class_editor):
    assert class_editor.example_prompts() == [] and class_editor.text_neutral_prompt() == ""
    with pytest.raises(ValueError, match="conditioned on a class"):
        class_editor.interpolate(Image.new("L", (8, 8)), Image.new("L", (8, 8)), 3)
