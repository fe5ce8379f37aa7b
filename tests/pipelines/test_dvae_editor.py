"""The editor on a dVAE: its latent is the argmax codes' embeddings; every edit decodes through real codes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.pipelines.conftest import TINY_SIZE
from vaestudio.checkpoints import Bundle
from vaestudio.models import DVAE, DVAEConfig, PixelCNNPrior, PixelCNNPriorConfig
from vaestudio.pipelines.capabilities import capabilities
from vaestudio.pipelines.convert import to_pil
from vaestudio.pipelines.editing import Editor


def tiny_dvae(seed: int = 0) -> DVAE:
    torch.manual_seed(seed)
    config = DVAEConfig(image_size=TINY_SIZE, hidden_channels=8, num_residual_blocks=1, residual_channels=4,
                        num_codes=16, code_dim=4, logits_init_scale=4.0)  # 4 x 4 code maps of 16 codes
    return DVAE(config).eval()


@pytest.fixture(scope="module")
def editor(tiny_source):
    return Editor(tiny_dvae(), source=tiny_source, sample_size=32)


def picture(source, index: int):
    return to_pil(source[index].image[None])[0]


def pixels(picture) -> np.ndarray:
    return np.asarray(picture, dtype=np.int16)


def decoded_codes(model: DVAE, image) -> torch.Tensor:
    """What the dVAE itself makes of an image: its argmax codes (h, w) and their decode as a picture."""
    codes = model.encode_codes(Editor(model).model_input(image))  # (1, h, w)
    return codes[0], to_pil(model.decode_codes(codes))[0]


def test_a_dvae_is_offered_encode_sliders_interpolation_scatter_and_codebook(editor):
    assert capabilities(editor.model, editor) == {"encode", "attributes", "interpolate", "scatter", "codebook"}
    assert len(editor.sliders()) > 0
    with pytest.raises(ValueError, match="prior"):
        editor.sample(2, seed=0)


def test_encoding_shows_the_argmax_reconstruction(editor, tiny_source):
    image = picture(tiny_source, 3)
    encoding = editor.encode(image)
    codes, reconstruction = decoded_codes(editor.model, image)
    assert encoding.latents.shape == (1, 4 * 4 * 4)  # code_dim x h x w
    table = editor.model.code_table()  # (K, D)
    torch.testing.assert_close(encoding.latents.view(4, 4, 4).permute(1, 2, 0), table[codes])
    assert np.array_equal(pixels(encoding.reconstruction), pixels(reconstruction))
    assert np.isfinite(encoding.psnr) and len(encoding.slider_values) == len(editor.sliders())


def test_a_moved_slider_decodes_the_nearest_codes_of_the_moved_latent(editor, tiny_source):
    encoding = editor.encode(picture(tiny_source, 5))
    values = list(encoding.slider_values)
    values[0] += 2.0
    moved = editor.edited_latents(encoding, values)  # (1, F)
    assert not torch.allclose(moved, encoding.latents)
    vectors = moved.view(4, 4 * 4).t()  # (h*w, D): one latent vector per position
    nearest = torch.cdist(vectors, editor.model.code_table()).argmin(1).view(1, 4, 4)  # (1, h, w)
    expected = to_pil(editor.model.decode_codes(nearest))[0]
    assert np.array_equal(pixels(editor.decode(encoding, values)), pixels(expected))


def test_interpolation_runs_between_the_two_reconstructions(editor, tiny_source):
    first, second = picture(tiny_source, 0), picture(tiny_source, 1)
    frames = editor.interpolate(first, second, steps=5)
    assert len(frames) == 5
    assert np.array_equal(pixels(frames.frames[0]), pixels(decoded_codes(editor.model, first)[1]))
    assert np.array_equal(pixels(frames.frames[-1]), pixels(decoded_codes(editor.model, second)[1]))


def test_scatter_places_every_image_and_decodes_points(editor):
    scatter = editor.latent_scatter(num_points=20)
    assert scatter.points.shape == (20, 2) and scatter.x_title == "PC1"
    assert scatter.decode(0.0, 0.0).size == (TINY_SIZE, TINY_SIZE)


def test_codebook_view_counts_every_position_and_sees_a_single_code_model_as_one_code(tiny_source):
    usage = Editor(tiny_dvae(), source=tiny_source).codebook_usage(num_images=12)
    assert int(usage.counts.sum()) == 12 * 4 * 4 and 1.0 <= usage.perplexity <= (usage.counts > 0).sum()
    single = tiny_dvae()
    with torch.no_grad():
        single.encoder.project.bias[7] += 1e4  # code 7 wins at every position
    usage = Editor(single, source=tiny_source).codebook_usage(num_images=12)
    assert usage.counts[7] == 12 * 4 * 4 and usage.dead_codes == 15 and usage.perplexity == pytest.approx(1.0)


def test_a_code_prior_bundle_samples_and_inpaints_through_the_dvae(tiny_source):
    torch.manual_seed(0)
    prior = PixelCNNPrior(PixelCNNPriorConfig(num_codes=16, channels=8, num_layers=2, head_channels=8)).eval()
    bundle = Bundle("code_prior", {"vqvae": tiny_dvae(), "prior": prior})
    editor = Editor(bundle, source=tiny_source, sample_size=32)
    assert capabilities(bundle, editor) == {"encode", "attributes", "interpolate", "scatter", "codebook", "prior",
                                            "inpaint"}
    samples = editor.sample(3, seed=1)
    assert len(samples) == 3 and samples[0].size == (TINY_SIZE, TINY_SIZE)
    codes = prior.sample(3, 4, 4, 1.0, 0, 1)  # the same draw, decoded by the dVAE
    expected = to_pil(bundle["vqvae"].decode_codes(codes))
    assert all(np.array_equal(pixels(a), pixels(b)) for a, b in zip(samples, expected))
    mask = np.zeros((TINY_SIZE, TINY_SIZE), dtype=np.uint8)
    mask[:8, :8] = 255  # the top-left quarter: 2 x 2 of the 4 x 4 codes
    result = editor.inpaint(picture(tiny_source, 2), mask, num_candidates=2, seed=0)
    assert int(result.code_mask.sum()) == 4 and len(result.images) == 2
    kept = ~result.code_mask  # (h, w): the unpainted codes stay the dVAE's own
    for image in result.images:
        assert torch.equal(image.codes[kept], result.original_codes[kept])
