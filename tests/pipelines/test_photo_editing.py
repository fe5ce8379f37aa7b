"""Photo editing: any upload keeps its size, the code map view, inpainting that keeps every unpainted code."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vaestudio.checkpoints import Bundle
from vaestudio.models import PhotoVQVAE, PhotoVQVAEConfig, PixelCNNPrior, PixelCNNPriorConfig
from vaestudio.pipelines.photo_editing import PhotoEditing, code_colours, is_off_world


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    torch.manual_seed(0)
    vqvae = PhotoVQVAE(PhotoVQVAEConfig(image_size=16, hidden_channels=8, residual_channels=4, num_residual_blocks=1,
                                        encoder_channels=8, encoder_residual_channels=4, num_codes=16, code_dim=4,
                                        kmeans_init=False, dead_code_threshold=0.0))
    with torch.no_grad():
        vqvae.quantizer.codebook.copy_(torch.randn(16, 4) * 0.3)  # spread codes: a random image uses several
    prior = PixelCNNPrior(PixelCNNPriorConfig(num_codes=16, channels=8, num_layers=2, head_channels=8))
    return Bundle("photo_editing", {"vqvae": vqvae.eval(), "prior": prior.eval()})


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.mark.parametrize("width, height", [(37, 22), (64, 64), (5, 90)])
def test_encode_keeps_the_upload_size_with_a_code_map_view(bundle, width, height):
    encoding = PhotoEditing(bundle).encode(photo(width, height))
    assert encoding.image.size == encoding.reconstruction.size == encoding.code_map.size == (width, height)
    assert tuple(encoding.codes.shape) == (-(-height // 4), -(-width // 4))
    assert np.isfinite(encoding.psnr)
    assert f"{width}x{height} pixels" in encoding.summary


def test_the_code_map_view_colours_each_code_cell_by_its_code(bundle):
    editing = PhotoEditing(bundle)
    codes = torch.tensor([[0, 1], [1, 5]])
    picture = np.asarray(editing.code_map_picture(codes, (7, 8)))  # (8, 7, 3): the last cells cut
    colours = code_colours(bundle["vqvae"].quantizer.codebook)
    assert picture.shape == (8, 7, 3)
    assert (picture[:4, :4] == colours[0]).all() and (picture[:4, 4:] == colours[1]).all()
    assert (picture[4:, 4:] == colours[5]).all()
    assert len({tuple(colour) for colour in colours}) > 8  # distinct codes look distinct


def test_uploads_above_the_working_size_are_scaled_down_with_a_note(bundle):
    encoding = PhotoEditing(bundle, max_pixels=40 * 40).encode(photo(80, 60))
    assert encoding.image.width * encoding.image.height <= 40 * 40
    assert encoding.reconstruction.size == encoding.image.size
    assert "scaled down from 80x60" in encoding.summary


def painted_mask(width: int, height: int, box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", (width, height), 0)
    mask.paste(255, box)
    return mask


def test_inpainting_resamples_painted_codes_and_keeps_every_other_code_and_pixel(bundle):
    editing = PhotoEditing(bundle)
    upload = photo(45, 38, seed=1)
    result = editing.inpaint(upload, painted_mask(45, 38, (13, 9, 26, 20)), num_candidates=4, seed=3)
    cells = result.code_mask
    assert cells.shape == (10, 12)
    assert cells.sum() == 3 * 4 and bool(cells[2:5, 3:7].all())  # rows 9..19 -> cells 2..4, columns 13..25 -> 3..6
    for codes in result.codes:
        assert torch.equal(codes[~cells], result.original_codes[~cells])
    assert any(not torch.equal(codes[cells], result.original_codes[cells]) for codes in result.codes)
    pixel_cells = cells.repeat_interleave(4, 0).repeat_interleave(4, 1)[:38, :45].numpy()  # (38, 45)
    original = np.asarray(upload)
    for image in result.images:
        assert image.size == upload.size
        assert (np.asarray(image)[~pixel_cells] == original[~pixel_cells]).all()


def test_inpainted_pixels_are_the_full_decode_of_the_candidate_codes(bundle):
    editing = PhotoEditing(bundle)
    upload = photo(96, 80, seed=2)
    result = editing.inpaint(upload, painted_mask(96, 80, (40, 36, 52, 44)), num_candidates=1, seed=0)
    full = bundle["vqvae"].decode_codes(result.codes[:1])[0, :, :80, :96]  # (3, 80, 96) decoded whole
    expected = (full.clamp(0, 1) * 255).round().permute(1, 2, 0).numpy()
    cells = result.code_mask.repeat_interleave(4, 0).repeat_interleave(4, 1)[:80, :96].numpy()
    got = np.asarray(result.images[0]).astype(np.float64)
    assert np.abs(got[cells] - expected[cells]).max() <= 1.0  # the windowed decode equals the whole one


def test_an_empty_mask_returns_the_upload_and_says_so(bundle):
    upload = photo(20, 20)
    result = PhotoEditing(bundle).inpaint(upload, Image.new("L", (20, 20), 0), num_candidates=2)
    assert not result.code_mask.any() and len(result.images) == 2
    assert np.array_equal(np.asarray(result.images[0]), np.asarray(upload))
    assert "mask is empty" in result.notes[0]


def test_inpainting_needs_the_prior_and_editing_needs_a_photo_vqvae(bundle):
    with pytest.raises(ValueError, match="prior"):
        PhotoEditing(bundle["vqvae"]).inpaint(photo(8, 8), painted_mask(8, 8, (0, 0, 4, 4)))
    with pytest.raises(TypeError, match="photo_vqvae"):
        PhotoEditing(bundle["prior"])


def test_off_world_means_not_a_square_of_the_model_size(bundle):
    model = bundle["vqvae"]  # image_size 16
    assert not is_off_world(photo(16, 16), model)
    assert is_off_world(photo(16, 15), model) and is_off_world(photo(640, 480), model)
