"""The real Engine over vaestudio's real pipelines, on a tiny zoo of random-weight models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gradio_client import Client
from PIL import Image

from studio.engine import Engine
from studio.engine_api import Capability, InputError, ModelError
from studio.tabs.shared import show
from tests.studio.support import running_studio
from tests.studio.tiny_zoo import write_tiny_zoo

BUNDLE, VAE, CLASSES = "tiny-text-to-image", "tiny-vae-2d", "tiny-vqvae-digits"


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Engine:
    zoo = write_tiny_zoo(tmp_path_factory.mktemp("zoo"))
    return Engine(models_dir=zoo, runs_dir=tmp_path_factory.mktemp("runs"))


def test_the_zoo_is_described_from_its_folders(engine):
    models = {info.name: info for info in engine.list_models()}
    assert set(models) == {BUNDLE, VAE, CLASSES}
    assert models[CLASSES].can(Capability.CLASS_TO_IMAGE) and models[CLASSES].can(Capability.INPAINT)
    assert not models[CLASSES].can(Capability.TEXT_TO_IMAGE) and not models[BUNDLE].can(Capability.CLASS_TO_IMAGE)
    assert models[BUNDLE].can(Capability.TEXT_TO_IMAGE) and models[BUNDLE].can(Capability.CODEBOOK)
    assert models[VAE].can(Capability.MANIFOLD) and not models[VAE].can(Capability.TEXT_TO_IMAGE)
    assert models[BUNDLE].metrics == {"bits_per_dim": 4.5, "psnr": 11.0}  # evaluation numbers, no timings
    assert "Random weights" in models[BUNDLE].card


def test_text_to_image_and_its_stream(engine):
    generation = engine.text_to_image(BUNDLE, "a red zeppelin", 2, 0, 1.0, 0, 4)
    assert len(generation.images) == 2 and all(item.score is not None for item in generation.images)
    assert any("zeppelin" in note for note in generation.notes)
    frames = list(engine.text_to_image_stream(BUNDLE, "", 2, 0, 1.0, 0, 2))
    assert frames[-1].done and not frames[0].done and frames[0].prompt_read == "a shape"


def test_guidance_reaches_the_pipeline(engine):
    plain = engine.text_to_image(BUNDLE, "a red circle", 2, 0, 1.0, 0, 2)
    default = engine.text_to_image(BUNDLE, "a red circle", 2, 0, 1.0, 0, 2, 0.0)  # 0: the model's default (none)
    guided = engine.text_to_image(BUNDLE, "a red circle", 2, 0, 1.0, 0, 2, 4.0)
    pixels = [[item.image.tobytes() for item in generation.images] for generation in (plain, default, guided)]
    assert pixels[0] == pixels[1] and pixels[2] != pixels[0]


TWO_PLACED = "a red circle in the top left and a blue square in the bottom right"


def test_regions_switch_reaches_the_pipeline(engine):
    """The bundle names the shapes layout: a prompt with two placed objects is drawn region by region unless the
    request turns regions off, which must then equal the pipeline's own whole-prompt sampling."""
    from vaestudio.pipelines.text_to_image import TextToImage

    regional = engine.text_to_image(BUNDLE, TWO_PLACED, 2, 0, 1.0, 0, 2)
    whole = engine.text_to_image(BUNDLE, TWO_PLACED, 2, 0, 1.0, 0, 2, 0.0, False)
    pipeline = engine._text_to_image(BUNDLE)
    assert isinstance(pipeline, TextToImage) and pipeline.layout is not None
    expected = pipeline(TWO_PLACED, num_images=2, rerank=2, seed=0, regions=False)
    pixels = [[item.image.tobytes() for item in generation] for generation in (regional.images, whole.images,
                                                                               expected.images)]
    assert pixels[1] == pixels[2] and pixels[0] != pixels[1]
    frames = list(engine.text_to_image_stream(BUNDLE, TWO_PLACED, 2, 0, 1.0, 0, 2, 0.0, False))
    assert [item.image.tobytes() for item in frames[-1].images] == pixels[1]


def test_pipeline_argument_errors_are_input_errors(engine):
    with pytest.raises(InputError, match="temperature must be positive"):
        engine.text_to_image(BUNDLE, "a red circle", 2, 0, -1.0, 0, 2)
    with pytest.raises(InputError, match="guidance_scale must be a number"):
        engine.text_to_image(BUNDLE, "a red circle", 2, 0, 1.0, 0, 2, 50.0)
    with pytest.raises(ModelError, match="cannot do text-to-image"):
        engine.text_to_image(VAE, "a red circle", 2, 0, 1.0, 0, 2)
    with pytest.raises(ModelError, match="no model called"):
        engine.load_folder("/no/such/folder")


def test_prior_samples_and_codebook_usage(engine):
    assert engine.prior_samples(BUNDLE, 4, 0).size == engine.prior_samples(BUNDLE, 4, 0).size
    assert engine.prior_samples(VAE, 9, 1).width > 8 * 3
    usage = engine.codebook_usage(BUNDLE)
    assert len(usage.counts) == 16 and sum(usage.counts) > 0 and usage.measured_on


def test_recipes_and_data_sources_come_from_the_repository(engine):
    assert {"shapes", "digits", "emoji"} <= set(engine.list_data_sources())
    recipes = engine.list_recipes()
    assert recipes and all(recipe.defaults.batch_size > 0 and recipe.data for recipe in recipes)


def test_served_text_to_image_through_gradio_client(engine):
    with running_studio(engine) as url:
        client = Client(url, verbose=False)
        gallery, reading = client.predict(BUNDLE, "a blue square", 2, 0, 1.0, 0, 2, api_name="/text_to_image")
        served = [client.predict(BUNDLE, TWO_PLACED, 1, 0, 1.0, 0, 1, 0.0, regions, api_name="/text_to_image")[0]
                  for regions in (True, False)]
    assert len(gallery) == 2 and "a blue square" in reading
    direct = [engine.text_to_image(BUNDLE, TWO_PLACED, 1, 0, 1.0, 0, 1, 0.0, regions).images[0].image
              for regions in (True, False)]
    for gallery, image in zip(served, direct):  # the checkbox reaches the engine: each matches its own setting
        assert np.array_equal(np.asarray(Image.open(gallery[0]["image"]).convert("RGB")), np.asarray(Image.open(show(image)).convert("RGB")))


def test_encode_sliders_and_attributes(engine):
    encoding = engine.encode(BUNDLE, Image.new("RGB", (40, 30), "white"))
    assert encoding.sliders and encoding.model_input.size == encoding.reconstruction.size == (16, 16)
    values = engine.reset_slider_values(BUNDLE, encoding.state)
    assert values == [spec.value for spec in encoding.sliders]
    same = engine.decode_sliders(BUNDLE, encoding.state, values, {})
    assert np.array_equal(np.asarray(same), np.asarray(encoding.reconstruction))
    moved = engine.random_slider_values(BUNDLE, encoding.state, 3)
    assert all(spec.minimum <= value <= spec.maximum for value, spec in zip(moved, encoding.sliders))
    engine.decode_sliders(BUNDLE, encoding.state, moved, dict.fromkeys(encoding.attributes[:1], 1.0))


def test_interpolate_inpaint_scatter_manifold(engine):
    red, blue = Image.new("RGB", (16, 16), "red"), Image.new("RGB", (16, 16), "blue")
    interpolation = engine.interpolate(BUNDLE, red, blue, 4, "spherical")
    assert interpolation.strip.width > 4 * 16 and interpolation.gif.startswith(b"GIF")
    mask = Image.new("L", (16, 16), 0)
    mask.paste(255, (0, 0, 8, 8))
    assert len(engine.inpaint(BUNDLE, red, mask, "a blue square", 2, 0)) == 2
    scatter = engine.latent_scatter(VAE, "", 50)
    assert len(scatter.x) == len(scatter.labels) == 50
    assert engine.decode_point(VAE, scatter.state, 0.0, 0.0).size == (8, 8)
    assert engine.manifold_grid(VAE, 3).width >= 3 * 8
    with pytest.raises(InputError, match="grid size"):
        engine.manifold_grid(VAE, 1000)


def test_a_class_to_image_bundle_draws_and_inpaints_the_picked_class(engine):
    """The class picker's label reaches the class prior: samples and inpainting change with it, the codes outside
    the painted region are kept, a label that is not a class is refused with the classes."""
    assert engine.model_classes(CLASSES) == [str(digit) for digit in range(10)]
    threes, sevens = (np.asarray(engine.prior_samples(CLASSES, 4, 0, label)) for label in ("3", "7"))
    assert threes.shape == sevens.shape and not np.array_equal(threes, sevens)
    assert np.array_equal(threes, np.asarray(engine.prior_samples(CLASSES, 4, 0, "3")))
    digit = Image.new("L", (8, 8), 0)
    digit.paste(255, (3, 1, 5, 7))
    mask = Image.new("L", (8, 8), 0)
    mask.paste(255, (0, 0, 4, 4))
    as_eight = engine.inpaint(CLASSES, digit, mask, "", 3, 0, "8")
    editor = engine._editor(CLASSES, Capability.INPAINT)
    kept = editor.inpaint(digit, mask, "", 3, 0, label=8)  # what the engine asked for, straight from the editor
    assert [np.asarray(item.image).tolist() for item in kept] == [np.asarray(image).tolist() for image in as_eight]
    assert all(torch.equal(item.codes[~kept.code_mask], kept.original_codes[~kept.code_mask]) for item in kept)
    everywhere = Image.new("L", (8, 8), 255)
    eights, ones = (torch.stack([item.codes for item in editor.inpaint(digit, everywhere, "", 4, 0, label=label)])
                    for label in (8, 1))
    assert not torch.equal(eights, ones)
    for bad in (lambda: engine.inpaint(CLASSES, digit, mask, "", 1, 0, "eleven"),
                lambda: engine.prior_samples(CLASSES, 2, 0, "eleven")):
        with pytest.raises(InputError, match="draws the classes 0, 1, 2"):
            bad()
    encoding = engine.encode(CLASSES, digit, "eleven")  # its VQ-VAE takes no class: the label is not read there
    assert encoding.reconstruction.size == (8, 8)
