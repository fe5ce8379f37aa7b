"""Training throughput of the shipped recipes: custom operators against the pure-PyTorch references.

    python -m bench.bench_training [--quick] [--threads N]

For each recipe, one process builds the recipe's model, optimizer and a batch of its data, then
times full training steps (loss, backward, optimizer step, EMA codebook update) alternately with
the compiled operators and inside ``vaestudio.ops.reference_operators()``. Reports images/s and
the ratio. Writes bench/results/training-cpu.json.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from bench import harness
from vaestudio import ops
from vaestudio.data import collate
from vaestudio.training.building import build_model, build_optimizer, load_frozen_vqvae, needs_codes, open_data
from vaestudio.training.recipes import load_recipe

RECIPES = ("shapes-vqvae", "shapes-prior", "emoji-vqvae")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _training_step(name: str) -> tuple[Callable[[], Any], int]:
    recipe = load_recipe(os.path.join(ROOT, "recipes", f"{name}.toml"))
    source = open_data(recipe)
    vqvae = load_frozen_vqvae(recipe, torch.device("cpu")) if needs_codes(recipe) else None
    model = build_model(recipe, source, vqvae).train()
    optimizer = build_optimizer(model, recipe.training)
    batch_size = recipe.training.batch_size
    batch = collate([source[index] for index in range(batch_size)])
    if vqvae is not None:
        with torch.no_grad():
            batch.codes = vqvae.encode_codes(batch.images)  # (B, h, w)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        model.training_loss(batch).loss.backward()
        optimizer.step()
        model.on_train_step_end(0)

    return step, batch_size


def _in_reference(step: Callable[[], Any]) -> Callable[[], Any]:
    def reference_step() -> None:
        with ops.reference_operators():
            step()

    return reference_step


def main() -> None:
    arguments = harness.parse_arguments(__doc__.splitlines()[0], "fewer repeats", threads=True)
    load_before = os.getloadavg()
    print(f"operators: {ops.backend().name} ({ops.backend().reason})")
    repeats = 3 if arguments.quick else 10
    results = []
    for name in RECIPES:
        step, batch_size = _training_step(name)
        ours = harness.time_call(step, repeats=repeats, warmup=2)
        reference = harness.time_call(_in_reference(step), repeats=repeats, warmup=2)
        results.append({
            "recipe": name,
            "batch_size": batch_size,
            "ours_images_per_s": batch_size / ours["best_s"],
            "reference_images_per_s": batch_size / reference["best_s"],
            "ours_step_s": ours["best_s"],
            "reference_step_s": reference["best_s"],
            "ours_speedup": reference["best_s"] / ours["best_s"],
        })
    harness.print_table(
        "training throughput (images/s, best step)",
        ["recipe", "batch", "ours", "references", "speedup"],
        [[r["recipe"], r["batch_size"], r["ours_images_per_s"], r["reference_images_per_s"], r["ours_speedup"]]
         for r in results],
    )
    harness.write_results("training", {"quick": arguments.quick, **harness.run_conditions(load_before),
                                       "backend": ops.backend().reason, "results": results})


if __name__ == "__main__":
    main()
