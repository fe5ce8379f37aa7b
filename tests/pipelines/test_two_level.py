"""The two-level pipeline on tiny untrained models: top-then-bottom sampling, inpainting at both levels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.pipelines.conftest import TINY_SIZE, make_tiny_bundle, make_tiny_two_level_bundle
from vaestudio.checkpoints import Bundle
from vaestudio.models.bottom_prior import TopCondition
from vaestudio.pipelines.editing import Editor
from vaestudio.pipelines.two_level import TwoLevel

TOP, BOTTOM = (4, 4), (8, 8)  # the tiny VQ-VAE-2's maps of 16 x 16 images


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return make_tiny_two_level_bundle()


@pytest.fixture(scope="module")
def pipeline(bundle) -> TwoLevel:
    return TwoLevel(bundle)


@pytest.fixture(scope="module")
def picture(pipeline):
    return pipeline.sample(1, seed=11)[0].image


def _top_left_quarter() -> np.ndarray:
    mask = np.zeros((TINY_SIZE, TINY_SIZE), dtype=bool)
    mask[: TINY_SIZE // 2, : TINY_SIZE // 2] = True
    return mask


def test_sampling_draws_the_top_maps_then_the_bottom_maps_given_them(pipeline, bundle):
    result = pipeline.sample(3, seed=5)
    assert len(result) == 3
    for item in result:
        assert item.image.size == (TINY_SIZE, TINY_SIZE)
        assert item.codes.top.shape == TOP and item.codes.bottom.shape == BOTTOM
    tops = torch.stack([item.codes.top for item in result])  # (3, 4, 4)
    bottoms = torch.stack([item.codes.bottom for item in result])  # (3, 8, 8)
    assert torch.equal(tops, bundle["top_prior"].sample(3, *TOP, seed=5))
    assert torch.equal(bottoms, bundle["bottom_prior"].sample(TopCondition(tops), *BOTTOM, seed=6))
    again = pipeline.sample(3, seed=5)
    assert all(np.array_equal(np.asarray(a.image), np.asarray(b.image)) for a, b in zip(result, again))
    decoded = bundle["vqvae"].decode_codes(pipeline.sample_codes(3, seed=5))  # (3, C, 16, 16)
    assert decoded.shape == (3, 3, TINY_SIZE, TINY_SIZE)


def test_inpainting_keeps_every_unpainted_code_at_both_levels(pipeline, picture):
    result = pipeline.inpaint(picture, _top_left_quarter(), num_candidates=4, seed=3)
    assert result.masks.top.shape == TOP and result.masks.bottom.shape == BOTTOM
    assert result.masks.top.sum() == 4 and result.masks.bottom.sum() == 16  # the top-left quarter's cells
    assert result.masks.top[:2, :2].all() and result.masks.bottom[:4, :4].all()
    changed_top = changed_bottom = 0
    for item in result:
        for level in ("top", "bottom"):
            codes, original, painted = (getattr(part, level) for part in (item.codes, result.original_codes,
                                                                          result.masks))
            assert torch.equal(codes[~painted], original[~painted]), f"an unpainted {level} code changed"
        changed_top += int((item.codes.top != result.original_codes.top).sum())
        changed_bottom += int((item.codes.bottom != result.original_codes.bottom).sum())
    assert changed_top > 0 and changed_bottom > 0  # the painted cells were redrawn at both levels


def test_bottom_only_inpainting_keeps_the_whole_top_map(pipeline, picture):
    result = pipeline.inpaint(picture, _top_left_quarter(), num_candidates=3, seed=3, level="bottom")
    assert not result.masks.top.any()
    for item in result:
        assert torch.equal(item.codes.top, result.original_codes.top)
        painted = result.masks.bottom
        assert torch.equal(item.codes.bottom[~painted], result.original_codes.bottom[~painted])
    with pytest.raises(ValueError, match="level must be one of"):
        pipeline.inpaint(picture, _top_left_quarter(), level="top")


def test_an_empty_mask_returns_the_reconstruction_with_a_warning(pipeline, picture):
    result = pipeline.inpaint(picture, np.zeros((TINY_SIZE, TINY_SIZE), dtype=bool), num_candidates=2)
    assert len(result) == 1 and "empty" in result.warnings[0]


def test_a_class_conditional_bottom_prior_takes_the_label():
    pipeline = TwoLevel(make_tiny_two_level_bundle(bottom_condition="class"))
    assert pipeline.condition_kind == "class"
    three = pipeline.sample_codes(2, seed=1, label=3)
    seven = pipeline.sample_codes(2, seed=1, label=7)
    assert torch.equal(three.top, seven.top)  # the top prior is unconditional
    assert not torch.equal(three.bottom, seven.bottom)
    with pytest.raises(ValueError, match="label must be"):
        pipeline.sample(1, label=10)
    with pytest.raises(ValueError, match="unconditional"):
        TwoLevel(make_tiny_two_level_bundle()).sample(1, label=3)


def test_the_pipeline_refuses_what_is_not_a_vqvae2_with_its_two_priors(bundle, vocabulary):
    one_level = make_tiny_bundle(vocabulary)
    with pytest.raises(ValueError, match="not a VQ-VAE-2"):
        TwoLevel(one_level)
    with pytest.raises(ValueError, match="pixelcnn_bottom_prior"):
        TwoLevel(bundle["vqvae"], bundle["top_prior"], bundle["top_prior"])
    with pytest.raises(ValueError, match="two-level VQ-VAE"):
        TwoLevel(one_level["vqvae"], bundle["top_prior"], bundle["bottom_prior"])


def test_the_editor_samples_and_inpaints_through_both_priors(bundle, tiny_source, picture):
    editor = Editor(bundle, source=tiny_source, sample_size=16)
    assert {"encode", "interpolate", "scatter", "sample", "codebook", "inpaint"} <= editor.capabilities
    samples = editor.sample(2, seed=5)
    expected = TwoLevel(bundle).sample(2, seed=5)
    assert [np.asarray(image).tolist() for image in samples] == [np.asarray(item.image).tolist() for item in expected]
    result = editor.inpaint(picture, _top_left_quarter(), "a prompt", num_candidates=2, seed=1)
    assert len(result) == 2 and any("prompt is ignored" in warning for warning in result.warnings)
    encoding = editor.encode(picture)
    assert encoding.latents.shape == (1, 4 * (16 + 64))  # code_dim x (top cells + bottom cells)
    usage = editor.codebook_usage(num_images=8)
    assert usage.counts.sum() == 8 * 64 and "top codebook" in usage.measured_on  # bottom codes counted


def test_the_code_map_view_draws_each_level_with_one_colour_per_code(bundle, tiny_bundle, picture):
    from vaestudio.pipelines.code_maps import palette

    view = Editor(bundle).code_maps(picture, size=64)
    codes = bundle["vqvae"].encode_codes(Editor(bundle).model_input(picture))
    assert [level.name for level in view.levels] == ["top", "bottom"]
    for level, own in zip(view.levels, (codes.top[0], codes.bottom[0])):
        assert np.array_equal(level.codes, own.numpy()) and level.picture.size == (64, 64)
        cell = 64 // own.shape[0]
        pixels = np.asarray(level.picture)  # (64, 64, 3)
        assert np.array_equal(pixels[cell // 2, cell // 2], palette(16)[int(own[0, 0])])  # the first cell
    assert len({tuple(colour) for colour in palette(64)}) == 64  # every code its own colour
    (only,) = Editor(tiny_bundle).code_maps(picture).levels  # a one-level VQ-VAE: one map
    assert only.name == "" and only.caption.startswith("codes (4 x 4")
