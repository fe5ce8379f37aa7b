"""Tiny untrained models and data for the pipeline API tests (no dependence on the shipped zoo)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import torch
from PIL import Image

from vaestudio.checkpoints import Bundle
from vaestudio.models.bottom_prior import PixelCNNBottomPrior, PixelCNNBottomPriorConfig
from vaestudio.models.pixelcnn import PixelCNNPrior, PixelCNNPriorConfig
from vaestudio.models.scorer import ContrastiveScorer, ContrastiveScorerConfig
from vaestudio.models.text import build_vocabulary
from vaestudio.models.vae import VAE, VAEConfig
from vaestudio.models.vqvae import VQVAE, VQVAEConfig
from vaestudio.worlds.shapes.source import ShapesSource

TINY_SIZE = 16
REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_source() -> ShapesSource:
    return ShapesSource("train", image_size=TINY_SIZE, num_images=48, cache=False)


@pytest.fixture(scope="session")
def vocabulary(tiny_source) -> list[str]:
    return build_vocabulary(tiny_source[index].caption for index in range(len(tiny_source)))


@pytest.fixture(scope="session")
def tiny_bundle(vocabulary) -> Bundle:
    return make_tiny_bundle(vocabulary)


def make_tiny_bundle(vocabulary: list[str]) -> Bundle:
    """An untrained 16 x 16 text-to-image bundle: VQ-VAE (4 x 4 codes, K = 16), text prior, scorer."""
    torch.manual_seed(0)
    vqvae = VQVAE(VQVAEConfig(image_size=TINY_SIZE, hidden_channels=8, residual_channels=4, num_residual_blocks=1,
                              downsample_factor=4, num_codes=16, code_dim=4, kmeans_init=False))
    prior = PixelCNNPrior(PixelCNNPriorConfig(num_codes=16, channels=8, num_layers=2, head_channels=8,
                                              condition="text", text_encoder={"vocabulary": vocabulary, "embedding_dim": 8,
                                              "num_layers": 1, "num_heads": 2, "max_tokens": 16}))
    scorer = ContrastiveScorer(ContrastiveScorerConfig(image_size=TINY_SIZE, hidden_sizes=(8, 8), embedding_dim=8,
                                                       text_encoder={"vocabulary": vocabulary, "embedding_dim": 8,
                                                                     "num_layers": 1, "num_heads": 2, "max_tokens": 16}))
    components = {"vqvae": vqvae.eval(), "prior": prior.eval(), "scorer": scorer.eval()}
    return Bundle("text_to_image", components, options={"neutral_prompt": "a shape"})


def make_tiny_class_bundle() -> Bundle:
    """An untrained 8 x 8 grey class_to_image bundle: VQ-VAE (4 x 4 codes, K = 16) and a prior over 10 classes."""
    torch.manual_seed(0)
    vqvae = VQVAE(VQVAEConfig(image_channels=1, image_size=8, hidden_channels=8, residual_channels=4,
                              num_residual_blocks=1, downsample_factor=2, num_codes=16, code_dim=4, kmeans_init=False))
    prior = PixelCNNPrior(PixelCNNPriorConfig(num_codes=16, channels=8, num_layers=2, head_channels=8,
                                              condition="class", num_classes=10, condition_dim=4))
    return Bundle("class_to_image", {"vqvae": vqvae.eval(), "prior": prior.eval()})


@pytest.fixture(scope="session")
def tiny_class_bundle() -> Bundle:
    return make_tiny_class_bundle()


def make_tiny_two_level_bundle(image_channels: int = 3, bottom_condition: str = "none") -> Bundle:
    """An untrained 16 x 16 two-level bundle: VQ-VAE-2 (4 x 4 top and 8 x 8 bottom codes, K = 16), top prior,
    bottom prior (``bottom_condition`` "class": also conditioned on one of 10 labels)."""
    torch.manual_seed(0)
    vqvae = VQVAE(VQVAEConfig(image_channels=image_channels, image_size=TINY_SIZE, hidden_channels=8,
                              residual_channels=4, num_residual_blocks=1, downsample_factor=2, levels=2,
                              top_downsample_factor=2, num_codes=16, code_dim=4, kmeans_init=False,
                              dead_code_threshold=0.0))
    top_prior = PixelCNNPrior(PixelCNNPriorConfig(num_codes=16, channels=8, num_layers=2, head_channels=8))
    bottom_prior = PixelCNNBottomPrior(PixelCNNBottomPriorConfig(
        num_codes=16, channels=8, num_layers=2, head_channels=8, top_num_codes=16, top_channels=8,
        condition=bottom_condition, num_classes=10 if bottom_condition == "class" else 0, condition_dim=4))
    components = {"vqvae": vqvae.eval(), "top_prior": top_prior.eval(), "bottom_prior": bottom_prior.eval()}
    return Bundle("two_level", components)


@pytest.fixture(scope="session")
def tiny_vae() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(image_channels=3, image_size=TINY_SIZE, latent_dim=4, hidden_sizes=(32,))).eval()


@pytest.fixture(scope="session")
def tiny_vae_2d() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(image_channels=1, image_size=8, latent_dim=2, hidden_sizes=(16,))).eval()


@pytest.fixture(scope="session")
def tiny_cvae() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(image_channels=1, image_size=8, latent_dim=2, hidden_sizes=(16,), condition="class",
                         num_classes=10, class_embedding_dim=4)).eval()


def shapes_picture(index: int = 0, split: str = "test") -> Image.Image:
    """A real 64 x 64 shapes image."""
    source = ShapesSource(split, num_images=index + 1, cache=False)
    return Image.fromarray(source.pixels(index))


def png_bytes(picture: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def awkward_uploads() -> dict[str, object]:
    """Uploads that stress the image policy: tiny, elongated, 16-bit, palette, CMYK, animated, RGBA."""
    gradient = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)
    frames = [Image.new("RGB", (20, 30), color) for color in ((255, 0, 0), (0, 0, 255))]
    animated = io.BytesIO()
    frames[0].save(animated, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    rgba = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    rgba.paste((0, 255, 0, 255), (10, 10, 30, 30))
    return {
        "1x1": Image.new("RGB", (1, 1), (200, 10, 10)),
        "8000x1": Image.new("RGB", (8000, 1), (10, 200, 10)),
        "16-bit": png_bytes(Image.fromarray(gradient)),
        "palette": Image.new("RGB", (33, 17), (10, 10, 200)).convert("P", palette=Image.Palette.ADAPTIVE),
        "cmyk": Image.new("CMYK", (30, 30), (0, 255, 255, 0)),
        "animated": animated.getvalue(),
        "rgba": rgba,
        "greyscale": Image.new("L", (50, 70), 90),
    }
