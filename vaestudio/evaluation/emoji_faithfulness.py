"""Text to emoji on held-out emoji, judged by the emoji classifier (emoji_classifier.py).

Test prompts: held-out emoji (the ``test`` split: never seen in any style or skin tone) without skin
tone, every ``stride``-th of them in key order, once per style that draws it: ``"<CLDR name> in
<style> style"`` (with ``--keywords``, the CLDR keywords follow, as in training captions). The
classifier reads the subgroup and the style of

- the real images of those prompts (its own accuracy: the yardstick),
- the VQ-VAE's reconstructions of them (the ceiling of text to image with that VQ-VAE),
- the best-scored of ``rerank`` generated images per prompt.

It also reports the prior's bits per code on every held-out image (``held_out_bits``) beside log2 K.

The goals compare generated with real: the subgroup read at least 70 % as often as on real images
(``subgroup_ratio``), the style at least 90 % of the time.

    python -m vaestudio.evaluation.emoji_faithfulness --model emoji --classifier runs/emoji-classifier

prints JSON (and writes it with ``--out``).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time

import numpy as np
import torch

from vaestudio.data import open_source
from vaestudio.data.emoji import BLANK_CAPTION, full_caption, prompt
from vaestudio.data.emoji_packages import STYLE_NAMES
from vaestudio.common.files import print_report
from vaestudio.evaluation.emoji_classifier import EmojiClassifier, load_emoji_classifier, source_tensors
from vaestudio.hub import load
from vaestudio.pipelines.text_to_image import TextToImage


@dataclasses.dataclass
class EmojiCase:
    prompt: str
    subgroup: int  # index into the source's label_names
    style: int  # index into STYLE_NAMES
    index: int  # of the real image in the test split


def held_out_cases(source, stride: int = 1, keywords: bool = False, start: int = 0) -> list[EmojiCase]:
    """One case per (held-out emoji without skin tone, style), every ``stride``-th emoji in key order from
    the ``start``-th (settings are picked on ``--start 2 --stride 8``, reported on the disjoint default)."""
    bases = sorted({record["key"] for record in source.records if record["key"] == record["base"]})
    chosen = set(bases[start::stride])
    cases = []
    for index, record in enumerate(source.records):
        if record["key"] not in chosen:
            continue
        text = (full_caption(record["name"], record["style"], record["keywords"]) if keywords
                else prompt(record["name"], record["style"]))
        cases.append(EmojiCase(text, int(source.labels[index]), int(source.style_ids[index]), index))
    return cases


def _rates(classifier: EmojiClassifier, images: torch.Tensor, cases: list[EmojiCase]) -> dict:
    subgroups, styles = classifier.read(images)
    wanted_subgroups = torch.tensor([case.subgroup for case in cases])
    wanted_styles = torch.tensor([case.style for case in cases])
    return {"subgroup": round(float((subgroups == wanted_subgroups).float().mean()), 4),
            "style": round(float((styles == wanted_styles).float().mean()), 4), "images": len(cases)}


@torch.no_grad()
def reconstructions(vqvae, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """The VQ-VAE's decodes of ``images`` (N, 3, S, S) in [0, 1]."""
    parts = [vqvae(images[start:start + batch_size]).reconstruction for start in range(0, len(images), batch_size)]
    return torch.cat(parts).clamp(0.0, 1.0)


def generated_images(pipeline: TextToImage, cases: list[EmojiCase], rerank: int, seed: int,
                     guidance_scale: float | None, temperature: float | None) -> torch.Tensor:
    """The best-scored image of ``rerank`` candidates per case: (N, 3, S, S) in [0, 1]."""
    pictures = []
    for number, case in enumerate(cases):
        result = pipeline(case.prompt, num_images=1, rerank=rerank, seed=seed + number,
                          guidance_scale=guidance_scale, temperature=temperature)
        pictures.append(np.asarray(result[0].image.convert("RGB"), dtype=np.float32) / 255.0)
    return torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2)  # (N, 3, S, S)


@torch.no_grad()
def held_out_bits(pipeline: TextToImage, source, batch_size: int = 64) -> dict:
    """The prior's bits per code on every held-out image, under its complete caption, under the prompt a
    person types ("<name> in <style> style") and under the blank caption (the unconditional reading),
    next to log2 K, the bits of a uniform guess."""
    images = source_tensors(source)[0]  # (N, 3, S, S)
    codes = torch.cat([pipeline.vqvae.encode_codes(images[start:start + batch_size])
                       for start in range(0, len(images), batch_size)])  # (N, h, w)
    readings = {
        "full_caption": [source.full_caption(index) for index in range(len(source))],
        "name_and_style": [prompt(source.name(index), source.style(index)) for index in range(len(source))],
        "blank_caption": [BLANK_CAPTION] * len(source),
    }
    report = {}
    for reading, captions in readings.items():
        nats = sum(float(pipeline.prior.log_prob(codes[start:start + batch_size],
                                                 captions[start:start + batch_size]).sum())
                   for start in range(0, len(codes), batch_size))
        report[reading] = round(-nats / codes.numel() / math.log(2), 4)
    report["uniform"] = round(math.log2(pipeline.prior.config.num_codes), 4)
    report["images"] = len(source)
    return report


def emoji_faithfulness(pipeline: TextToImage, classifier: EmojiClassifier, stride: int = 4, rerank: int = 16,
                       seed: int = 0, guidance_scale: float | None = None, temperature: float | None = None,
                       keywords: bool = False, source_options: dict | None = None, bits: bool = True,
                       start: int = 0) -> dict:
    """The report of the module docstring (``bits``: with the prior's held-out bits per code)."""
    source = open_source("emoji", "test", image_size=classifier.settings.image_size, **(source_options or {}))
    cases = held_out_cases(source, stride, keywords, start)
    real_images = source_tensors(source)[0][[case.index for case in cases]]  # (N, 3, S, S)
    started = time.perf_counter()
    generated = generated_images(pipeline, cases, rerank, seed, guidance_scale, temperature)
    report = {
        "real": _rates(classifier, real_images, cases),
        "reconstructed": _rates(classifier, reconstructions(pipeline.vqvae, real_images), cases),
        "generated": _rates(classifier, generated, cases),
    }
    report["generated"]["subgroup_ratio"] = round(report["generated"]["subgroup"] / max(report["real"]["subgroup"],
                                                                                      1e-9), 4)
    report["per_style"] = {
        name: _rates(classifier, generated[[case.style == style for case in cases]],
                     [case for case in cases if case.style == style])
        for style, name in enumerate(STYLE_NAMES) if any(case.style == style for case in cases)
    }
    if bits:
        report["prior_bits_per_code"] = held_out_bits(pipeline, source)
    report["settings"] = {
        "prompts": len(cases), "held_out_emoji": len({case.prompt.split(" in ")[0] for case in cases}),
        "start": start, "stride": stride, "keywords": keywords, "rerank": rerank, "seed": seed,
        "guidance_scale": pipeline.guidance_scale if guidance_scale is None else guidance_scale,
        "temperature": pipeline.temperature if temperature is None else temperature,
        "seconds": round(time.perf_counter() - started, 1), "example_prompt": cases[0].prompt if cases else None,
    }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="emoji", help="a text_to_image bundle (shipped name or folder)")
    parser.add_argument("--classifier", required=True, help="folder of a trained emoji classifier")
    parser.add_argument("--stride", type=int, default=4, help="every n-th held-out emoji (1: all of them)")
    parser.add_argument("--start", type=int, default=0, help="the first held-out emoji taken (key order)")
    parser.add_argument("--no-bits", action="store_true", help="skip the prior's held-out bits per code")
    parser.add_argument("--rerank", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--guidance-scale", type=float, default=None, help="default: the bundle's")
    parser.add_argument("--temperature", type=float, default=None, help="default: the bundle's")
    parser.add_argument("--keywords", action="store_true", help="prompts carry the CLDR keywords too")
    parser.add_argument("--out", help="also write the JSON report here")
    arguments = parser.parse_args(argv)
    torch.set_num_threads(1)
    pipeline = TextToImage(load(arguments.model))
    report = emoji_faithfulness(pipeline, load_emoji_classifier(arguments.classifier), arguments.stride,
                                arguments.rerank, arguments.seed, arguments.guidance_scale, arguments.temperature,
                                arguments.keywords, bits=not arguments.no_bits, start=arguments.start)
    report["classifier"] = {"folder": arguments.classifier, "model": arguments.model}
    print_report(report, arguments.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
