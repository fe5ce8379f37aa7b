"""Test NLL against epochs for a run whose checkpoints were kept (scripts/snapshot_checkpoints.sh).

    python scripts/nll_curve.py runs/zoo/mnist-vae-curve --data mnist --iwae-k 500 --limit 1000 > curve.json

Each snapshot is evaluated on the first --limit test images (dynamically binarised with one fixed draw,
as `vaestudio eval --binarize dynamic` does), with the k = --iwae-k bound as the NLL estimate; prints
a JSON list of {step, epoch, nll, elbo} and, on stderr, a Markdown table for the model card.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's vaestudio

from vaestudio.data import open_source
from vaestudio.evaluation import evaluate
from vaestudio.hub import load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshots", help="a folder of step-NNNNNNNN model folders")
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--iwae-k", type=int, default=500)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--train-size", type=int, default=60000, help="images per epoch, to turn steps into epochs")
    arguments = parser.parse_args(argv)
    source = open_source(arguments.data, split="test", binarize="dynamic")
    rows = []
    for name in sorted(entry for entry in os.listdir(arguments.snapshots) if entry.startswith("step-")):
        folder = os.path.join(arguments.snapshots, name)
        with open(os.path.join(folder, "trainer_state.json"), encoding="utf-8") as stream:
            state = json.load(stream)
        model = load(folder)
        torch.manual_seed(0)
        result = evaluate(model, source, batch_size=arguments.batch_size, iwae_k=arguments.iwae_k,
                          limit=arguments.limit, seed=0)
        step = int(state["step"])
        batch_size = int(state["recipe"]["training"]["batch_size"])
        rows.append({"step": step, "epoch": round(step * batch_size / arguments.train_size, 2),
                     "nll": result["nll"], "elbo": result["elbo"], "iwae_k": arguments.iwae_k,
                     "images": result["images"]})
        print(f"{name}: NLL {result['nll']:.2f}", file=sys.stderr)
    print(json.dumps(rows, indent=2))
    print("| step | epoch | test NLL (k = %d, %d images) | test ELBO |\n|---|---|---|---|" % (
        arguments.iwae_k, arguments.limit), file=sys.stderr)
    for row in rows:
        print(f"| {row['step']} | {row['epoch']} | {row['nll']:.2f} | {row['elbo']:.2f} |", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
