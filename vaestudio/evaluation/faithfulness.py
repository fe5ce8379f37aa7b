"""Text-to-image faithfulness on the shapes world, read by the analytic attribute checker.

Test prompts are the full captions of the first N images of the ``test`` split. A generated image
is faithful when the checker reads exactly the prompt's objects (count, shape, colour, size and
position, in some order) and its background. Prompts that hold one of the five colour-shape pairs
never seen in training (green triangle, purple star, orange circle, cyan square, yellow heart) are
reported on their own. ``checker_accuracy`` scores the checker itself on real test images.

    python -m vaestudio.evaluation.faithfulness --model shapes --num-prompts 200

prints JSON: the checker's accuracy on real images, on the VQ-VAE's reconstructions of them (the
ceiling for text to image with that VQ-VAE), and the faithfulness of the model.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import sys
import time

from vaestudio.hub import load
from vaestudio.pipelines.convert import to_pil
from vaestudio.pipelines.text_to_image import TextToImage
from vaestudio.worlds.shapes.checker import attribute_agreement, read_image
from vaestudio.worlds.shapes.grammar import caption
from vaestudio.worlds.shapes.source import ShapesSource, scene_at
from vaestudio.worlds.shapes.world import POSITION_PHRASES, Scene

AGREEMENT_KEYS = ("all", "count", "background", "shape", "color", "size", "position")


@dataclasses.dataclass
class PromptCase:
    prompt: str
    objects: list[dict]  # shape, color, size, position phrase per object
    background: str | None
    held_out: bool  # holds a colour-shape pair the train split never shows


def describe(scene: Scene) -> tuple[list[dict], str | None]:
    """A scene as the checker's description: one dict per object, and the background."""
    objects = [
        {"shape": item.shape, "color": item.color, "size": item.size,
         "position": POSITION_PHRASES[item.cell] if item.cell is not None else None}
        for item in scene.objects
    ]
    return objects, scene.background


def test_prompts(num_prompts: int, split: str = "test", start: int = 0) -> list[PromptCase]:
    """The captions of images [start, start + num_prompts) of ``split`` (full captions)."""
    cases = []
    for index in range(start, start + num_prompts):
        scene = scene_at(split, index)
        objects, background = describe(scene)
        cases.append(PromptCase(caption(scene), objects, background, any(item.is_held_out for item in scene.objects)))
    return cases


class Tally:
    """Counts agreements per key over a group of cases."""

    def __init__(self) -> None:
        self.counts: collections.Counter = collections.Counter()
        self.total = 0

    def add(self, agreement: dict[str, bool]) -> None:
        self.total += 1
        self.counts.update(key for key in AGREEMENT_KEYS if agreement[key])

    def summary(self) -> dict:
        rates = {key: round(self.counts[key] / self.total, 4) if self.total else None for key in AGREEMENT_KEYS}
        return {"images": self.total, "all_attributes": rates.pop("all"), "per_attribute": rates}


def checker_accuracy(num_images: int = 1000, split: str = "test") -> dict:
    """How often the checker reads a real image's own caption right (per attribute and all at once)."""
    source = ShapesSource(split, num_images=num_images)
    tally = Tally()
    for index in range(num_images):
        objects, background = describe(source.scene(index))
        tally.add(attribute_agreement(read_image(source.pixels(index)), objects, background))
    return tally.summary()


def reconstruction_ceiling(vqvae, num_images: int = 300, split: str = "test") -> dict:
    """The checker on the VQ-VAE's reconstructions of real images: what text to image could reach at best.
    A text-conditional model (a text-conditional VAE) reconstructs each image with its own caption."""
    import torch

    from vaestudio.models.conditioning import condition_kind

    source = ShapesSource(split, num_images=num_images)
    tally = Tally()
    for start in range(0, num_images, 100):
        indices = range(start, min(start + 100, num_images))
        images = torch.stack([source[index].image for index in indices])  # (b, 3, 64, 64)
        captions = [caption(source.scene(index)) for index in indices]
        rebuilt = vqvae.reconstruct(images, captions) if condition_kind(vqvae) == "text" else vqvae.reconstruct(images)
        for index, picture in zip(indices, to_pil(rebuilt)):
            objects, background = describe(source.scene(index))
            tally.add(attribute_agreement(read_image(picture), objects, background))
    return tally.summary()


def prompt_groups() -> dict[str, Tally]:
    """The groups a faithfulness report tallies: all prompts, held-out and seen pairs, one and two objects."""
    return {"all_prompts": Tally(), "held_out_pairs": Tally(), "seen_pairs": Tally(), "one_object": Tally(),
            "two_objects": Tally()}


def add_verdict(groups: dict[str, Tally], case: PromptCase, agreement: dict[str, bool]) -> None:
    groups["all_prompts"].add(agreement)
    groups["held_out_pairs" if case.held_out else "seen_pairs"].add(agreement)
    groups["one_object" if len(case.objects) == 1 else "two_objects"].add(agreement)


def faithfulness(pipeline, cases: list[PromptCase], num_images: int = 1, rerank: int = 16, seed: int = 0,
                 temperature: float | None = None, top_k: int = 0, guidance_scale: float | None = None,
                 regions: bool = True) -> dict:
    """Runs ``pipeline`` (a TextToImage) on every case and tallies the checker's verdicts on the returned
    (best-scored) images; ``candidates`` also reads every reranked candidate: how often one sampled image
    is fully right, and how often at least one of a prompt's candidates is (what a perfect reranker would
    return), which tells the prior's share of the misses from the scorer's."""
    groups = prompt_groups()
    candidates = max(rerank, num_images)
    sampled_right = any_right = sampled = 0
    started = time.perf_counter()
    for number, case in enumerate(cases):
        result = pipeline(case.prompt, num_images=candidates, rerank=candidates, seed=seed + number,
                          temperature=temperature, top_k=top_k, guidance_scale=guidance_scale, regions=regions)
        verdicts = [attribute_agreement(read_image(generated.image), case.objects, case.background)
                    for generated in result]  # best scored first
        for agreement in verdicts[:num_images]:
            add_verdict(groups, case, agreement)
        right = sum(agreement["all"] for agreement in verdicts)
        sampled_right, any_right, sampled = sampled_right + right, any_right + (right > 0), sampled + len(verdicts)
    report = {name: tally.summary() for name, tally in groups.items()}
    report["candidates"] = {"sampled_images_right": round(sampled_right / max(sampled, 1), 4),
                            "prompts_with_a_right_candidate": round(any_right / max(len(cases), 1), 4)}
    report["settings"] = {"prompts": len(cases), "images_per_prompt": num_images, "rerank": rerank,
                          "temperature": pipeline.temperature if temperature is None else temperature,
                          "top_k": top_k, "seed": seed,
                          "guidance_scale": pipeline.guidance_scale if guidance_scale is None else guidance_scale,
                          "regions": regions and pipeline.layout is not None,
                          "object_score_weight": pipeline.object_score_weight,
                          "seconds": round(time.perf_counter() - started, 1)}
    return report


def prompt_parser(module: str, description: str, model: str, model_help: str,
                  images_per_prompt: int) -> argparse.ArgumentParser:
    """A faithfulness command's parser with what every one takes: the model and the test prompts."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=model, help=model_help)
    parser.add_argument("--num-prompts", type=int, default=200)
    parser.add_argument("--first-prompt", type=int, default=0, help="index of the first test image whose caption "
                        "is used (tune settings on another range than the one you report)")
    parser.add_argument("--images-per-prompt", type=int, default=images_per_prompt)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = prompt_parser("vaestudio.evaluation.faithfulness", __doc__, "shapes",
                           "a text_to_image bundle: shipped name or folder", 1)
    parser.add_argument("--rerank", type=int, default=16, help="candidates sampled per prompt, best kept")
    parser.add_argument("--temperature", type=float, default=None, help="default: the bundle's own")
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--guidance-scale", type=float, default=None,
                        help="classifier-free guidance (1: none; default: the bundle's own)")
    parser.add_argument("--object-score-weight", type=float, default=None,
                        help="weight of the worst object's own score in the reranking of regional prompts "
                        "(0: the whole prompt only; default: the bundle's own)")
    parser.add_argument("--no-regions", action="store_true",
                        help="condition the whole map on the whole prompt (no regional conditioning by the layout)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checker-images", type=int, default=1000,
                        help="real test images to measure the checker on (0 skips)")
    arguments = parser.parse_args(argv)
    report: dict = {"model": arguments.model}
    if arguments.checker_images:
        report["checker_on_real_images"] = checker_accuracy(arguments.checker_images)
    if arguments.num_prompts:
        options = {} if arguments.object_score_weight is None else {"object_score_weight": arguments.object_score_weight}
        pipeline = TextToImage(load(arguments.model), options=options)
        report["vqvae_reconstructions"] = reconstruction_ceiling(pipeline.vqvae, arguments.checker_images or 300)
        report["faithfulness"] = faithfulness(
            pipeline, test_prompts(arguments.num_prompts, start=arguments.first_prompt), arguments.images_per_prompt,
            arguments.rerank,
            arguments.seed, arguments.temperature, arguments.top_k, arguments.guidance_scale, not arguments.no_regions,
        )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
