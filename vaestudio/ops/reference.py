"""Pure-PyTorch references of every operator: the test oracle and the fallback.

Each ``<op>_reference`` has the same signature and the same results (up to
floating-point summation order) as the compiled ``torch.ops.vaestudio.<op>``.
They favour clarity over memory: ``nearest_code_reference`` builds the full
N x K distance matrix, which the compiled kernels never do.
"""

from __future__ import annotations

import torch


def nearest_code_reference(x: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared-norm expansion ||x||^2 - 2 x.c + ||c||^2, then argmin (ties: lowest index)."""
    x32 = x.float()  # (N, D)
    codes32 = codebook.float()  # (K, D)
    if x32.shape[0] == 0:
        return torch.empty(0, dtype=torch.int64, device=x.device), torch.empty(0, device=x.device)
    distances = (
        x32.pow(2).sum(1, keepdim=True) - 2 * x32 @ codes32.t() + codes32.pow(2).sum(1)[None, :]
    )  # (N, K)
    indices = distances.argmin(dim=1)  # (N,) torch.argmin returns the first minimum
    sqdist = (x32 - codes32[indices]).pow(2).sum(1)  # (N,) exact distance to the chosen code
    return indices, sqdist


def code_stats_reference(
    x: torch.Tensor, indices: torch.Tensor, num_codes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """counts (K,) = bincount(indices); sums (K, D) = index_add of the rows of x."""
    x32 = x.float()  # (N, D)
    counts = torch.zeros(num_codes, dtype=torch.float32, device=x.device)  # (K,)
    counts.index_add_(0, indices, torch.ones_like(indices, dtype=torch.float32))
    sums = torch.zeros(num_codes, x.shape[1], dtype=torch.float32, device=x.device)  # (K, D)
    sums.index_add_(0, indices, x32)
    return counts, sums


def ema_update_reference_(
    codebook: torch.Tensor,
    cluster_size: torch.Tensor,
    embed_sum: torch.Tensor,
    counts: torch.Tensor,
    sums: torch.Tensor,
    decay: float,
    eps: float,
) -> None:
    """cluster_size, embed_sum <- EMA with ``decay``; Laplace-smoothed sizes; codebook = embed_sum / size."""
    with torch.no_grad():
        cluster_size.mul_(decay).add_(counts.to(cluster_size.dtype), alpha=1 - decay)  # (K,)
        embed_sum.mul_(decay).add_(sums.to(embed_sum.dtype), alpha=1 - decay)  # (K, D)
        total = cluster_size.sum()
        num_codes = cluster_size.shape[0]
        smoothed = (cluster_size + eps) / (total + num_codes * eps) * total  # (K,)
        codebook.copy_((embed_sum / smoothed[:, None]).to(codebook.dtype))
