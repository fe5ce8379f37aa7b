"""Measures the emoji bundle's keyword attribute vectors (vaestudio.pipelines.keyword_vectors) with the emoji judge:
held-out emoji that are not of the keyword's subgroup (or style) are encoded, moved along the keyword's vector at
each strength, decoded, and the judge's reading of the target is counted.

    python scripts/emoji_keyword_effect.py --judge runs/emoji-classifier --out docs/experiments/emoji-keywords.json \
        --figure docs/experiments/emoji-keywords.png

Needs `vaestudio data get emoji` and a judge (python -m vaestudio.evaluation.emoji_classifier --out DIR).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's vaestudio
from vaestudio.common.files import print_report
from vaestudio.data import open_source
from vaestudio.data.emoji_packages import STYLE_NAMES
from vaestudio.evaluation.emoji_classifier import load_emoji_classifier
from vaestudio.hub import load
from vaestudio.pipelines.convert import grid, to_pil
from vaestudio.pipelines.editing import Editor

# keyword -> ("subgroup" or "style", the judge's name of what the keyword should bring)
TARGETS = {"smiling": ("subgroup", "face-smiling"), "cat": ("subgroup", "cat-face"), "heart": ("subgroup", "heart"),
           "openmoji": ("style", "openmoji"), "twemoji": ("style", "twemoji")}


@torch.no_grad()
def keyword_effect(editor: Editor, judge, source, keyword: str, strengths: list[float], count: int) -> dict:
    kind, target = TARGETS[keyword]
    names = judge.settings.subgroup_names if kind == "subgroup" else list(STYLE_NAMES)
    target_id = names.index(target)
    own = np.asarray(source.labels if kind == "subgroup" else source.style_ids)  # (N,)
    candidates = np.flatnonzero(own != (source.label_names.index(target) if kind == "subgroup" else target_id))
    chosen = candidates[np.linspace(0, len(candidates) - 1, count).round().astype(int)]
    images = torch.stack([source[int(index)].image for index in chosen])  # (B, 3, S, S)
    latents = editor.space.flatten(editor.space.encode(images, None))  # (B, F)
    vector = editor.keyword_vector(keyword)  # (F,)
    shares = {}
    for strength in strengths:
        decoded = editor.space.decode(editor.space.unflatten(latents + strength * vector), None).clamp(0, 1)
        subgroups, styles = judge.read(decoded)
        read = subgroups if kind == "subgroup" else styles
        shares[f"{strength:g}"] = round(float((read == target_id).float().mean()), 4)
    return {"judged": f"{kind} {target}", "images": len(chosen), "share_read_as_target": shares}


FIGURE_IMAGES = (0, 100, 400, 900)  # held-out emoji of the figure: B button, a face, a hand, a shield


@torch.no_grad()
def keyword_figure(editor: Editor, source, keywords: list[str], strengths: list[float], path: str) -> None:
    """One row per keyword: each figure emoji at each strength, side by side, enlarged twice."""
    images = torch.stack([source[index].image for index in FIGURE_IMAGES])  # (4, 3, S, S)
    latents = editor.space.flatten(editor.space.encode(images, None))  # (4, F)
    pictures = []
    for keyword in keywords:
        vector = editor.keyword_vector(keyword)  # (F,)
        for strength in strengths:
            pictures += to_pil(editor.space.decode(editor.space.unflatten(latents + strength * vector), None)
                               .clamp(0, 1))
    figure = grid(pictures, columns=len(FIGURE_IMAGES) * len(strengths), gap=2)
    figure.resize((figure.width * 2, figure.height * 2)).save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default="emoji")
    parser.add_argument("--judge", required=True, help="a folder with classifier.json (the emoji judge)")
    parser.add_argument("--keywords", nargs="+", default=list(TARGETS), choices=sorted(TARGETS))
    parser.add_argument("--strengths", nargs="+", type=float, default=[0.0, 1.0, 2.0])
    parser.add_argument("--images", type=int, default=200, help="held-out emoji moved per keyword")
    parser.add_argument("--out", help="also write the report here (JSON)")
    parser.add_argument("--figure", help="also draw the keywords' effect on four held-out emoji here (PNG)")
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    editor = Editor(load(arguments.bundle))
    judge = load_emoji_classifier(arguments.judge)
    source = open_source("emoji", split="test")
    report = {"bundle": arguments.bundle, "data": f"emoji test split ({len(source)} held-out images)",
              "keywords": {keyword: keyword_effect(editor, judge, source, keyword, arguments.strengths,
                                                   arguments.images) for keyword in arguments.keywords}}
    report["seconds"] = round(time.perf_counter() - started, 1)
    if arguments.figure:
        keyword_figure(editor, source, arguments.keywords, arguments.strengths, arguments.figure)
        report["figure"] = f"{arguments.figure}: rows {', '.join(arguments.keywords)}; columns the four emoji at " \
                           f"strengths {', '.join(f'{value:g}' for value in arguments.strengths)}"
    print_report(report, arguments.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
