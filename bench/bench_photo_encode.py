"""Encoding a 1024 x 1024 upload with the general image VQ-VAE (goal: under 300 ms on 2 cores), beside baselines.

    python -m bench.bench_photo_encode [--quick] [--threads 2] [--model photos]

- ours: the photos model's encoder (``photo_vqvae``: a patch encoder, K = 512) to its 256 x 256 code map,
  from a decoded 1024 x 1024 picture, and from the bytes of a 1024 x 1024 JPEG upload (decode included);
- baseline: the same model with the stock VQ-VAE encoder (two stride-2 4x4 convolutions, a 3x3, residual 3x3
  blocks, at the decoder's width): what the encoder would cost without the light one;
- baseline: the shipped shapes VQ-VAE's encoder (96 channels, K = 1024, trained on 64 x 64 shapes) on the same
  picture.

Both baselines are timed on the same input in the same process. Writes bench/results/photo_encode-cpu-<path>.json.
"""

from __future__ import annotations

import io
import os

import numpy as np
import torch
from PIL import Image

from bench import harness
from vaestudio.data.images import load_image, pixels_to_tensor
from vaestudio.hub import load
from vaestudio.models import VQVAE, PhotoVQVAE, PhotoVQVAEConfig, VQVAEConfig

SIZE = 1024
GOALS = {"encode_1024_s": 0.3}


def photo_like(size: int) -> np.ndarray:
    """A smooth gradient with mild noise, like a camera picture: (size, size, 3) uint8."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, size)
    pixels = np.stack([ramp[None, :].repeat(size, 0), ramp[:, None].repeat(size, 1), np.full((size, size), 128.0)],
                      axis=-1)
    return np.clip(pixels + rng.normal(0, 8, pixels.shape), 0, 255).astype(np.uint8)


def jpeg_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def photos_model(name: str) -> tuple[PhotoVQVAE, str]:
    """The shipped (or named) photos VQ-VAE; an untrained one of the recipe's shape when there is none (the time
    of a forward pass does not depend on the weights)."""
    try:
        loaded = load(name)
    except (OSError, ValueError):
        return PhotoVQVAE(PhotoVQVAEConfig()).eval(), "untrained photo_vqvae of the default config (timing only)"
    model = loaded["vqvae"] if hasattr(loaded, "components") else loaded
    return model.eval(), name


def stock_encoder_twin(model: PhotoVQVAE) -> VQVAE:
    """A plain VQ-VAE with the photos model's decoder widths, codes and K: the stock (symmetric) encoder."""
    config = model.config
    return VQVAE(VQVAEConfig(hidden_channels=config.hidden_channels, residual_channels=config.residual_channels,
                             num_residual_blocks=config.num_residual_blocks, num_codes=config.num_codes,
                             code_dim=config.code_dim, downsample_factor=config.downsample_factor)).eval()


def main() -> None:
    arguments = harness.parse_arguments(__doc__.splitlines()[0], "fewer repeats")
    repeats = 3 if arguments.quick else 11
    load_before = os.getloadavg()
    model, model_name = photos_model("photos")
    shapes = load("shapes")["vqvae"].eval()
    stock = stock_encoder_twin(model)
    pixels = photo_like(SIZE)
    upload = jpeg_bytes(pixels)
    images = pixels_to_tensor(pixels)[None]  # (1, 3, 1024, 1024)

    def from_upload():
        picture = load_image(upload)
        return model.encode_any(pixels_to_tensor(np.asarray(picture))[None])

    with torch.no_grad():
        rows = [
            harness.measure(lambda: model.encode_any(images), repeats, method="ours: photo_vqvae, picture to codes"),
            harness.measure(from_upload, repeats, method="ours: photo_vqvae, JPEG upload bytes to codes"),
            harness.measure(lambda: stock.encode_codes(images), repeats,
                            method="baseline: the same VQ-VAE with the stock encoder"),
            harness.measure(lambda: shapes.encode_codes(images), repeats, method="baseline: shapes VQ-VAE encoder"),
        ]
    harness.add_speedups(rows, rows[0])
    codes = model.encode_any(images).codes
    harness.print_table(f"encoding a {SIZE}x{SIZE} picture", ["method", "best_s", "median_s", "ours_speedup"],
                        [[row["method"], row["best_s"], row["median_s"], row["ours_speedup"]] for row in rows])
    harness.write_results("photo_encode", {
        "goals": GOALS, "size": SIZE, "model": model_name, "threads": torch.get_num_threads(),
        "code_map": list(codes.shape[1:]), "upload_bytes": len(upload), "results": rows,
        "conditions": harness.run_conditions(load_before),
    })


if __name__ == "__main__":
    main()
