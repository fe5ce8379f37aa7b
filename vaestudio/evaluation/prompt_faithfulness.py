"""Prompt faithfulness of a text-conditional VAE on the shapes world, read by the analytic attribute checker.

The same test prompts, checker and report groups as the text-to-image bundle's
(:mod:`vaestudio.evaluation.faithfulness`), so the two can be compared: for each prompt (the full caption of
a test image) the VAE decodes ``images_per_prompt`` draws z ~ N(0, temperature^2 I) with the prompt, and an
image is faithful when the checker reads exactly the prompt's objects and background. There is no reranker:
every drawn image counts. The ceiling is the checker on the VAE's reconstructions of real test images, each
encoded and decoded with its own caption.

    python -m vaestudio.evaluation.prompt_faithfulness --model shapes-text-cvae --num-prompts 200

prints JSON: the reconstructions' reading and the faithfulness of the samples.
"""

from __future__ import annotations

import json
import sys
import time

import torch

from vaestudio.evaluation.faithfulness import (
    PromptCase,
    add_verdict,
    prompt_groups,
    prompt_parser,
    reconstruction_ceiling,
    test_prompts,
)
from vaestudio.hub import load
from vaestudio.models.conditioning import condition_kind
from vaestudio.pipelines.convert import to_pil
from vaestudio.worlds.shapes.checker import attribute_agreement, read_image


@torch.no_grad()
def sample_faithfulness(model, cases: list[PromptCase], images_per_prompt: int = 1, seed: int = 0,
                        temperature: float = 1.0) -> dict:
    """The checker's verdicts on ``images_per_prompt`` samples of ``model`` (a text-conditional VAE) per case."""
    if condition_kind(model) != "text":
        raise ValueError("prompt faithfulness measures a text-conditional model (condition = 'text'); for a "
                         "text_to_image bundle run python -m vaestudio.evaluation.faithfulness")
    groups = prompt_groups()
    started = time.perf_counter()
    for number, case in enumerate(cases):
        generator = torch.Generator().manual_seed(seed + number)
        images = model.sample(images_per_prompt, case.prompt, generator=generator, temperature=temperature)
        for picture in to_pil(images):  # (n, 3, 64, 64) -> n pictures
            add_verdict(groups, case, attribute_agreement(read_image(picture), case.objects, case.background))
    report = {name: tally.summary() for name, tally in groups.items()}
    report["settings"] = {"prompts": len(cases), "images_per_prompt": images_per_prompt, "temperature": temperature,
                          "seed": seed, "reranking": "none", "seconds": round(time.perf_counter() - started, 1)}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = prompt_parser("vaestudio.evaluation.prompt_faithfulness", __doc__, "shapes-text-cvae",
                           "a text-conditional VAE: shipped name or folder", 4)
    parser.add_argument("--temperature", type=float, default=1.0, help="z ~ N(0, temperature^2 I)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reconstructions", type=int, default=300,
                        help="real test images to read the reconstructions of (0 skips)")
    arguments = parser.parse_args(argv)
    model = load(arguments.model).eval()
    report: dict = {"model": arguments.model}
    if arguments.reconstructions:
        report["reconstructions"] = reconstruction_ceiling(model, arguments.reconstructions)
    if arguments.num_prompts:
        cases = test_prompts(arguments.num_prompts, start=arguments.first_prompt)
        report["faithfulness"] = sample_faithfulness(model, cases, arguments.images_per_prompt, arguments.seed,
                                                     arguments.temperature)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
