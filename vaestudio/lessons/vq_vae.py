"""Lesson 8: VQ-VAE. Nearest codes, codebook usage, and why the codes need a learned prior.

A VQ-VAE (van den Oord, Vinyals & Kavukcuoglu 2017, https://arxiv.org/abs/1711.00937) replaces each
encoder vector by its nearest codebook row and decodes the code map. Its prior over code maps is not
uniform: it is fitted afterwards, here a PixelCNN over the 16 x 16 map of the shipped shapes model. Codes
drawn uniformly decode to texture; codes drawn from the PixelCNN decode to scenes.

Two measures, both from the models alone: the prior's bits per code (how likely it finds a code map),
and the round trip: decode a code map, encode the picture again, and count the codes that come back
(a code map the decoder can really draw survives it).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from vaestudio.lessons.base import Control, Figure, Lesson, LessonError
from vaestudio.lessons.cache import cached, load_role
from vaestudio.lessons.data import held_out
from vaestudio.lessons.figures import COLOURS, Series, beside, line_chart, stacked, tiles, titled

USAGE_IMAGES = 128  # test images whose codes are counted (cached): 32,768 choices among 1,024 codes
SAMPLES = 4
SHOWN = 2  # images in the nearest-code row


def prior_condition(prior, bundle, count: int):
    """What the prior samples from: None (unconditional), the bundle's neutral prompt, or classes 0, 1, ..."""
    if prior.config.condition == "text":
        return [bundle.options.get("neutral_prompt") or "a shape"] * count
    if prior.config.condition == "class":
        return torch.arange(count) % prior.config.num_classes
    return None


def _parts(role: str):
    bundle = load_role(role)
    vqvae, prior = (bundle.get("vqvae"), bundle.get("prior")) if hasattr(bundle, "components") else (None, None)
    if getattr(vqvae, "model_type", None) != "vqvae" or vqvae.config.levels != 1 or prior is None:
        raise LessonError(f"the VQ-VAE lesson needs a bundle with a one-level VQ-VAE and a PixelCNN prior (role {role!r})")
    return bundle, vqvae, prior


@torch.no_grad()
def code_counts(vqvae, images: torch.Tensor) -> np.ndarray:
    """How often each code is the nearest one over the images' code maps: (K,) int64."""
    codes = torch.cat([vqvae.encode_codes(images[start : start + 32]) for start in range(0, len(images), 32)])
    return torch.bincount(codes.flatten(), minlength=vqvae.config.num_codes).numpy()


def code_map_picture(codes: torch.Tensor, num_codes: int, size: int) -> torch.Tensor:
    """(N, h, w) codes -> (N, 3, size, size) colours, one fixed random colour per code, each code a block."""
    palette = torch.from_numpy(np.random.default_rng(0).uniform(0.1, 0.95, (num_codes, 3))).float()  # (K, 3)
    colours = palette[codes].permute(0, 3, 1, 2)  # (N, 3, h, w)
    return torch.nn.functional.interpolate(colours, size=(size, size), mode="nearest")


@torch.no_grad()
def compute(value: float) -> Figure:
    role = "vq-bundle"
    bundle, vqvae, prior = _parts(role)
    seed = int(value)
    num_codes = vqvae.config.num_codes
    height, width = vqvae.code_map_shape
    counts = cached("vq-vae-usage", (role,), {"images": USAGE_IMAGES},
                    lambda: {"counts": code_counts(vqvae, held_out(role, USAGE_IMAGES, component="vqvae")[0])})["counts"]
    images, _ = held_out(role, max(SAMPLES, SHOWN), component="vqvae")
    condition = prior_condition(prior, bundle, SAMPLES)
    sampled = {
        "test images": vqvae.encode_codes(images[:SAMPLES]),
        "uniform prior": torch.randint(0, num_codes, (SAMPLES, height, width), generator=torch.Generator().manual_seed(seed)),
        "PixelCNN prior": prior.sample(SAMPLES if condition is None else condition, height=height, width=width,
                                       seed=seed),
    }
    decoded = {name: vqvae.decode_codes(codes) for name, codes in sampled.items()}
    measures = {}
    for name, codes in sampled.items():
        bits = float(-prior.log_prob(codes, condition).mean()) / (height * width) / math.log(2)
        round_trip = float((vqvae.encode_codes(decoded[name]) == codes).float().mean())
        measures[name] = {"prior_bits_per_code": round(bits, 3), "round_trip_agreement": round(round_trip, 4)}
    probabilities = counts[counts > 0] / counts.sum()
    numbers = {
        "seed": seed,
        "codes": num_codes,
        "codes_used": int((counts > 0).sum()),
        "dead_codes": int((counts == 0).sum()),
        "perplexity": round(float(np.exp(-(probabilities * np.log(probabilities)).sum())), 1),
        "usage_measured_on": f"{USAGE_IMAGES} test images",
        "uniform_bits_per_code": round(math.log2(num_codes), 3),
        "prior_condition": condition[0] if isinstance(condition, list) else prior.config.condition,
        **{name.replace(" ", "_"): measure for name, measure in measures.items()},
    }
    nearest = titled(tiles(torch.cat([images[:SHOWN], code_map_picture(sampled["test images"][:SHOWN], num_codes, images.shape[-1]),
                                      decoded["test images"][:SHOWN]]), columns=SHOWN, pixels=96),
                     "nearest codes in action: image, its code map (a colour per code), decode", size=13)
    rows = []
    for name in ("uniform prior", "PixelCNN prior"):
        measure = measures[name]
        rows.append(titled(tiles(decoded[name], columns=SAMPLES, pixels=96),
                           f"codes from the {name}: {measure['prior_bits_per_code']:.1f} bits/code, "
                           f"{100 * measure['round_trip_agreement']:.0f} % survive a round trip", size=13))
    ordered = np.sort(counts)[::-1]
    usage = line_chart([Series("code use, most used first", list(range(1, num_codes + 1)),
                               [float(count) for count in ordered], COLOURS[0], markers=False)],
                       title=f"{numbers['codes_used']} of {num_codes} codes used, perplexity {numbers['perplexity']:g}",
                       x_label="code rank", y_label="times chosen", width=520, height=280, legend="upper")
    return Figure(beside(stacked(*rows, usage), nearest), numbers)


LESSON = Lesson(
    name="vq-vae",
    number=8,
    title="VQ-VAE: nearest codes, codebook usage, and a learned prior",
    paragraph=(
        "A VQ-VAE's encoder outputs a grid of vectors; each is replaced by its nearest row of a learned codebook, "
        "and the decoder draws the grid of codes. To generate, you need a distribution over code maps. Uniform "
        "codes ignore which codes go together, and decode to texture: the decoder cannot even draw them (they do "
        "not survive a decode-encode round trip). A PixelCNN fitted to the codes of real images knows which codes "
        "follow which, and its samples decode to scenes. The prior's bits per code say the same: a uniform map "
        "costs it far more than the log2 K bits per code of a uniform choice among K codes (10 bits for the "
        "shapes model's 1,024). The control draws other samples."
    ),
    control=Control("Sample seed", 0, 99, 1, 0, info="another draw from each prior"),
    compute=compute,
    roles=("vq-bundle",),
)
