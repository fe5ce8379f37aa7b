"""The contract between the two engines: the same requests, sent to the FakeEngine (what the UI tests run on)
and to the real Engine (over vaestudio's pipelines, on a tiny zoo), must be accepted or refused alike, so the
UI tests exercise the behaviour users see. Models are picked by capability, since the zoos differ."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from studio.engine import REQUEST_LIMITS, Engine
from studio.engine_api import Capability, InputError, ModelError, TrainingSettings
from studio.fake_engine import KNOWN_WORDS, FakeEngine
from tests.studio.tiny_zoo import write_conditional_models, write_tiny_zoo

C = Capability
RED, BLUE = Image.new("RGB", (16, 16), "red"), Image.new("RGB", (16, 16), "blue")
EMPTY_MASK = Image.new("L", (16, 16), 0)
CORNER_MASK = Image.new("L", (16, 16), 0)
CORNER_MASK.paste(255, (0, 0, 8, 8))
LONG_PROMPT = " ".join(["a red circle"] * 150)  # 1,799 characters
SETTINGS = TrainingSettings(10, 8, 1e-3, 0)


@pytest.fixture(scope="module", params=["fake", "real"])
def engine(request, tmp_path_factory):
    if request.param == "fake":
        return FakeEngine()
    zoo = write_conditional_models(write_tiny_zoo(tmp_path_factory.mktemp("zoo")))
    return Engine(models_dir=zoo, runs_dir=tmp_path_factory.mktemp("runs"))


def able(engine, capability: Capability) -> str:
    return next(info.name for info in engine.list_models() if info.can(capability))


def unable(engine, capability: Capability) -> str:
    return next(info.name for info in engine.list_models() if not info.can(capability))


def with_classes(engine) -> tuple[str, list[str]]:
    """A model whose interpolation takes a class per end, and its classes."""
    return next((info.name, engine.interpolation_classes(info.name)) for info in engine.list_models()
                if engine.interpolation_classes(info.name))


def with_prompts(engine) -> str:
    return next(info.name for info in engine.list_models() if engine.model_prompts(info.name))


def interpolate_as(engine, first_index=0, second_index=1, frames=""):
    model, classes = with_classes(engine)
    return engine.interpolate(model, RED, BLUE, 3, "linear", classes[first_index], classes[second_index], frames)


def t2i(engine, prompt="a red circle", num_images=1, seed=0, temperature=1.0, top_k=0, rerank=1, guidance=0.0):
    return engine.text_to_image(able(engine, C.TEXT_TO_IMAGE), prompt, num_images, seed, temperature, top_k, rerank,
                                guidance)


low_images, high_images = REQUEST_LIMITS.IMAGES
low_grid, high_grid = REQUEST_LIMITS.MANIFOLD_GRID
low_points, high_points = REQUEST_LIMITS.SCATTER_POINTS
low_samples, high_samples = REQUEST_LIMITS.PRIOR_SAMPLES
low_steps, high_steps = REQUEST_LIMITS.INTERPOLATION_STEPS
REQUESTS = {  # name -> (request, the outcome both engines must give)
    "t2i plain": (lambda e: t2i(e), None),
    "t2i empty prompt": (lambda e: t2i(e, prompt=""), None),
    "t2i overlong prompt": (lambda e: t2i(e, prompt=LONG_PROMPT), None),
    "t2i unknown words": (lambda e: t2i(e, prompt="a red zeppelin"), None),
    "t2i no images": (lambda e: t2i(e, num_images=low_images - 1), InputError),
    "t2i too many images": (lambda e: t2i(e, num_images=high_images + 1, rerank=high_images + 1), InputError),
    "t2i too many candidates": (lambda e: t2i(e, rerank=REQUEST_LIMITS.RERANK[1] + 1), InputError),
    "t2i rerank below images": (lambda e: t2i(e, num_images=2, rerank=0), None),
    "t2i strongest guidance": (lambda e: t2i(e, guidance=REQUEST_LIMITS.MAX_GUIDANCE), None),
    "t2i guidance too strong": (lambda e: t2i(e, guidance=REQUEST_LIMITS.MAX_GUIDANCE + 1), InputError),
    "t2i negative temperature": (lambda e: t2i(e, temperature=-1.0), InputError),
    "t2i default temperature": (lambda e: t2i(e, temperature=0.0), None),
    "t2i negative top-k": (lambda e: t2i(e, top_k=-1), InputError),
    "t2i unknown model": (lambda e: e.text_to_image("no-such-model", "a red circle", 1, 0, 1.0, 0, 1), ModelError),
    "t2i by a model without it": (
        lambda e: e.text_to_image(unable(e, C.TEXT_TO_IMAGE), "a red circle", 1, 0, 1.0, 0, 1), ModelError),
    "manifold smallest": (lambda e: e.manifold_grid(able(e, C.MANIFOLD), low_grid), None),
    "manifold largest": (lambda e: e.manifold_grid(able(e, C.MANIFOLD), high_grid), None),
    "manifold too small": (lambda e: e.manifold_grid(able(e, C.MANIFOLD), low_grid - 1), InputError),
    "manifold too large": (lambda e: e.manifold_grid(able(e, C.MANIFOLD), high_grid + 1), InputError),
    "manifold without a model": (lambda e: e.manifold_grid(None, low_grid), ModelError),
    "scatter fewest": (lambda e: e.latent_scatter(able(e, C.MANIFOLD), "", low_points), None),
    "scatter too few": (lambda e: e.latent_scatter(able(e, C.MANIFOLD), "", low_points - 1), InputError),
    "scatter too many": (lambda e: e.latent_scatter(able(e, C.MANIFOLD), "", high_points + 1), InputError),
    "scatter bad data": (lambda e: e.latent_scatter(able(e, C.MANIFOLD), "bogus", low_points), InputError),
    "pick a point first": (lambda e: e.decode_point(able(e, C.SCATTER), None, 0.0, 0.0), InputError),
    "prior fewest": (lambda e: e.prior_samples(able(e, C.MANIFOLD), low_samples, 0), None),
    "prior none": (lambda e: e.prior_samples(able(e, C.MANIFOLD), low_samples - 1, 0), InputError),
    "prior too many": (lambda e: e.prior_samples(able(e, C.MANIFOLD), high_samples + 1, 0), InputError),
    "interpolate fewest": (lambda e: e.interpolate(able(e, C.INTERPOLATE), RED, BLUE, low_steps, "linear"), None),
    "interpolate too few": (
        lambda e: e.interpolate(able(e, C.INTERPOLATE), RED, BLUE, low_steps - 1, "linear"), InputError),
    "interpolate too many": (
        lambda e: e.interpolate(able(e, C.INTERPOLATE), RED, BLUE, high_steps + 1, "linear"), InputError),
    "interpolate bad mode": (lambda e: e.interpolate(able(e, C.INTERPOLATE), RED, BLUE, 4, "cubic"), InputError),
    "interpolate a class to another": (lambda e: interpolate_as(e), None),
    "interpolate frames as a class": (lambda e: interpolate_as(e, frames=with_classes(e)[1][2]), None),
    "interpolate to an unknown class": (
        lambda e: e.interpolate(with_classes(e)[0], RED, BLUE, 3, "linear", "", "eleven"), InputError),
    "interpolate frames as an unknown class": (lambda e: interpolate_as(e, frames="eleven"), InputError),
    "interpolate a prompt to another": (lambda e: e.interpolate(
        with_prompts(e), RED, BLUE, 3, "spherical", "a red circle", "a blue square", ""), None),
    "interpolate with unknown words": (lambda e: e.interpolate(
        with_prompts(e), RED, BLUE, 3, "linear", "a red zeppelin", "", "a shape"), None),
    "encode with a prompt": (lambda e: e.encode(with_prompts(e), RED, "a red circle"), None),
    "encode with no prompt": (lambda e: e.encode(with_prompts(e), RED, ""), None),
    "samples from a prompt": (lambda e: e.prior_samples(with_prompts(e), 2, 0, "a blue square"), None),
    "inpaint one": (lambda e: e.inpaint(able(e, C.INPAINT), RED, CORNER_MASK, "a blue square", 1, 0), None),
    "inpaint none": (lambda e: e.inpaint(able(e, C.INPAINT), RED, CORNER_MASK, "a blue square", 0, 0), InputError),
    "inpaint empty mask": (lambda e: e.inpaint(able(e, C.INPAINT), RED, EMPTY_MASK, "a blue square", 1, 0), None),
    "class inpaint as a class": (lambda e: e.inpaint(able(e, C.CLASS_TO_IMAGE), RED, CORNER_MASK, "", 2, 0, "3"), None),
    "class inpaint every class": (lambda e: e.inpaint(able(e, C.CLASS_TO_IMAGE), RED, CORNER_MASK, "", 2, 0), None),
    "class inpaint with a prompt": (
        lambda e: e.inpaint(able(e, C.CLASS_TO_IMAGE), RED, CORNER_MASK, "a seven", 1, 0, "7"), None),
    "class inpaint bad label": (
        lambda e: e.inpaint(able(e, C.CLASS_TO_IMAGE), RED, CORNER_MASK, "", 1, 0, "eleven"), InputError),
    "class inpaint none": (lambda e: e.inpaint(able(e, C.CLASS_TO_IMAGE), RED, CORNER_MASK, "", 0, 0, "3"), InputError),
    "class samples of a class": (lambda e: e.prior_samples(able(e, C.CLASS_TO_IMAGE), 2, 0, "3"), None),
    "class samples bad label": (lambda e: e.prior_samples(able(e, C.CLASS_TO_IMAGE), 2, 0, "eleven"), InputError),
    "class encode ignores the label": (lambda e: e.encode(able(e, C.CLASS_TO_IMAGE), RED, "eleven"), None),
    "text inpaint ignores a label": (
        lambda e: e.inpaint(able(e, C.TEXT_TO_IMAGE), RED, CORNER_MASK, "a blue square", 1, 0, "3"), None),
    "code maps": (lambda e: e.code_maps(able(e, C.CODEBOOK), RED), None),
    "code maps without an image": (lambda e: e.code_maps(able(e, C.CODEBOOK), None), InputError),
    "code maps of a continuous latent": (lambda e: e.code_maps(unable(e, C.CODEBOOK), RED), ModelError),
    "sliders before an upload": (lambda e: e.decode_sliders(able(e, C.ENCODE), None, [0.0], {}), InputError),
    "train unknown recipe": (lambda e: e.start_training("digits", "no-such-recipe", SETTINGS), InputError),
    "train bad data": (lambda e: e.start_training("bogus", "digits-vae-2d", SETTINGS), InputError),
    "train negative steps": (
        lambda e: e.start_training("digits", "digits-vae-2d", TrainingSettings(-1, 8, 1e-3, 0)), InputError),
    "train zero batch": (
        lambda e: e.start_training("digits", "digits-vae-2d", TrainingSettings(10, 0, 1e-3, 0)), InputError),
}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_both_engines_accept_and_refuse_alike(engine, name):
    request, refusal = REQUESTS[name]
    if refusal is None:
        request(engine)
    else:
        with pytest.raises(refusal):
            request(engine)


def test_both_engines_read_prompts_alike(engine):
    assert t2i(engine, prompt="").prompt_read == "a shape"
    assert len(t2i(engine, prompt=LONG_PROMPT).prompt_read) <= REQUEST_LIMITS.MAX_PROMPT_CHARACTERS
    assert any("unknown words" in note and "zeppelin" in note for note in t2i(engine, prompt="a red zeppelin").notes)
    assert not t2i(engine, prompt="a blue square").notes


def test_the_fake_offers_real_recipes_and_data_sources():
    real = Engine(models_dir=os.devnull)  # no models: recipes and data sources only
    recipes = {recipe.name: recipe for recipe in real.list_recipes()}
    for recipe in FakeEngine().list_recipes():
        assert recipe.name in recipes and recipe.data == recipes[recipe.name].data
        assert recipe.defaults == recipes[recipe.name].defaults
    assert set(FakeEngine().list_data_sources()) <= set(real.list_data_sources())


def test_the_fake_knows_the_shipped_shapes_words():
    from vaestudio import hub

    vocabulary = hub.load("shapes")["prior"].config.text_encoder.vocabulary
    assert KNOWN_WORDS == {word for word in vocabulary if not word.startswith("<")}
