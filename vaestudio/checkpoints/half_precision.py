"""Shipping a model folder's weights in half precision, to keep ``pretrained/`` small.

Floating-point tensors are stored as float16 in ``model.safetensors``; :func:`load_model` copies them into
the model's float32 parameters, so a loaded model computes in float32 as before and only the stored values
are rounded (11 significant bits). A tensor that float16 cannot hold (a magnitude past its range, such as a
large EMA sum) stays float32.
"""

from __future__ import annotations

import os

import torch
from safetensors.torch import load_file, save_file

from vaestudio.common.files import atomic_write

WEIGHTS_FILE = "model.safetensors"
FLOAT16_LIMIT = 60_000.0  # float16's largest finite value is 65,504; keep a margin


def halved(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` as float16 when it is a float32 tensor float16 can hold, else unchanged."""
    if tensor.dtype != torch.float32 or tensor.numel() == 0:
        return tensor
    if not torch.isfinite(tensor).all() or tensor.abs().max().item() > FLOAT16_LIMIT:
        return tensor
    return tensor.to(torch.float16)


def store_in_half_precision(directory: str) -> tuple[int, int]:
    """Rewrites ``directory/model.safetensors`` with its float32 tensors as float16 (atomically); returns
    the file's size in bytes before and after."""
    path = os.path.join(directory, WEIGHTS_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{directory} has no {WEIGHTS_FILE}; give a model folder (config.json + weights)")
    before = os.path.getsize(path)
    state = {name: halved(tensor).contiguous() for name, tensor in load_file(path).items()}
    atomic_write(path, lambda target: save_file(state, target))
    return before, os.path.getsize(path)


def model_folders_under(path: str) -> list[str]:
    """Every model folder at or under ``path`` (a model folder or a bundle of them), sorted."""
    return sorted(root for root, _, files in os.walk(path) if WEIGHTS_FILE in files)
