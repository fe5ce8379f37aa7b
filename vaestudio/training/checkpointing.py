"""Training checkpoints that resume exactly, written atomically and never unpickled.

Layout under a run's output folder::

    checkpoints/step-00000500/model.safetensors        the weights and buffers (save_model)
                             /config.json
                             /training_state.safetensors optimizer state tensors, torch RNG states
                             /trainer_state.json         step, epoch, position in the epoch, numpy and
                                                         Python RNG states, loss history, timings
    checkpoints/latest                                   the name of the newest complete checkpoint

Every file is written to a temporary file, fsynced and renamed; ``latest`` is
written last, so a run killed at any moment leaves the previous checkpoint (or
the new one) whole. Older checkpoints are removed once ``latest`` moved on.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from typing import Any

import numpy
import torch
from safetensors.torch import load_file, save_file

from vaestudio.checkpoints import load_model, save_model
from vaestudio.common.files import atomic_write
from vaestudio.models import StudioModel

CHECKPOINTS = "checkpoints"
LATEST = "latest"
TRAINING_STATE = "training_state.safetensors"
TRAINER_STATE = "trainer_state.json"


class ResumeError(RuntimeError):
    """A checkpoint that does not fit the run being resumed."""


# -- random number generators ------------------------------------------------------------------
def capture_rng_states() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """This process's RNG states: torch's as uint8 tensors, numpy's and Python's as JSON-safe values."""
    tensors = {"rng.torch": torch.get_rng_state()}  # (5056,) uint8
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    name, keys, position, has_gauss, cached_gaussian = numpy.random.get_state()
    version, python_state, gauss = random.getstate()
    return tensors, {
        "numpy": {"name": name, "keys": [int(k) for k in keys], "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "python": {"version": version, "state": list(python_state), "gauss": gauss},
    }


def pack_rng_states(per_rank: list[tuple[dict[str, torch.Tensor], dict[str, Any]]]):
    """Every rank's RNG states -> (tensors named ``rng.RANK.NAME``, JSON values by rank)."""
    tensors = {f"rng.{rank}.{name[4:]}": tensor for rank, (named, _) in enumerate(per_rank) for name, tensor in named.items()}
    return tensors, [values for _, values in per_rank]


def unpack_rng_states(tensors: dict[str, torch.Tensor], values: list[dict[str, Any]], rank: int):
    """The inverse of pack_rng_states for one rank."""
    prefix = f"rng.{rank}."
    if rank >= len(values):
        raise ResumeError(f"the checkpoint was written by {len(values)} process(es); resume with the same number")
    own = {"rng." + name[len(prefix):]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}
    return own, values[rank]


def restore_rng_states(tensors: dict[str, torch.Tensor], values: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    state = values["numpy"]
    numpy.random.set_state((state["name"], numpy.array(state["keys"], dtype=numpy.uint32), state["position"],
                            state["has_gauss"], state["cached_gaussian"]))
    python = values["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss"]))


# -- optimizer state ---------------------------------------------------------------------------
def flatten_optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer state dict -> tensors named ``optimizer.PARAM.KEY`` plus JSON for everything else."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for parameter_index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{parameter_index}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{parameter_index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer_state(tensors: dict[str, torch.Tensor], values: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if name.startswith("optimizer."):
            _, parameter_index, key = name.split(".", 2)
            state.setdefault(int(parameter_index), {})[key] = tensor
    for name, value in values["scalars"].items():
        parameter_index, key = name.split(".", 1)
        state.setdefault(int(parameter_index), {})[key] = value
    groups = [dict(group, betas=tuple(group["betas"])) if "betas" in group else group for group in values["param_groups"]]
    return {"state": state, "param_groups": groups}


# -- saving and loading ------------------------------------------------------------------------
def _write_json(path: str, document: dict[str, Any]) -> None:
    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=1)

    atomic_write(path, write)


def save_checkpoint(
    out_dir: str,
    step: int,
    model: StudioModel,
    optimizer: torch.optim.Optimizer,
    trainer_state: dict[str, Any],
    rng_tensors: dict[str, torch.Tensor],
) -> str:
    """Writes ``checkpoints/step-N`` and then points ``latest`` at it; returns the folder."""
    root = os.path.join(out_dir, CHECKPOINTS)
    name = f"step-{step:08d}"
    directory = os.path.join(root, name)
    os.makedirs(directory, exist_ok=True)
    save_model(model, directory)
    optimizer_tensors, optimizer_values = flatten_optimizer_state(optimizer)
    tensors = {**optimizer_tensors, **rng_tensors}
    atomic_write(os.path.join(directory, TRAINING_STATE),
                  lambda path: save_file(tensors, path, metadata={"step": str(step)}))
    _write_json(os.path.join(directory, TRAINER_STATE), {**trainer_state, "step": step, "optimizer": optimizer_values})

    def write_latest(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as stream:
            stream.write(name + "\n")

    atomic_write(os.path.join(root, LATEST), write_latest)
    for entry in os.listdir(root):
        if entry.startswith("step-") and entry != name:
            shutil.rmtree(os.path.join(root, entry), ignore_errors=True)
    return directory


def latest_checkpoint(out_dir: str) -> str | None:
    """The newest complete checkpoint folder of a run, or None."""
    pointer = os.path.join(out_dir, CHECKPOINTS, LATEST)
    if not os.path.isfile(pointer):
        return None
    with open(pointer, encoding="utf-8") as stream:
        name = stream.read().strip()
    directory = os.path.join(out_dir, CHECKPOINTS, name)
    return directory if os.path.isfile(os.path.join(directory, TRAINER_STATE)) else None


def load_checkpoint(
    directory: str, model: StudioModel, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Loads weights and optimizer state in place; returns (trainer_state, RNG tensors)."""

    saved = load_model(directory)
    if type(saved) is not type(model):
        raise ResumeError(f"{directory} holds a {type(saved).__name__}, but this recipe trains a {type(model).__name__}")
    if saved.config_dict() != model.config_dict():
        raise ResumeError(f"{directory} was written with another model config than this recipe's; resume with the "
                          "same recipe and --set overrides, or train into a new --out folder")
    model.load_state_dict(saved.state_dict(), strict=True)
    with open(os.path.join(directory, TRAINER_STATE), encoding="utf-8") as stream:
        trainer_state = json.load(stream)
    tensors = load_file(os.path.join(directory, TRAINING_STATE))
    optimizer.load_state_dict(unflatten_optimizer_state(tensors, trainer_state.pop("optimizer")))
    rng_tensors = {name: tensor for name, tensor in tensors.items() if name.startswith("rng.")}
    return trainer_state, rng_tensors
