"""Lesson 9: the Gumbel-softmax (concrete) relaxation of a categorical sample, as its temperature anneals.

softmax((logits + g) / tau) with g ~ Gumbel(0, 1) is a point in the simplex that becomes a one-hot
sample of softmax(logits) as tau -> 0 (the Gumbel-max trick), yet is differentiable in the logits
(Jang, Gu & Poole, https://arxiv.org/abs/1611.01144; Maddison, Mnih & Teh,
https://arxiv.org/abs/1611.00712). DALL-E's dVAE (https://arxiv.org/abs/2102.12092) trains with it,
annealing tau toward 1/16.

Here the categorical is the choice of a VQ-VAE code at each position of the shipped shapes model: the
logits are the negative squared distances from the encoder's vector to every code, in units of the mean
gap between the nearest and the tenth-nearest code (so at tau = 1 about ten codes share the weight). The
relaxed sample mixes codebook rows with its weights, and the decoder draws the mix.
"""

from __future__ import annotations

import torch

from vaestudio.lessons.base import Control, Figure, Lesson, LessonError
from vaestudio.lessons.cache import load_role
from vaestudio.lessons.data import held_out
from vaestudio.lessons.figures import COLOURS, Series, bar_chart, beside, line_chart, stacked, tiles, titled
from vaestudio.models.dvae import gumbel_softmax

IMAGES = 4
TEMPERATURES = (5.0, 2.0, 1.0, 0.5, 0.2, 0.1, 0.05)
GUMBEL_MAX_DRAWS = 8000  # argmax draws compared with softmax(logits) at one position
SHOWN_CODES = 10


def psnr(first: torch.Tensor, second: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / ((first - second) ** 2).mean().clamp_min(1e-10)))


@torch.no_grad()
def code_logits(vqvae, images: torch.Tensor) -> torch.Tensor:
    """Logits over the codebook at every position: (N, K, h, w), -squared distance / mean gap from the nearest
    to the tenth-nearest code."""
    latents = vqvae.encode_latents(images)  # (N, D, h, w)
    vectors = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1])  # (N*h*w, D)
    distances = torch.cdist(vectors, vqvae.quantizer.codebook) ** 2  # (N*h*w, K)
    nearest = distances.topk(10, dim=1, largest=False).values  # (N*h*w, 10), ascending
    scale = (nearest[:, -1] - nearest[:, 0]).mean().clamp_min(1e-8)
    logits = -distances / scale  # (N*h*w, K)
    batch, _, height, width = latents.shape
    return logits.view(batch, height, width, -1).permute(0, 3, 1, 2)  # (N, K, h, w)


@torch.no_grad()
def relaxed_vectors(vqvae, logits: torch.Tensor, temperature: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A relaxed one-hot sample (N, K, h, w) and its mix of codebook rows (N, D, h, w)."""
    weights = gumbel_softmax(logits, temperature, dim=1, generator=torch.Generator().manual_seed(seed))
    return weights, torch.einsum("nkhw,kd->ndhw", weights, vqvae.quantizer.codebook)


def compute(value: float) -> Figure:
    bundle = load_role("vq-bundle")
    vqvae = bundle.get("vqvae") if hasattr(bundle, "components") else None
    if getattr(vqvae, "model_type", None) != "vqvae" or vqvae.config.levels != 1:
        raise LessonError("the Gumbel-softmax lesson needs a bundle with a one-level VQ-VAE (role 'vq-bundle')")
    temperature = float(value)
    images, _ = held_out("vq-bundle", IMAGES, component="vqvae")
    logits = code_logits(vqvae, images)  # (N, K, h, w)
    nearest = vqvae.quantizer.codebook[logits.argmax(1)].permute(0, 3, 1, 2)  # (N, D, h, w)
    sweep_weights, sweep_vectors = zip(*(relaxed_vectors(vqvae, logits[:1], t, seed=0) for t in TEMPERATURES))
    weights, vectors = relaxed_vectors(vqvae, logits, temperature, seed=0)
    # the hard sample each relaxed one stands for: the one-hot of its argmax (what straight-through decodes)
    sweep_hard = [vqvae.quantizer.codebook[w.argmax(1)].permute(0, 3, 1, 2) for w in sweep_weights]  # (1, D, h, w)
    # one decoder call: nearest-code decodes, relaxed decodes at tau, image 0 relaxed at every sweep temperature
    # and its hard samples
    decodes = vqvae.decode_vectors(torch.cat([nearest, vectors, *sweep_vectors, *sweep_hard]))  # (2N + 2T, C, H, W)
    hard, decoded = decodes[:IMAGES], decodes[IMAGES : 2 * IMAGES]
    swept, swept_hard = decodes[2 * IMAGES : 2 * IMAGES + len(TEMPERATURES)], decodes[2 * IMAGES + len(TEMPERATURES) :]
    sweep = [{"temperature": t, "mean_max_weight": round(float(w.max(1).values.mean()), 4),
              "psnr_to_its_hard_sample_db": round(psnr(image, hard_image), 2)}
             for t, w, image, hard_image in zip(TEMPERATURES, sweep_weights, swept, swept_hard)]
    position = logits[0, :, logits.shape[2] // 2, logits.shape[3] // 2]  # (K,) the centre of image 0
    probabilities = torch.softmax(position, 0)  # (K,)
    generator = torch.Generator().manual_seed(1)
    draws = gumbel_softmax(position.expand(GUMBEL_MAX_DRAWS, -1), 1.0, dim=1, generator=generator).argmax(1)  # (S,)
    frequencies = torch.bincount(draws, minlength=len(position)).double() / GUMBEL_MAX_DRAWS
    direct = torch.multinomial(probabilities, GUMBEL_MAX_DRAWS, replacement=True, generator=generator)  # (S,)
    direct_frequencies = torch.bincount(direct, minlength=len(position)).double() / GUMBEL_MAX_DRAWS
    numbers = {
        "temperature": temperature,
        "mean_max_weight": round(float(weights.max(1).values.mean()), 4),
        "psnr_to_nearest_code_decode_db": round(psnr(decoded, hard), 2),
        "sweep": sweep,
        "gumbel_max_total_variation": round(0.5 * float((frequencies - probabilities.double()).abs().sum()), 4),
        "direct_sampling_total_variation": round(
            0.5 * float((direct_frequencies - probabilities.double()).abs().sum()), 4),
        "gumbel_max_draws": GUMBEL_MAX_DRAWS,
        "codes": int(logits.shape[1]),
    }
    strip = titled(tiles(torch.cat([images, hard, decoded]), columns=IMAGES, pixels=96),
                   f"rows: test images, nearest-code decodes, relaxed decodes at tau = {temperature:g}", size=13)
    annealing = titled(tiles(swept, columns=len(TEMPERATURES), pixels=64),
                       "image 0 relaxed at tau = " + ", ".join(f"{t:g}" for t in TEMPERATURES), size=13)
    chart = line_chart(
        [Series("mean largest weight", TEMPERATURES, [row["mean_max_weight"] for row in sweep], COLOURS[0]),
         Series(f"at tau = {temperature:g}", [temperature], [numbers["mean_max_weight"]], COLOURS[1])],
        title="How one-hot the relaxed samples are", x_label="temperature tau (log scale)",
        y_label="largest weight (1 = one-hot)", log_x=True, width=460, height=300, y_range=(0.0, 1.0),
        legend="upper")
    top = torch.argsort(probabilities, descending=True)[:SHOWN_CODES]
    centre = weights[0, :, weights.shape[2] // 2, weights.shape[3] // 2]  # (K,)
    bars = bar_chart([str(int(code)) for code in top], [float(centre[code]) for code in top],
                     title=f"One position's relaxed sample (tau = {temperature:g})",
                     y_label="weight of each of the likeliest codes", width=460, height=300, value_format="{:.3f}")
    return Figure(beside(stacked(strip, annealing), stacked(chart, bars)), numbers)


LESSON = Lesson(
    name="gumbel-softmax",
    number=9,
    title="Gumbel-softmax: a differentiable stand-in for picking a code",
    paragraph=(
        "A discrete latent (which of K codes sits at each position) cannot pass a gradient: argmax is flat. "
        "The Gumbel-softmax trick adds Gumbel noise to the logits and takes a softmax at temperature tau: "
        "at low tau the result is almost one-hot and its argmax is an exact sample of the categorical; at high "
        "tau it is a smooth blend that gradients flow through. DALL-E's dVAE trains this way, annealing tau "
        "down. Here each position's choice among the shapes model's 1,024 codes is relaxed: high temperatures "
        "decode a blur of many codes, low ones the crisp nearest-code image. Slide the temperature."
    ),
    control=Control("Temperature tau", 0.05, 5.0, 0.05, 1.0, info="low: nearly one-hot; high: a blend of codes"),
    compute=compute,
    roles=("vq-bundle",),
)

