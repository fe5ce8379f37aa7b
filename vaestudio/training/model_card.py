"""The model card (README.md) written beside a trained model: data, recipe, command, metrics, time, machine."""

from __future__ import annotations

import os
import platform
from typing import Any

import torch

from vaestudio.data.catalogue import provenance
from vaestudio.ops import backend
from vaestudio.training.recipes import Recipe


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description(world_size: int = 1) -> dict[str, Any]:
    active = backend()
    return {
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "operator_backend": active.name,
        "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "processes": world_size,
        "python": platform.python_version(),
    }


def _format_number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _flatten(metrics: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += _flatten(value, name + ".")
        elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
            rows.append((name, value))
    return rows


def render_model_card(recipe: Recipe, metrics: dict[str, Any], command: str, machine: dict[str, Any],
                      data_description: str, vqvae: str | None = None) -> str:
    training = metrics.get("training", {})
    lines = [
        f"# {recipe.name} ({recipe.model.type})",
        "",
        f"Trained with VAE Studio from the recipe `{recipe.path}`.",
        "",
        "## Data",
        "",
        f"- source: `{recipe.data.source}` (split `{recipe.data.split}`), {data_description}",
    ]
    if provenance(recipe.data.source):
        lines.append(f"- data set: {provenance(recipe.data.source)}")
    if recipe.data.options:
        lines.append(f"- options: `{recipe.data.options}`")
    if vqvae:
        lines.append(f"- code maps from the frozen VQ-VAE `{vqvae}` (see `vqvae_reference.json`)")
    minutes = training.get("seconds", 0.0) / 60
    lines += [
        "",
        "## Training",
        "",
        f"- command: `{command}`",
        (f"- steps: {training.get('steps')}, batch size {recipe.training.batch_size}, "
         f"{recipe.training.optimizer} at learning rate {recipe.training.learning_rate:g} "
         f"({recipe.training.lr_schedule} schedule), precision {recipe.training.precision}"),
        f"- training time: {minutes:.1f} min, {training.get('images_per_second', 0.0):.0f} images/s",
        "- machine: " + ", ".join(f"{key} {value}" for key, value in machine.items() if value is not None),
        *([(f"- fine-tuned: started from the weights of `{recipe.training.initialize_from}` (its own card tells "
            "how that was trained; the time above is this fine-tune's only)")] if recipe.training.initialize_from else []),
        *([(f"- trained only: {', '.join(recipe.training.train_only)} (every other part kept the start model's weights "
            "and stayed in eval mode)")] if recipe.training.train_only else []),
        *([(f"- regional training: {recipe.training.layout_probability:.0%} of the captions the "
            f"`{recipe.training.layout}` layout places were trained as its regional conditions")]
          if recipe.training.layout else []),
        "",
        "## Metrics",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {_format_number(value)} |" for name, value in _flatten(metrics)]
    lines += ["", "## Recipe", "", "```toml", recipe.to_toml().rstrip(), "```", ""]
    return "\n".join(lines)
