"""Class to image on a tiny untrained class_to_image bundle: labels drawn through the class prior and decoded,
inpainting that resamples only the painted codes, clear errors for bad labels; the editor over such a bundle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vaestudio.pipelines.capabilities import capabilities
from vaestudio.pipelines.class_to_image import ClassToImage
from vaestudio.pipelines.editing import Editor

CORNER = Image.new("L", (8, 8), 0)
CORNER.paste(255, (0, 0, 4, 4))  # the top-left quarter: code cells (0..1, 0..1) of the 4 x 4 map


def a_digit() -> Image.Image:
    picture = Image.new("L", (8, 8), 0)
    picture.paste(255, (3, 1, 5, 7))  # a stroke
    return picture


@pytest.fixture(scope="module")
def pipeline(tiny_class_bundle) -> ClassToImage:
    return ClassToImage(tiny_class_bundle)


def test_a_label_draws_that_class_through_the_class_prior(pipeline, tiny_class_bundle):
    result = pipeline(3, num_images=4, seed=7)
    assert result.labels == [3, 3, 3, 3] and len(result) == 4
    assert all(item.image.size == (8, 8) and item.codes.shape == (4, 4) for item in result)
    expected = tiny_class_bundle["prior"].sample(torch.full((4,), 3), 4, 4, 1.0, 0, 7)  # (4, 4, 4)
    assert torch.equal(torch.stack([item.codes for item in result]), expected)
    decoded = tiny_class_bundle["vqvae"].decode_codes(expected)  # (4, 1, 8, 8)
    pixels = np.asarray(result[0].image, dtype=np.float32) / 255.0
    assert np.abs(pixels - decoded[0, 0].numpy()).max() <= 1 / 255 + 1e-6


def test_the_same_seed_draws_the_same_and_another_class_draws_otherwise(pipeline):
    first = torch.stack([item.codes for item in pipeline("3", num_images=4, seed=1)])
    again = torch.stack([item.codes for item in pipeline(3, num_images=4, seed=1)])
    assert torch.equal(first, again)  # a class name and its index are the same label
    others = [torch.stack([item.codes for item in pipeline(label, num_images=4, seed=1)]) for label in (0, 5, 9)]
    assert any(not torch.equal(first, other) for other in others)


def test_no_label_draws_the_classes_in_turn(pipeline):
    assert pipeline(None, num_images=12, seed=0).labels == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


@pytest.mark.parametrize("label", ["eleven", 10, -1, True, 2.5, "10"])
def test_a_bad_label_is_a_clear_error(pipeline, label):
    with pytest.raises(ValueError, match="0, 1, 2, 3, 4, 5, 6, 7, 8, 9"):
        pipeline(label, num_images=1)
    with pytest.raises(ValueError, match="0, 1, 2, 3, 4, 5, 6, 7, 8, 9"):
        pipeline.inpaint(a_digit(), CORNER, label)


def test_bad_counts_and_temperatures_are_refused(pipeline):
    with pytest.raises(ValueError, match="num_images"):
        pipeline(3, num_images=0)
    with pytest.raises(ValueError, match="temperature"):
        pipeline(3, num_images=1, temperature=0.0)
    with pytest.raises(ValueError, match="num_candidates"):
        pipeline.inpaint(a_digit(), CORNER, 3, num_candidates=0)


def test_inpainting_resamples_only_the_painted_codes_from_the_class_prior(pipeline, tiny_class_bundle):
    vqvae, prior = tiny_class_bundle["vqvae"], tiny_class_bundle["prior"]
    original = vqvae.encode_codes(torch.from_numpy(np.asarray(a_digit(), dtype=np.float32) / 255.0)[None, None])[0]
    result = pipeline.inpaint(a_digit(), CORNER, label="8", num_candidates=6, seed=3)
    painted = torch.zeros(4, 4, dtype=torch.bool)
    painted[:2, :2] = True
    assert torch.equal(result.code_mask, painted) and torch.equal(result.original_codes, original)
    assert result.labels == [8] * 6 and not result.warnings
    codes = torch.stack([item.codes for item in result])  # (6, 4, 4)
    assert torch.equal(codes[:, ~painted], original[~painted].expand(6, -1))  # every unpainted code kept
    expected = prior.sample(torch.full((6,), 8), 4, 4, 1.0, 0, 3, fixed_codes=original.expand(6, 4, 4).contiguous(),
                            resample_mask=painted.expand(6, 4, 4).contiguous())
    assert torch.equal(codes, expected)
    assert (codes[:, painted] != original[painted]).any()  # the painted cells were redrawn


def test_inpainting_without_a_label_draws_each_candidate_as_another_class(pipeline):
    result = pipeline.inpaint(a_digit(), CORNER, None, num_candidates=3, seed=0, num_results=2)
    assert result.labels == [0, 1] and len(result) == 2


def test_an_empty_mask_returns_the_reconstruction_with_a_warning(pipeline):
    result = pipeline.inpaint(a_digit(), Image.new("L", (8, 8), 0), 4)
    assert len(result) == 1 and "empty" in result.warnings[0]
    assert torch.equal(result[0].codes, result.original_codes)


def test_only_a_class_prior_makes_a_class_to_image_pipeline(tiny_bundle, tiny_class_bundle):
    with pytest.raises(ValueError, match="class-conditional prior"):
        ClassToImage(tiny_bundle)  # a text prior
    with pytest.raises(ValueError, match="class-conditional PixelCNN prior"):
        ClassToImage(tiny_class_bundle["vqvae"])


def test_class_names_come_from_the_bundle_options(tiny_class_bundle):
    names = [f"digit {index}" for index in range(10)]
    pipeline = ClassToImage(tiny_class_bundle, options={"class_names": names})
    assert pipeline.class_names == names and pipeline("digit 4", num_images=1).labels == [4]


def test_the_editor_samples_and_inpaints_as_a_class(tiny_class_bundle, tiny_source):
    editor = Editor(tiny_class_bundle, source="digits", sample_size=32)
    assert editor.class_names() == [str(digit) for digit in range(10)] and editor.latent_class_names() == []
    assert {"class_to_image", "prior", "inpaint", "encode", "codebook"} <= capabilities(tiny_class_bundle, editor)
    assert [picture.size for picture in editor.sample(2, seed=0, condition=3)] == [(8, 8), (8, 8)]
    result = editor.inpaint(a_digit(), CORNER, "a seven", 2, 0, label=7)
    assert result.labels == [7, 7] and any("prompt is ignored" in warning for warning in result.warnings)
    assert editor.encode(a_digit()).reconstruction.size == (8, 8)  # its VQ-VAE encodes any image, no class


def test_a_text_bundle_editor_refuses_a_label(tiny_bundle):
    editor = Editor(tiny_bundle, source="shapes", sample_size=16)
    assert editor.class_names() == []
    with pytest.raises(ValueError, match="takes no label"):
        editor.inpaint(Image.new("RGB", (16, 16)), Image.new("L", (16, 16), 255), "a red circle", 1, 0, label=3)
