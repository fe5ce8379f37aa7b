"""Every model shipped in pretrained/ works in every studio tab that offers it, through the real engine.

A model trained on a real data set (mnist, fashion-mnist, emoji) needs that data for what reads it (sliders
and attribute vectors in Edit, the latent scatter, codebook usage): where the data set is installed those work;
where it is not, they read the real examples shipped in the package (100 MNIST digits, 213 emoji), and without
those they fail with the message that names the command that gets it.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest
from PIL import Image

from studio.engine import Engine
from studio.engine_api import Capability, InputError
from studio.pickers import ModelPickers
from vaestudio.data.catalogue import PACKAGED, packaged_dataset
from vaestudio.data.packaged import installed_folder
from vaestudio.data.shipped_samples import has_shipped_samples, shipped_label_names
from vaestudio.hub import pretrained_directory as _pretrained_folder
from vaestudio.hub import shipped_names, training_data

SHIPPED = shipped_names()
REAL_MODELS = ("mnist-vae-2d", "mnist-cvae", "fashion-vae", "mnist-vae", "mnist-iwae", "mnist-vqvae")


def pretrained_directory() -> Path:
    return Path(_pretrained_folder())


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(models_dir=pretrained_directory())


def _data_needed(name: str) -> str | None:
    """The packaged data set a shipped model was trained on, when it is not installed here and no samples of it
    ship in the package."""
    directory = pretrained_directory() / name
    if (directory / "bundle.json").is_file():  # a bundle's training data is its VQ-VAE's
        directory = directory / "vqvae"
    spec = str((training_data(str(directory)) or {}).get("source", "")).strip().lower()
    if spec in PACKAGED and installed_folder(packaged_dataset(spec)) is None and not has_shipped_samples(spec):
        return spec
    return None


def _picture(size: int, shade: int) -> Image.Image:
    picture = Image.new("RGB", (size, size), (shade, shade, shade))
    picture.paste((255 - shade,) * 3, (size // 4, size // 4, 3 * size // 4, 3 * size // 4))
    return picture


def test_the_real_models_are_shipped_and_the_explore_tab_opens_on_the_2d_vae(engine):
    assert set(REAL_MODELS) <= set(SHIPPED)
    assert SHIPPED[:2] == ["shapes", "mnist-vae-2d"]  # the text-to-image bundle, then the real-data zoo
    with gr.Blocks():
        explore = ModelPickers(engine).dropdown(None, prefer=Capability.MANIFOLD)
        edit = ModelPickers(engine).dropdown(Capability.ENCODE)
    assert explore.value == "mnist-vae-2d" and edit.value == "shapes"


@pytest.mark.parametrize("name", SHIPPED)
def test_every_tab_that_offers_a_shipped_model_works_with_it(engine, name):
    info = next(info for info in engine.list_models() if info.name == name)
    assert info.capabilities, f"{name} is offered in no tab"
    missing_data = _data_needed(name)
    size = 64  # uploads are fitted to each model's own size
    if info.can(Capability.TEXT_TO_IMAGE):
        generation = engine.text_to_image(name, "a red circle", 1, 0, 1.0, 0, 1)
        assert len(generation.images) == 1
    if info.can(Capability.MANIFOLD):
        width, height = engine.manifold_grid(name, 3).size
        assert width == height and width % 3 == 0
    if info.can(Capability.PRIOR):
        assert isinstance(engine.prior_samples(name, 2, 0), Image.Image)
    if info.can(Capability.CLASS_TO_IMAGE):
        first = engine.model_classes(name)[0]
        assert isinstance(engine.prior_samples(name, 2, 0, first), Image.Image)
    if info.can(Capability.INPAINT):
        assert len(engine.inpaint(name, _picture(size, 30), _bottom_half(size), "", 2, 0)) == 2
    if info.can(Capability.INPAINT):
        mask = Image.new("L", (size, size), 0)
        mask.paste(255, (0, 0, size // 2, size // 2))
        assert len(engine.inpaint(name, _picture(size, 30), mask, "", 2, 0)) == 2
    data_readers = []
    if info.can(Capability.CODEBOOK):
        data_readers.append(lambda: engine.codebook_usage(name))
    if info.can(Capability.ENCODE):
        data_readers.append(lambda: _edit(engine, name, size))
    if info.can(Capability.INTERPOLATE):
        data_readers.append(lambda: engine.interpolate(name, _picture(size, 0), _picture(size, 200), 3, "linear"))
    if info.can(Capability.SCATTER):
        data_readers.append(lambda: engine.latent_scatter(name, "", 20))
    for read in data_readers:
        if missing_data is None:
            assert read() is not None
        else:
            with pytest.raises(InputError, match=f"vaestudio data get {missing_data}"):
                read()


def _bottom_half(size: int) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, (0, size // 2, size, size))
    return mask


def _edit(engine: Engine, name: str, size: int):
    encoding = engine.encode(name, _picture(size, 30))
    values = [spec.value for spec in encoding.sliders]
    strengths = {attribute: 1.0 for attribute in encoding.attributes[:1]}
    edited = engine.decode_sliders(name, encoding.state, values, strengths)
    assert edited.size == encoding.reconstruction.size == encoding.model_input.size
    return edited


def test_mnist_vqvae_works_in_every_tab_without_mnist_installed(tmp_path, monkeypatch):
    """The editor's data sample comes from the 100 MNIST digits shipped in the package when MNIST is absent."""
    import dataclasses
    import shutil

    from vaestudio.data.mnist import MNIST, MnistSource

    monkeypatch.setenv("VAESTUDIO_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(MnistSource, "dataset", dataclasses.replace(MNIST, package_folders=lambda: []))
    shutil.copytree(pretrained_directory() / "mnist-vqvae", tmp_path / "zoo" / "mnist-vqvae")
    engine = Engine(models_dir=tmp_path / "zoo")
    digit = _picture(28, 0)
    encoding = engine.encode("mnist-vqvae", digit)
    assert encoding.sliders and encoding.reconstruction.size == (28, 28)
    assert engine.latent_scatter("mnist-vqvae", "", 50).labels  # 50 of the shipped digits
    assert "shipped samples" in engine.codebook_usage("mnist-vqvae").measured_on
    assert len(engine.inpaint("mnist-vqvae", digit, _bottom_half(28), "", 2, 0, "7")) == 2
    assert isinstance(engine.prior_samples("mnist-vqvae", 4, 0, "3"), Image.Image)



def test_the_emoji_bundle_works_in_every_tab_without_emoji_installed(tmp_path, monkeypatch):
    """Codebook usage, sliders and the scatter of the emoji bundle read the 213 emoji shipped in the package."""
    import shutil

    from vaestudio.data.emoji_packages import EMOJI

    monkeypatch.setenv("VAESTUDIO_CACHE", str(tmp_path / "empty-cache"))
    assert installed_folder(EMOJI) is None
    shutil.copytree(pretrained_directory() / "emoji", tmp_path / "zoo" / "emoji")
    engine = Engine(models_dir=tmp_path / "zoo")
    usage = engine.codebook_usage("emoji")
    assert "shipped samples" in usage.measured_on and sum(usage.counts) > 0
    encoding = engine.encode("emoji", _picture(64, 30))
    assert encoding.sliders and encoding.reconstruction.size == (64, 64)
    assert set(engine.latent_scatter("emoji", "", 60).labels) <= set(shipped_label_names("emoji"))
    assert len(engine.inpaint("emoji", _picture(64, 30), _bottom_half(64), "cat face", 2, 0)) == 2
