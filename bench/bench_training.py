"""Training throughput of the shipped recipes: custom operators against the pure-PyTorch references.

    python -m bench.bench_training [--quick] [--threads N] [--device {cpu,cuda}]

For each recipe, one process builds the recipe's model, optimizer and a batch of its data, then
times full training steps (loss, backward, optimizer step, EMA codebook update) alternately with
the compiled operators and inside ``vaestudio.ops.reference_operators()``. Reports images/s and
the ratio. On cuda the loss runs under bf16 autocast (torch.autocast('cuda', dtype=torch.bfloat16)),
like a recipe with precision = "bf16"; on CPU in float32. Writes bench/results/training-<device>.json.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from typing import Any

import torch

from bench import harness
from vaestudio import ops
from vaestudio.data import collate
from vaestudio.training.building import (
    build_model,
    build_optimizer,
    load_frozen_vqvae,
    needs_codes,
    open_data,
)
from vaestudio.training.recipes import Recipe, RecipeError, load_recipe

RECIPES = ("shapes-vqvae", "shapes-prior", "emoji-vqvae")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A prior's recipe names the VQ-VAE of a local training run (runs/zoo/...); where that run is not on
# this machine, the step is timed on the shipped VQ-VAE of the same architecture (the codes' values do
# not change the step's cost).
SHIPPED_CODES = {"shapes-prior": os.path.join(ROOT, "pretrained", "shapes", "vqvae")}


def _with_available_vqvae(recipe: Recipe, name: str) -> Recipe:
    if not needs_codes(recipe) or os.path.isdir(os.path.join(ROOT, recipe.model.vqvae)) or name not in SHIPPED_CODES:
        return recipe
    print(f"{name}: {recipe.model.vqvae} is not on this machine; timing on {SHIPPED_CODES[name]}")
    return dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, vqvae=SHIPPED_CODES[name]))


def _training_step(name: str) -> tuple[Callable[[], Any], int]:
    recipe = _with_available_vqvae(load_recipe(os.path.join(ROOT, "recipes", f"{name}.toml")), name)
    device = harness.device()
    source = open_data(recipe)
    vqvae = load_frozen_vqvae(recipe, device) if needs_codes(recipe) else None
    model = build_model(recipe, source, vqvae).to(device).train()
    optimizer = build_optimizer(model, recipe.training)
    batch_size = recipe.training.batch_size
    batch = collate([source[index] for index in range(batch_size)]).to(device)
    if vqvae is not None:
        with torch.no_grad():
            batch.codes = vqvae.encode_codes(batch.images)  # (B, h, w)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with _autocast():  # the loss only, as the trainer does; backward outside
            loss = model.training_loss(batch).loss
        loss.backward()
        optimizer.step()
        model.on_train_step_end(0)

    return step, batch_size


def _autocast() -> contextlib.AbstractContextManager:
    """bf16 autocast on cuda; nothing on CPU (the CPU numbers stay float32)."""
    if harness.on_cuda():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _in_reference(step: Callable[[], Any]) -> Callable[[], Any]:
    def reference_step() -> None:
        with ops.reference_operators():
            step()

    return reference_step


def main() -> None:
    arguments = harness.parse_arguments(__doc__.splitlines()[0], "fewer repeats")
    load_before = os.getloadavg()
    print(f"operators: {ops.backend().name} ({ops.backend().reason})")
    repeats = 3 if arguments.quick else 10
    results, skipped = [], {}
    for name in RECIPES:
        try:
            step, batch_size = _training_step(name)
        except RecipeError as error:  # e.g. the emoji source without its font: say so, time the others
            print(f"skipping {name}: {error}")
            skipped[name] = str(error)
            continue
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
    precision = {"precision": "bf16 autocast"} if harness.on_cuda() else {}
    harness.write_results("training", {"quick": arguments.quick, **harness.run_conditions(load_before),
                                       "backend": ops.backend().reason, **precision, "results": results,
                                       "skipped": skipped})


if __name__ == "__main__":
    main()
