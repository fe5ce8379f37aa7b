"""A two-level bundle (VQ-VAE-2 + top and bottom priors) served by the real engine: every tab that offers it works."""

from __future__ import annotations

import pytest
from PIL import Image

from studio.engine import Engine
from studio.engine_api import Capability, ModelError
from tests.pipelines.conftest import make_tiny_two_level_bundle

NAME = "tiny-vqvae2"


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Engine:
    from vaestudio.checkpoints import save_bundle

    zoo = tmp_path_factory.mktemp("zoo")
    bundle = make_tiny_two_level_bundle()
    save_bundle(str(zoo / NAME), bundle.kind, bundle.components)
    (zoo / NAME / "README.md").write_text(f"# {NAME}\n\nRandom weights, for tests.\n")
    (zoo / NAME / "vqvae" / "recipe.toml").write_text('[data]\nsource = "shapes"\n')  # the editor's data sample
    return Engine(models_dir=zoo)


def _picture(shade: int) -> Image.Image:
    picture = Image.new("RGB", (32, 32), (shade, shade, shade))
    picture.paste((255 - shade,) * 3, (8, 8, 24, 24))
    return picture


def test_the_bundle_is_listed_as_a_vqvae2_with_what_it_can_do(engine):
    (info,) = engine.list_models()
    assert info.name == NAME and info.family == "VQ-VAE-2 + top and bottom PixelCNN priors"
    assert {Capability.PRIOR, Capability.INPAINT, Capability.CODEBOOK, Capability.ENCODE, Capability.INTERPOLATE,
            Capability.SCATTER} <= info.capabilities
    assert Capability.TEXT_TO_IMAGE not in info.capabilities and Capability.MANIFOLD not in info.capabilities


def test_samples_inpainting_and_the_codebook_work_in_the_studio(engine):
    assert isinstance(engine.prior_samples(NAME, 4, 0), Image.Image)
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (0, 0, 16, 16))
    candidates = engine.inpaint(NAME, _picture(40), mask, "", 3, 1)
    assert len(candidates) == 3 and all(candidate.size == (16, 16) for candidate in candidates)
    usage = engine.codebook_usage(NAME)
    assert len(usage.counts) == 16 and "top codebook" in usage.measured_on


def test_the_code_map_view_draws_the_top_and_the_bottom_map(engine):
    result = engine.code_maps(NAME, _picture(30))
    assert [caption.split(" (")[0] for caption in result.captions] == ["top codes", "bottom codes"]
    assert "(4 x 4" in result.captions[0] and "(8 x 8" in result.captions[1]
    assert len(result.pictures) == 2 and result.reconstruction.size == (16, 16) and "PSNR" in result.note


def test_editing_interpolation_and_the_scatter_work_in_the_studio(engine):
    encoding = engine.encode(NAME, _picture(30))
    assert encoding.sliders and encoding.reconstruction.size == (16, 16)
    edited = engine.decode_sliders(NAME, encoding.state, [spec.value + 0.5 for spec in encoding.sliders], {})
    assert edited.size == (16, 16)
    assert engine.interpolate(NAME, _picture(0), _picture(200), 3, "linear") is not None
    assert len(engine.latent_scatter(NAME, "", 20).x) == 20


def test_it_has_no_classes_to_pick_and_no_text_to_image(engine):
    assert engine.model_classes(NAME) == []
    with pytest.raises(ModelError, match="cannot do"):
        engine.text_to_image(NAME, "a seven", 1, 0, 1.0, 0, 1)
