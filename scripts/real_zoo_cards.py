"""Adds the real-data zoo's measurements to shipped cards: the checks of scripts/real_zoo_checks.py (with
their figures, copied beside the card), the NLL learning curve of scripts/nll_curve.py, a full-test-set
evaluation JSON (`vaestudio eval`, or a metrics.json "evaluation" table with "data" added), and the paper's number to compare with.

    python scripts/real_zoo_cards.py NAME [--checks DIR] [--curve JSON] [--evaluation JSON] [--paper NATS]
        [--note TEXT]

Run it after `scripts/ship_zoo.py model runs/zoo/NAME NAME` (which writes the card afresh).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_number(item) for item in value)
    return str(value)


def checks_section(folder: str, target: str) -> list[str]:
    with open(os.path.join(folder, "checks.json"), encoding="utf-8") as stream:
        checks = json.load(stream)
    lines = ["## Checks", "",
             ("Judged by a label classifier (an MLP trained on the train split, "
              f"{checks['classifier_test_accuracy']:.1%} test accuracy; `vaestudio.evaluation.label_classifier`), "
              "measured with `scripts/real_zoo_checks.py`:"), "", "| check | value |", "|---|---|"]
    for key, value in checks.items():
        if key == "classifier_test_accuracy":
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{name}: {_number(item)}" for name, item in value.items())
        lines.append(f"| {key} | {_number(value)} |")
    figures = sorted(name for name in os.listdir(folder) if name.endswith(".png"))
    if figures:
        lines += [""]
        for name in figures:
            shutil.copyfile(os.path.join(folder, name), os.path.join(target, name))
            lines.append(f"![{name[:-4].replace('_', ' ')}]({name})")
    return lines + [""]


def curve_section(path: str, paper: float | None) -> list[str]:
    with open(path, encoding="utf-8") as stream:
        rows = json.load(stream)
    if not rows:
        return []
    first = rows[0]
    lines = ["## Learning curve", "",
             f"Test NLL estimate (k = {first['iwae_k']} bound, first {first['images']} test images, one fixed "
             "binarisation) of the checkpoints kept during training (`scripts/nll_curve.py`):", "",
             "| step | epoch | test NLL (nats) | test ELBO |", "|---|---|---|---|"]
    lines += [f"| {row['step']} | {row['epoch']} | {row['nll']:.2f} | {row['elbo']:.2f} |" for row in rows]
    if paper is not None:
        lines += ["", f"The paper's model reaches {paper:.2f} nats after 3,280 epochs."]
    return lines + [""]


def evaluation_section(path: str, paper: float | None) -> list[str]:
    with open(path, encoding="utf-8") as stream:
        result = json.load(stream)
    lines = ["## Test NLL as in the paper", "",
             (f"On {result['images']:,} images of `{result['data']}` (split {result['split']}), dynamically binarised "
              f"with one fixed draw, k = {result['iwae_k']} (the trainer's evaluation, or `vaestudio eval`):"), "",
             "| metric | value |", "|---|---|",
             f"| NLL (nats, from the k = {result['iwae_k']} bound) | {result['nll']:.2f} |",
             f"| ELBO | {result['elbo']:.2f} |"]
    if paper is not None:
        lines.append(f"| Burda et al. (2016) Table 1 | {paper:.2f} |")
        lines.append(f"| gap to the paper | {result['nll'] - paper:+.2f} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("--checks", help="the model's folder of scripts/real_zoo_checks.py output")
    parser.add_argument("--curve", help="the JSON of scripts/nll_curve.py")
    parser.add_argument("--evaluation", help="the JSON of `vaestudio eval`")
    parser.add_argument("--paper", type=float, help="the paper's test NLL for this model (nats)")
    parser.add_argument("--note", action="append", default=[], help="a paragraph for the card (repeatable)")
    arguments = parser.parse_args(argv)
    target = os.path.join(REPOSITORY, "pretrained", arguments.name)
    card_path = os.path.join(target, "README.md")
    with open(card_path, encoding="utf-8") as stream:
        card = stream.read()
    head, separator, recipe = card.partition("## Recipe")
    lines = []
    if arguments.note:
        lines += ["## Notes", ""] + [paragraph + "\n" for paragraph in arguments.note]
    if arguments.evaluation:
        lines += evaluation_section(arguments.evaluation, arguments.paper)
    if arguments.curve:
        lines += curve_section(arguments.curve, arguments.paper)
    if arguments.checks:
        lines += checks_section(arguments.checks, target)
    with open(card_path, "w", encoding="utf-8") as stream:
        stream.write(head.rstrip() + "\n\n" + "\n".join(lines) + "\n" + separator + recipe)
    print(f"updated {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
