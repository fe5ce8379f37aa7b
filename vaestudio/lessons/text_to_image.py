"""Lesson 10: text to image, DALL-E's recipe in small: discrete codes, a text-conditioned prior, reranking.

DALL-E (Ramesh et al. 2021, https://arxiv.org/abs/2102.12092) compresses images to a grid of discrete
codes, learns a prior over the codes given the text, samples many candidates and keeps the ones a
contrastive text-image model scores highest. The shipped shapes bundle does the same at 64 x 64 pixels:
VQ-VAE codes (16 x 16), a text-conditioned PixelCNN prior, and a small contrastive scorer. The shapes
world's own checker reads each candidate, so whether reranking helps is measured, not judged by eye.

Candidates are sampled once per prompt (no guidance, temperature 1: the raw prior) and cached, keyed
by the bundle's weights. The best of N candidates is then computed exactly over every N-subset of the
sampled candidates (they are independent draws, so any N of them are N draws): the candidate ranked r
by score is the best of a random N-subset with probability C(M-1-r, N-1) / C(M, N).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from vaestudio.lessons.base import Control, Figure, Lesson, LessonError
from vaestudio.lessons.cache import cached, load_role
from vaestudio.lessons.figures import COLOURS, Series, beside, line_chart, stacked, tiles, titled
from vaestudio.lessons.vq_vae import code_map_picture

PROMPTS = 6  # the first captions of the shapes test split
CANDIDATES = 16
SEED = 0


def best_of(right: np.ndarray, count: int) -> float:
    """Expected value of ``right`` (M,) (sorted by score, best first) at the best-scored of a random ``count``-subset."""
    total = len(right)
    weights = np.array([math.comb(total - 1 - rank, count - 1) for rank in range(total)], dtype=np.float64)
    return float((weights * right).sum() / math.comb(total, count))


def _sample(role: str) -> dict[str, np.ndarray]:
    from vaestudio.evaluation.faithfulness import test_prompts
    from vaestudio.worlds.shapes.checker import attribute_agreement, read_image
    from vaestudio.pipelines.text_to_image import TextToImage

    pipeline = TextToImage(load_role(role))
    scores, right, first_images, first_codes = [], [], None, None
    for number, case in enumerate(test_prompts(PROMPTS)):
        result = pipeline(case.prompt, num_images=CANDIDATES, rerank=CANDIDATES, seed=SEED + number,
                          guidance_scale=1.0, temperature=1.0)  # best scored first
        scores.append([item.score for item in result])
        right.append([attribute_agreement(read_image(item.image), case.objects, case.background)["all"]
                      for item in result])
        if number == 0:
            first_images = np.stack([np.asarray(item.image.convert("RGB")) for item in result])  # (M, H, W, 3)
            first_codes = torch.stack([item.codes for item in result]).numpy()  # (M, h, w)
    return {"scores": np.array(scores), "right": np.array(right), "first_images": first_images,
            "first_codes": first_codes}


def compute(value: float) -> Figure:
    from vaestudio.evaluation.faithfulness import test_prompts

    role = "text-to-image"
    bundle = load_role(role)
    if getattr(bundle, "kind", None) != "text_to_image" or bundle.get("scorer") is None:
        raise LessonError("the text-to-image lesson needs a text_to_image bundle with a scorer (role 'text-to-image')")
    count = int(value)
    sampled = cached("text-to-image-candidates", (role,),
                     {"prompts": PROMPTS, "candidates": CANDIDATES, "seed": SEED}, lambda: _sample(role))
    right = sampled["right"].astype(np.float64)  # (P, M), each row best scored first
    scores = sampled["scores"]
    curve = [float(np.mean([best_of(row, n) for row in right])) for n in range(1, CANDIDATES + 1)]
    score_curve = [float(np.mean([best_of(row, n) for row in scores])) for n in range(1, CANDIDATES + 1)]
    prompt = test_prompts(1)[0].prompt
    numbers = {
        "candidates_reranked": count,
        "faithful_best_of_n": round(curve[count - 1], 4),
        "faithful_one_sample": round(curve[0], 4),
        "faithful_best_of_16": round(curve[-1], 4),
        "faithful_by_n": [round(value, 4) for value in curve],
        "score_of_best_by_n": [round(value, 4) for value in score_curve],
        "prompts": PROMPTS,
        "candidates_sampled": CANDIDATES,
        "candidates_right": round(float(right.mean()), 4),
        "prompts_with_a_right_candidate": round(float((right.max(1) > 0).mean()), 4),
        "shown_prompt": prompt,
    }
    images = torch.from_numpy(sampled["first_images"]).permute(0, 3, 1, 2).float() / 255  # (M, 3, H, W)
    marked = images.clone()
    for index, is_right in enumerate(sampled["right"][0]):  # a green frame: the checker reads it right; red: wrong
        colour = torch.tensor([0.1, 0.7, 0.2] if is_right else [0.85, 0.1, 0.1])[:, None, None]
        marked[index, :, :2], marked[index, :, -2:], marked[index, :, :, :2], marked[index, :, :, -2:] = (
            colour, colour, colour, colour)
    candidates = titled(tiles(marked, columns=8, pixels=72),
                        f"'{prompt}': {CANDIDATES} candidates, best score first (green: the checker reads it right)",
                        size=13)
    codes = torch.from_numpy(sampled["first_codes"][:1])
    num_codes = int(bundle["vqvae"].config.num_codes)
    chain = titled(tiles(torch.cat([code_map_picture(codes, num_codes, images.shape[-1]), images[:1]]), columns=2,
                         pixels=96), "the best: its code map from the prior, and the VQ-VAE's decode", size=13)
    chart = line_chart(
        [Series("fully right (checker)", list(range(1, CANDIDATES + 1)), curve, COLOURS[2]),
         Series(f"N = {count}", [count], [curve[count - 1]], COLOURS[1])],
        title="Reranking: best of N candidates", x_label="N (candidates the scorer ranks)",
        y_label="fraction fully right", width=460, height=300, y_range=(0.0, 1.0), legend="lower")
    return Figure(stacked(candidates, beside(chain, chart, gap=30)), numbers)


LESSON = Lesson(
    name="text-to-image",
    number=10,
    title="Text to image: codes, a prior over codes, and reranking (DALL-E in small)",
    paragraph=(
        "DALL-E's recipe has three parts. A discrete VAE turns each image into a small grid of codes. A "
        "prior learns which code grids go with which captions, and samples new grids for a new caption. "
        "Samples are uneven, so many are drawn and a contrastive text-image model keeps the ones that match the "
        "caption best. Here the shapes world plays it in small: a VQ-VAE, a PixelCNN prior reading the prompt, "
        "and a scorer. The shapes world's checker reads every candidate (green frame: right, red: wrong), so "
        "the gain from reranking is measured over several prompts. The control sets how many candidates the "
        "scorer chooses from."
    ),
    control=Control("Candidates reranked (N)", 1, CANDIDATES, 1, 8, info="the scorer keeps the best of N samples"),
    compute=compute,
    roles=("text-to-image",),
)
