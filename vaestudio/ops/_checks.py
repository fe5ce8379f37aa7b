"""Argument checks shared by the compiled and the reference paths.

Every message names the argument and says what was expected, so a wrong call
fails the same clear way whichever backend runs it. The C++ kernels repeat the
essential checks (TORCH_CHECK) for callers of ``torch.ops.vaestudio.*``.
"""

from __future__ import annotations

import torch

FLOAT_TYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _tensor(name: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def _rank(name: str, tensor: torch.Tensor, rank: int, shape_doc: str) -> None:
    if tensor.dim() != rank:
        raise ValueError(f"{name} must have {rank} dimensions {shape_doc}, got shape {tuple(tensor.shape)}")


def _floating(name: str, tensor: torch.Tensor) -> None:
    if tensor.dtype not in FLOAT_TYPES:
        raise TypeError(f"{name} must be float16, bfloat16, float32 or float64, got {tensor.dtype}")


def _same_device(**tensors: torch.Tensor) -> None:
    devices = {name: t.device for name, t in tensors.items()}
    if len(set(devices.values())) > 1:
        listed = ", ".join(f"{name} on {device}" for name, device in devices.items())
        raise ValueError(f"all tensors must be on one device, got {listed}; move them with .to(device)")


def _finite(name: str, tensor: torch.Tensor) -> None:
    if tensor.numel() and not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} contains NaN or infinite values; check the model for divergence")


def check_nearest_code(x, codebook) -> None:
    x, codebook = _tensor("x", x), _tensor("codebook", codebook)
    _rank("x", x, 2, "(N, D)")
    _rank("codebook", codebook, 2, "(K, D)")
    _floating("x", x)
    _floating("codebook", codebook)
    _same_device(x=x, codebook=codebook)
    if codebook.shape[0] == 0:
        raise ValueError("codebook is empty (K = 0): a codebook needs at least one code")
    if x.shape[1] != codebook.shape[1]:
        raise ValueError(
            f"x has D = {x.shape[1]} features but codebook rows have D = {codebook.shape[1]}; they must match"
        )
    if x.dtype != codebook.dtype:
        raise TypeError(f"x is {x.dtype} but codebook is {codebook.dtype}; cast one to the other")
    _finite("x", x)
    _finite("codebook", codebook)


def check_code_stats(x, indices, num_codes) -> None:
    x, indices = _tensor("x", x), _tensor("indices", indices)
    _rank("x", x, 2, "(N, D)")
    _rank("indices", indices, 1, "(N,)")
    _floating("x", x)
    _same_device(x=x, indices=indices)
    if indices.dtype != torch.int64:
        raise TypeError(f"indices must be int64, got {indices.dtype}")
    if not isinstance(num_codes, int) or num_codes <= 0:
        raise ValueError(f"num_codes must be a positive int, got {num_codes!r}")
    if indices.shape[0] != x.shape[0]:
        raise ValueError(f"indices has {indices.shape[0]} entries but x has {x.shape[0]} rows; they must match")
    if indices.numel():
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= num_codes:
            raise ValueError(f"indices must lie in [0, num_codes = {num_codes}), found values in [{low}, {high}]")


def check_ema_update(codebook, cluster_size, embed_sum, counts, sums, decay, eps) -> None:
    for name, t in dict(codebook=codebook, cluster_size=cluster_size, embed_sum=embed_sum, counts=counts,
                        sums=sums).items():
        _tensor(name, t)
        _floating(name, t)
    _rank("codebook", codebook, 2, "(K, D)")
    _rank("embed_sum", embed_sum, 2, "(K, D)")
    _rank("sums", sums, 2, "(K, D)")
    _rank("cluster_size", cluster_size, 1, "(K,)")
    _rank("counts", counts, 1, "(K,)")
    _same_device(codebook=codebook, cluster_size=cluster_size, embed_sum=embed_sum, counts=counts, sums=sums)
    num_codes, dim = codebook.shape
    for name, t in dict(embed_sum=embed_sum, sums=sums).items():
        if tuple(t.shape) != (num_codes, dim):
            raise ValueError(f"{name} must have the codebook's shape {(num_codes, dim)}, got {tuple(t.shape)}")
    for name, t in dict(cluster_size=cluster_size, counts=counts).items():
        if tuple(t.shape) != (num_codes,):
            raise ValueError(f"{name} must have shape ({num_codes},), one entry per code, got {tuple(t.shape)}")
    if not 0.0 <= float(decay) < 1.0:
        raise ValueError(f"decay must lie in [0, 1), got {decay}")
    if not float(eps) > 0.0:
        raise ValueError(f"eps must be positive, got {eps}")
    _finite("counts", counts)
    _finite("sums", sums)
