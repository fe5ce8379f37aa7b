"""Edit hands an upload from outside a model's world (a photo: its shorter side at least 4 times the model's) to
the photos model, says so, and keeps its size; uploads from the model's world (about its size, or its pictures
enlarged) stay with it, and the photos model is offered for them; hostile uploads are still refused before any
model sees them."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from studio.engine import Engine
from studio.engine_api import Capability, InputError
from tests.studio.hostile_uploads import png_bytes
from tests.studio.tiny_zoo import write_tiny_zoo


def write_photos_bundle(folder) -> None:
    import torch

    from vaestudio.checkpoints import save_bundle
    from vaestudio.models import PhotoVQVAE, PhotoVQVAEConfig, PixelCNNPrior, PixelCNNPriorConfig

    torch.manual_seed(0)
    vqvae = PhotoVQVAE(PhotoVQVAEConfig(image_size=16, hidden_channels=8, residual_channels=4, num_residual_blocks=1,
                                        encoder_channels=8, encoder_residual_channels=4, num_codes=16, code_dim=4,
                                        kmeans_init=False, dead_code_threshold=0.0))
    prior = PixelCNNPrior(PixelCNNPriorConfig(num_codes=16, channels=8, num_layers=2, head_channels=8))
    save_bundle(str(folder / "photos"), "photo_editing", {"vqvae": vqvae, "prior": prior})
    (folder / "photos" / "README.md").write_text("# photos\n\nRandom weights, for tests.\n")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    zoo = write_tiny_zoo(tmp_path_factory.mktemp("zoo"))
    write_photos_bundle(zoo)
    return Engine(models_dir=zoo, runs_dir=tmp_path_factory.mktemp("runs"))


def photo(width: int, height: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_the_photos_bundle_is_served_as_a_general_image_model(engine):
    info = {info.name: info for info in engine.list_models()}["photos"]
    assert info.family == "VQ-VAE for photos (any size) + PixelCNN prior"
    assert info.capabilities == {Capability.ENCODE, Capability.INPAINT}  # nothing that reads its training data


def test_an_off_world_upload_goes_to_the_photos_model_which_says_so_and_keeps_its_size(engine):
    upload = photo(96, 64)  # tiny-text-to-image draws 16 x 16 pictures: 64 is 4 times its side
    encoding = engine.encode("tiny-text-to-image", upload)
    assert encoding.summary.startswith("Encoded by photos (general image VQ-VAE), not tiny-text-to-image: "
                                       "your 96x64 upload is not from tiny-text-to-image's world (16x16 pictures)")
    assert encoding.model_input.size == encoding.reconstruction.size == encoding.code_map.size == (96, 64)
    assert "24x16 codes" in encoding.summary and encoding.sliders == () and encoding.attributes == ()
    assert engine.decode_sliders("tiny-text-to-image", encoding.state, [], {}) is encoding.reconstruction
    assert engine.reset_slider_values("tiny-text-to-image", encoding.state) == []


def test_an_upload_from_the_model_world_stays_with_the_model(engine):
    encoding = engine.encode("tiny-text-to-image", photo(16, 16))
    assert encoding.code_map is None and "photos" not in encoding.summary
    assert encoding.reconstruction.size == (16, 16)


@pytest.mark.parametrize("size", [(17, 16), (63, 200), (40, 30), (64, 64), (256, 256)])
def test_an_upload_about_the_model_size_or_its_picture_enlarged_keeps_the_sliders(engine, size):
    encoding = engine.encode("tiny-text-to-image", photo(*size))
    assert encoding.code_map is None and encoding.sliders and encoding.reconstruction.size == (16, 16)
    if size != (16, 16):  # fitted: the photos model is offered
        assert (f"your {size[0]}x{size[1]} upload was fitted to tiny-text-to-image's 16x16 pictures "
                "(pick photos to encode it at its own size)") in encoding.summary


@pytest.mark.parametrize("size", [(64, 65), (72, 300), (100, 64)])
def test_an_upload_four_times_the_model_side_is_a_photo(engine, size):
    encoding = engine.encode("tiny-text-to-image", photo(*size))
    assert encoding.code_map is not None and encoding.sliders == () and encoding.reconstruction.size == size


def test_the_photos_model_picked_itself_encodes_any_size(engine):
    encoding = engine.encode("photos", photo(16, 16))
    assert encoding.summary.startswith("Encoded by photos (general image VQ-VAE, any size)")
    assert encoding.code_map.size == (16, 16)


def test_an_off_world_upload_is_inpainted_by_the_photos_model_at_its_size(engine):
    upload = photo(100, 70)
    mask = Image.new("L", (100, 70), 0)
    mask.paste(255, (10, 10, 20, 20))
    candidates = engine.inpaint("tiny-vae-2d", upload, mask, "", 2, 0)  # a VAE that cannot inpaint at all
    assert [candidate.size for candidate in candidates] == [(100, 70)] * 2
    kept = np.asarray(candidates[0])[35:, 40:]  # far from the painted cells: the upload's own pixels
    assert np.array_equal(kept, np.asarray(upload)[35:, 40:])


def pixel_bomb() -> bytes:
    """A PNG whose header claims 100,000 x 100,000 pixels (its data is a few bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


@pytest.mark.parametrize("upload, message", [
    (pixel_bomb(), "pixels"),
    (png_bytes(size=(64, 48))[:60], None),  # cut short
    (b"#!/bin/sh\nrm -rf /\n", None),  # not an image
])
def test_hostile_uploads_are_refused_before_the_photos_model_sees_them(engine, upload, message):
    with pytest.raises(InputError, match=message):
        engine.read_image(upload, 4096 * 4096)


def test_a_large_upload_is_scaled_down_for_the_photos_model_with_a_note(engine):
    big = Image.new("RGB", (2400, 1600), (30, 90, 160))
    encoding = engine.encode("photos", big)
    assert "scaled down from 2400x1600" in encoding.summary
    assert encoding.reconstruction.width * encoding.reconstruction.height <= 1920 * 1088


def test_png_bytes_round_trip_through_the_route(engine):
    image = engine.read_image(png_bytes((10, 200, 30), (80, 68)), 4096 * 4096)
    encoding = engine.encode("tiny-text-to-image", Image.open(io.BytesIO(png_bytes((10, 200, 30), (80, 68)))))
    assert image.size == encoding.reconstruction.size == (80, 68)
