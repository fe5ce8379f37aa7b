"""The editor on tiny untrained models: uploads, sliders, attributes, interpolation, exploration."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from tests.pipelines.conftest import TINY_SIZE, awkward_uploads, shapes_picture
from vaestudio.data.images import ImageError
from vaestudio.pipelines.editing import Editor


@pytest.fixture(scope="module")
def vq_editor(tiny_bundle, tiny_source):
    return Editor(tiny_bundle, source=tiny_source, sample_size=48)


@pytest.fixture(scope="module")
def gaussian_editor(tiny_vae, tiny_source):
    return Editor(tiny_vae, source=tiny_source, sample_size=48, kl_threshold=0.0)


@pytest.fixture(scope="module")
def digits_editor(tiny_vae_2d):
    return Editor(tiny_vae_2d, source="digits", sample_size=200)


@pytest.mark.parametrize("name", sorted(awkward_uploads()))
@pytest.mark.parametrize("editor_name", ["vq_editor", "gaussian_editor"])
def test_any_upload_encodes(request, editor_name, name):
    editor = request.getfixturevalue(editor_name)
    encoding = editor.encode(awkward_uploads()[name])
    assert encoding.image.size == (TINY_SIZE, TINY_SIZE)
    assert encoding.reconstruction.size == (TINY_SIZE, TINY_SIZE)
    assert len(encoding.slider_values) == len(editor.slider_specs(encoding))


@pytest.mark.parametrize("upload", [b"", b"not an image at all"])
def test_unreadable_uploads_are_clear_errors(vq_editor, upload):
    with pytest.raises(ImageError):
        vq_editor.encode(upload)


@pytest.mark.parametrize("editor_name", ["vq_editor", "gaussian_editor"])
def test_decoding_the_encoded_slider_values_gives_the_reconstruction(request, editor_name):
    editor = request.getfixturevalue(editor_name)
    encoding = editor.encode(shapes_picture(3))
    same = editor.decode(encoding, encoding.slider_values, {})
    assert np.array_equal(np.asarray(same), np.asarray(encoding.reconstruction))


@pytest.mark.parametrize("editor_name", ["vq_editor", "gaussian_editor"])
def test_an_encoding_carries_the_psnr_of_its_reconstruction(request, editor_name):
    editor = request.getfixturevalue(editor_name)
    encoding = editor.encode(shapes_picture(3))
    original = np.asarray(encoding.image, dtype=np.float64) / 255
    reconstruction = np.asarray(encoding.reconstruction, dtype=np.float64) / 255
    expected = 10 * np.log10(1 / np.mean((original - reconstruction) ** 2))
    assert encoding.psnr == pytest.approx(expected, abs=0.05)  # measured before the 8-bit rounding


def test_random_slider_values_stay_in_range_and_repeat(vq_editor):
    encoding = vq_editor.encode(shapes_picture(3))
    values = vq_editor.random_slider_values(encoding, 5)
    specs = vq_editor.slider_specs(encoding)
    assert values == vq_editor.random_slider_values(encoding, 5) != vq_editor.random_slider_values(encoding, 6)
    assert all(spec.minimum <= value <= spec.maximum for value, spec in zip(values, specs))


def test_gaussian_sliders_are_active_dimensions_ordered_by_kl(gaussian_editor):
    sample = gaussian_editor.dataset_sample()
    kl = gaussian_editor.model.kl_per_dimension(sample.images)
    sliders = gaussian_editor.sliders()
    order = [int(label.split()[0][1:]) for label in sliders.labels]
    assert order == torch.argsort(kl, descending=True).tolist()
    strict = Editor(gaussian_editor.model, source=gaussian_editor.source, sample_size=48, kl_threshold=1e9)
    assert len(strict.sliders()) == 0 and strict.slider_specs() == []


def test_gaussian_slider_value_is_the_latent_coordinate(gaussian_editor):
    encoding = gaussian_editor.encode(shapes_picture(1))
    values = list(encoding.slider_values)
    values[0] += 1.5
    moved = gaussian_editor.edited_latents(encoding, values)
    dimension = int(gaussian_editor.sliders().labels[0].split()[0][1:])
    difference = (moved - encoding.latents)[0]
    assert torch.allclose(difference[dimension], torch.tensor(1.5))
    assert torch.count_nonzero(difference) == 1


def test_vq_sliders_are_principal_directions(vq_editor):
    sliders = vq_editor.sliders()
    assert 1 <= len(sliders) <= 8
    gram = sliders.directions @ sliders.directions.t()
    assert torch.allclose(gram, torch.eye(len(sliders)), atol=1e-4)
    assert torch.all(sliders.scales[:-1] >= sliders.scales[1:])
    encoding = vq_editor.encode(shapes_picture(2))
    values = [value + 2.0 for value in encoding.slider_values]
    moved = vq_editor.edited_latents(encoding, values)
    assert torch.allclose(sliders.values(moved)[0], torch.tensor(values), atol=1e-3)
    assert vq_editor.decode(encoding, values).size == (TINY_SIZE, TINY_SIZE)


def test_precomputations_are_shared_between_editors_of_one_model(vq_editor, tiny_bundle, tiny_source):
    first = vq_editor.sliders()
    again = Editor(tiny_bundle, source=tiny_source, sample_size=48).sliders()
    assert again is first


def test_attribute_vectors_from_caption_words(vq_editor):
    names = vq_editor.attribute_names()
    assert "a" not in names and "background" not in names
    assert any(name in names for name in ("red", "blue", "green", "white", "black", "gray"))
    encoding = vq_editor.encode(shapes_picture(0))
    name = names[0]
    moved = vq_editor.edited_latents(encoding, None, {name: 2.0})
    assert torch.allclose(moved, encoding.latents + 2.0 * vq_editor.attribute_vectors()[name])
    with pytest.raises(ValueError, match="have 'zeppelin' in their caption .*try a keyword such as"):
        vq_editor.decode(encoding, None, {"zeppelin": 1.0})  # a typed keyword that no caption has


def test_attribute_vectors_from_labels(digits_editor):
    assert digits_editor.attribute_names() == [str(digit) for digit in range(10)]


@pytest.mark.parametrize("mode", ["linear", "spherical"])
@pytest.mark.parametrize("editor_name", ["vq_editor", "gaussian_editor"])
def test_interpolation_endpoints_are_the_reconstructions(request, editor_name, mode):
    editor = request.getfixturevalue(editor_name)
    first, second = shapes_picture(0), shapes_picture(5)
    result = editor.interpolate(first, second, steps=5, mode=mode)
    assert len(result) == 5 and len(list(result)) == 5
    assert np.array_equal(np.asarray(result.frames[0]), np.asarray(editor.encode(first).reconstruction))
    assert np.array_equal(np.asarray(result.frames[-1]), np.asarray(editor.encode(second).reconstruction))
    assert result.strip.size[0] >= 5 * TINY_SIZE
    gif = Image.open(io.BytesIO(result.gif))
    assert gif.format == "GIF" and gif.is_animated == (len({frame.tobytes() for frame in result}) > 1)


def test_interpolation_rejects_bad_arguments(vq_editor):
    with pytest.raises(ValueError, match="mode"):
        vq_editor.interpolate(shapes_picture(0), shapes_picture(1), 4, "cubic")
    with pytest.raises(ValueError, match="steps"):
        vq_editor.interpolate(shapes_picture(0), shapes_picture(1), 1)


def test_manifold_grid_of_a_2d_model(digits_editor, gaussian_editor):
    picture = digits_editor.manifold_grid(6)
    assert picture.size == (6 * 8, 6 * 8)
    assert "manifold" in digits_editor.capabilities
    with pytest.raises(ValueError, match="2-D"):
        gaussian_editor.manifold_grid(6)


def test_class_conditional_model_needs_and_uses_its_condition(tiny_cvae):
    editor = Editor(tiny_cvae, source="digits", sample_size=64)
    upload = Image.new("L", (8, 8), 0)
    with pytest.raises(ValueError, match="class"):
        editor.encode(upload)
    encoding = editor.encode(upload, condition=3)
    as_seven = editor.decode(encoding, condition=7)
    assert as_seven.size == (8, 8)
    assert editor.manifold_grid(4, condition=5).size == (32, 32)
    assert len(editor.sample(10, seed=0)) == 10


def test_latent_scatter_2d_and_pca(digits_editor, vq_editor, tiny_source):
    scatter = digits_editor.latent_scatter(num_points=40)
    assert scatter.points.shape == (40, 2) and len(scatter.labels) == 40
    assert set(scatter.labels) <= {str(digit) for digit in range(10)}
    assert scatter.decode(0.0, 0.0).size == (8, 8)
    projected = vq_editor.latent_scatter(tiny_source, num_points=20)
    assert projected.points.shape == (20, 2) and projected.x_title == "PC1"
    assert projected.decode(*projected.points[0]).size == (TINY_SIZE, TINY_SIZE)


def test_samples_and_codebook_usage(vq_editor, gaussian_editor, tiny_source):
    assert len(vq_editor.sample(3, seed=1)) == 3
    assert len(gaussian_editor.sample(2, seed=1)) == 2
    usage = vq_editor.codebook_usage(tiny_source, num_images=20)
    assert usage.counts.sum() == 20 * 4 * 4 and 0 < usage.alive_fraction <= 1
    shares = usage.counts[usage.counts > 0] / usage.counts.sum()
    assert usage.perplexity == pytest.approx(float(np.exp(-(shares * np.log(shares)).sum())))
    assert usage.dead_codes == int((usage.counts == 0).sum())
    with pytest.raises(ValueError, match="VQ"):
        gaussian_editor.codebook_usage(tiny_source)


def test_model_without_known_training_data_is_a_clear_error(tiny_vae):
    with pytest.raises(ValueError, match="training data"):
        Editor(tiny_vae).sliders()
