"""How well a VQ-VAE encodes held-out photos, and how well a prior predicts their codes.

``photo_psnr(model, source)``: each picture of ``source`` (the ``photos`` test split: whole pictures,
centre squares at the source's size) is encoded, decoded and compared in [0, 1]; PSNR per picture and their
mean (and the PSNR of the mean squared error). Any one-level VQ-VAE works: a ``photo_vqvae`` through
``reconstruct_any``, others (the shapes VQ-VAE) through their codes, which their convolutions compute at any
size that is a multiple of their downsampling.

``prior_bits_per_code(vqvae, prior, source)``: the prior's negative log-likelihood of the pictures' code maps,
in bits per code, beside log2 K (what a uniform guess costs).
"""

from __future__ import annotations

import math
import statistics

import torch

from vaestudio.common import metrics


@torch.no_grad()
def reconstruct(model, images: torch.Tensor) -> torch.Tensor:
    """images (B, C, H, W) -> reconstructions (B, C, H, W) in [0, 1], whatever the model's training size."""
    if hasattr(model, "reconstruct_any"):
        return model.reconstruct_any(images)
    return model.decode_codes(model.encode_codes(images)).clamp(0.0, 1.0)


@torch.no_grad()
def photo_psnr(model, source) -> dict:
    """{"psnr_mean": dB, "psnr_median": dB, "psnr_of_mean_mse": dB, "images": N, "size": S, "per_picture": {key: dB}}.

    The mean of per-picture PSNRs favours nearly flat pictures (tens of dB); the PSNR of the mean squared error
    and the median do not."""
    model.eval()
    per_picture, errors = {}, []
    for index in range(len(source)):
        image = source[index].image[None]  # (1, 3, S, S)
        error = metrics.mean_squared_error(image, reconstruct(model, image))  # (1,)
        errors.append(float(error[0]))
        per_picture[source.picture(index).key] = round(float(metrics.psnr(error)[0]), 2)
    mean_error = sum(errors) / len(errors)
    return {"psnr_mean": round(sum(per_picture.values()) / len(per_picture), 2),
            "psnr_median": round(statistics.median(per_picture.values()), 2),
            "psnr_of_mean_mse": round(float(metrics.psnr(torch.tensor([mean_error]))[0]), 2),
            "images": len(per_picture), "size": source.image_size, "per_picture": per_picture}


@torch.no_grad()
def prior_bits_per_code(vqvae, prior, source) -> dict:
    """{"bits_per_code": mean over every code of the pictures, "log2_num_codes": log2 K, "codes": count}."""
    prior.eval()
    nats, count = 0.0, 0
    for index in range(len(source)):
        codes = vqvae.encode_any(source[index].image[None]).codes  # (1, h, w)
        nats -= float(prior.log_prob(codes)[0])
        count += codes.numel()
    return {"bits_per_code": round(nats / count / math.log(2.0), 3),
            "log2_num_codes": round(math.log2(vqvae.config.num_codes), 3), "codes": count}
