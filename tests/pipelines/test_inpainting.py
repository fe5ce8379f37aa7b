"""Inpainting on tiny untrained models: unmasked codes kept exactly, mask geometry, edge cases."""

import numpy as np
import pytest
import torch
from PIL import Image

from tests.pipelines.conftest import TINY_SIZE, awkward_uploads, shapes_picture
from vaestudio.pipelines.editing import Editor
from vaestudio.pipelines.inpainting import Inpainter, code_mask, mask_picture


@pytest.fixture(scope="module")
def inpainter(tiny_bundle):
    return Inpainter(tiny_bundle["vqvae"], tiny_bundle["prior"], tiny_bundle["scorer"], "a shape")


def left_half_mask(width: int, height: int) -> Image.Image:
    mask = Image.new("L", (width, height), 0)
    mask.paste(255, (0, 0, width // 2, height))
    return mask


def test_unmasked_codes_are_kept_exactly(inpainter):
    picture = shapes_picture(2)  # 64 x 64 upload for a 16 x 16 model
    result = inpainter(picture, left_half_mask(64, 64), "a red circle", num_candidates=6, seed=3)
    assert len(result) == 6
    expected = torch.zeros(4, 4, dtype=torch.bool)
    expected[:, :2] = True
    assert torch.equal(result.code_mask, expected)
    changed = torch.zeros(4, 4, dtype=torch.bool)
    for item in result:
        assert torch.equal(item.codes[~expected], result.original_codes[~expected])
        changed |= item.codes != result.original_codes
        assert item.image.size == (TINY_SIZE, TINY_SIZE)
    assert changed[expected].any()
    scores = [item.score for item in result]
    assert scores == sorted(scores, reverse=True)


def test_guided_inpainting_keeps_unmasked_codes_and_follows_the_guidance(inpainter):
    picture, mask = shapes_picture(2), left_half_mask(64, 64)
    plain = inpainter(picture, mask, "a red circle", num_candidates=4, seed=5)
    guided = inpainter(picture, mask, "a red circle", num_candidates=4, seed=5, guidance_scale=4.0)
    for item in guided:
        assert torch.equal(item.codes[~guided.code_mask], guided.original_codes[~guided.code_mask])
    codes = {tuple(item.codes.flatten().tolist()) for item in guided}
    assert codes != {tuple(item.codes.flatten().tolist()) for item in plain}
    assert inpainter(picture, mask, "a red circle", num_candidates=4, seed=5, guidance_scale=1.0).images[0].codes \
        .equal(plain.images[0].codes)


def test_same_seed_same_candidates(inpainter):
    picture, mask = shapes_picture(1), left_half_mask(64, 64)
    first = inpainter(picture, mask, "", num_candidates=3, seed=5)
    again = inpainter(picture, mask, "", num_candidates=3, seed=5)
    assert all(torch.equal(a.codes, b.codes) for a, b in zip(first, again))
    assert all(item.score is None for item in first)  # no prompt: nothing to rerank against


def test_any_touched_code_cell_is_resampled():
    mask = Image.new("L", (16, 16), 0)
    mask.putpixel((5, 9), 255)  # one pixel in cell (row 2, column 1) of a 4 x 4 map
    cells = code_mask(mask, (4, 4))
    assert cells.sum() == 1 and cells[2, 1]


def test_mask_follows_the_image_crop(inpainter):
    wide = Image.new("RGB", (128, 64), (240, 240, 240))
    mask = Image.new("L", (128, 64), 0)
    mask.paste(255, (0, 0, 32, 64))  # cropped away by the centre square crop
    result = inpainter(wide, mask, "", num_candidates=1)
    assert not result.code_mask.any()
    mask.paste(255, (32, 0, 64, 32))  # the top-left quarter of the kept square (x 32..96)
    result = inpainter(wide, mask, "", num_candidates=1)
    assert result.code_mask[:2, :2].all() and result.code_mask.sum() == 4


def test_zero_area_mask_returns_the_reconstruction(inpainter):
    picture = shapes_picture(0)
    result = inpainter(picture, Image.new("L", (64, 64), 0), "a blue star", num_candidates=4)
    assert len(result) == 1 and torch.equal(result[0].codes, result.original_codes)
    assert any("mask is empty" in warning for warning in result.warnings)


def test_full_mask_resamples_everything(inpainter):
    result = inpainter(shapes_picture(0), np.ones((64, 64), dtype=bool), "a blue star", num_candidates=2)
    assert result.code_mask.all() and len(result) == 2


@pytest.mark.parametrize("name", ["1x1", "8000x1", "16-bit", "palette", "cmyk", "animated"])
def test_awkward_uploads_inpaint(inpainter, name):
    result = inpainter(awkward_uploads()[name], np.ones((3, 3), dtype=bool), "", num_candidates=1)
    assert len(result) == 1


def test_mask_formats():
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    rgba.putpixel((1, 1), (255, 255, 255, 255))
    assert np.asarray(mask_picture(rgba, (8, 8))).sum() == 255
    assert np.asarray(mask_picture(torch.ones(4, 4), (8, 8))).min() == 255
    with pytest.raises(ValueError, match="2-D"):
        mask_picture(np.zeros((2, 2, 2, 2)), (8, 8))


def test_editor_inpaints_through_a_bundle_and_refuses_without_prior(tiny_bundle, tiny_vae):
    editor = Editor(tiny_bundle)
    assert "inpaint" in editor.capabilities
    assert len(editor.inpaint(shapes_picture(0), left_half_mask(64, 64), "a red heart", 2, 0)) == 2
    with pytest.raises(ValueError, match="prior"):
        Editor(tiny_vae).inpaint(shapes_picture(0), left_half_mask(64, 64))
