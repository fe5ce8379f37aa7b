"""Vector quantiser with an exponential-moving-average codebook: the bottleneck of the VQ-VAE.

- VQ-VAE (van den Oord, Vinyals, Kavukcuoglu 2017), https://arxiv.org/abs/1711.00937: nearest-code
  quantisation, straight-through gradient, commitment loss; appendix A.1: EMA codebook updates.
- VQ-VAE-2 (Razavi, van den Oord, Vinyals 2019), https://arxiv.org/abs/1906.00446: EMA codebooks in a
  hierarchy of code maps.

Every forward finds the nearest code of each latent vector (``vaestudio.ops.nearest_code``). The codebook
learns in one of two ways (``codebook_update``):

- ``"ema"`` (default): in training mode the quantiser updates the codebook from the batch: per-code counts
  and sums (``code_stats``), summed over ranks when torch.distributed is initialised, folded into the EMA
  state (``ema_update_``). The codebook is a buffer and gets no gradient.
- ``"loss"``: the original paper's codebook loss ||sg[z_e] - e||^2 (section 3.2, equation 3): the codebook
  is a parameter moved by the optimizer; the EMA buffers stay as they are (and no dead code is revived,
  since revival reads the EMA cluster sizes).

Either way the encoder gets the straight-through gradient of the decoder plus the commitment loss. Quantisation always runs in float32, also under
autocast, and the EMA buffers stay float32 even if the module is cast to another dtype.

Extras: k-means initialisation of the codebook from the first training batch; revival of dead codes
(EMA cluster size below a threshold), which also resets their EMA state, identically on every rank;
codebook usage counted over an epoch (``reset_usage`` / ``usage``), not over a single batch.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from vaestudio import ops


CODEBOOK_UPDATES = ("ema", "loss")


@dataclasses.dataclass
class QuantizerConfig:
    num_codes: int = 512  # K, the codebook size
    code_dim: int = 64  # D, the size of a code vector (the encoder's output channels)
    ema_decay: float = 0.99
    eps: float = 1e-5  # Laplace smoothing of the EMA cluster sizes
    commitment_weight: float = 0.25  # beta of the VQ-VAE paper
    kmeans_init: bool = True  # initialise the codebook by k-means on the first training batch
    kmeans_iterations: int = 10  # Lloyd iterations of that initialisation
    dead_code_threshold: float = 0.0  # revive codes whose EMA cluster size falls below this; 0 disables
    codebook_update: str = "ema"  # "ema" (moving averages) or "loss" (the codebook loss, by gradient)

    def __post_init__(self) -> None:
        if self.codebook_update not in CODEBOOK_UPDATES:
            raise ValueError(f"codebook_update must be one of {CODEBOOK_UPDATES}, got {self.codebook_update!r}")
        if self.codebook_update == "loss" and self.dead_code_threshold > 0:
            raise ValueError("dead-code revival reads the EMA cluster sizes, which codebook_update = \"loss\" "
                             "leaves alone: set dead_code_threshold = 0 with it")


@dataclasses.dataclass
class QuantizerOutput:
    quantized: torch.Tensor  # (B, D, h, w) straight-through: the codes' vectors forward, identity backward
    codes: torch.Tensor  # (B, h, w) int64
    commitment_loss: torch.Tensor  # () commitment_weight * mean ||latents - sg(quantized)||^2
    perplexity: torch.Tensor  # () exp(entropy) of the batch's code distribution
    codebook_loss: torch.Tensor | None = None  # () mean ||sg[latents] - quantized||^2 (codebook_update "loss")


class CodebookUsage(NamedTuple):
    alive_fraction: float  # fraction of codes used at least once since reset_usage()
    perplexity: float  # exp(entropy) of the code distribution since reset_usage()


EMA_BUFFERS = ("codebook", "cluster_size", "embed_sum", "usage_counts")


def _world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _all_reduce_sum(*tensors: torch.Tensor) -> None:
    if _world_size() > 1:
        for tensor in tensors:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)


def _broadcast_from_first_rank(tensor: torch.Tensor) -> torch.Tensor:
    if _world_size() > 1:
        dist.broadcast(tensor, src=0)
    return tensor


def _perplexity(counts: torch.Tensor) -> torch.Tensor:
    """exp of the entropy of the distribution proportional to counts (K,); 0 when counts are all 0."""
    total = counts.sum()
    probabilities = counts / total.clamp_min(1)  # (K,)
    entropy = -(probabilities * torch.log(probabilities.clamp_min(1e-12))).sum()
    return torch.where(total > 0, entropy.exp(), torch.zeros_like(entropy))


def _random_rows(x: torch.Tensor, count: int) -> torch.Tensor:
    """count rows of x (N, D), without replacement when x has enough rows, chosen on rank 0."""
    if x.shape[0] >= count:
        rows = torch.randperm(x.shape[0], device=x.device)[:count]  # (count,)
    else:
        rows = torch.randint(x.shape[0], (count,), device=x.device)  # (count,)
    return _broadcast_from_first_rank(x[rows].contiguous())  # (count, D)


class VectorQuantizer(nn.Module):
    """Nearest-code quantiser with an EMA codebook: ``VectorQuantizer(QuantizerConfig(...))`` or keywords."""

    def __init__(self, config: QuantizerConfig | None = None, **overrides) -> None:
        super().__init__()
        config = dataclasses.replace(config or QuantizerConfig(), **overrides)
        if config.num_codes <= 0 or config.code_dim <= 0:
            raise ValueError(f"num_codes and code_dim must be positive, got {config.num_codes}, {config.code_dim}")
        if not 0.0 <= config.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in [0, 1), got {config.ema_decay}")
        self.config = config
        num_codes, code_dim = config.num_codes, config.code_dim
        codebook = torch.randn(num_codes, code_dim)  # (K, D)
        if config.codebook_update == "loss":  # same state_dict key either way: old folders load unchanged
            self.codebook = nn.Parameter(codebook)
        else:
            self.register_buffer("codebook", codebook)
        # EMA state consistent with the codebook: every code starts as if it had seen one vector, itself.
        self.register_buffer("cluster_size", torch.ones(num_codes))  # (K,)
        self.register_buffer("embed_sum", codebook.clone())  # (K, D)
        self.register_buffer("initialized", torch.tensor(not config.kmeans_init))
        self.register_buffer("usage_counts", torch.zeros(num_codes))  # (K,) codes chosen since reset_usage()

    def _apply(self, fn, recurse=True):
        """.to(), .half(), .cuda()...: the codebook and its EMA state move but stay float32."""
        super()._apply(fn, recurse)
        for name in EMA_BUFFERS:
            if name in self._buffers and self._buffers[name].dtype != torch.float32:
                self._buffers[name] = self._buffers[name].float()
        if "codebook" in self._parameters and self.codebook.dtype != torch.float32:
            self.codebook.data = self.codebook.data.float()
        return self

    # -- forward --------------------------------------------------------------------------------
    def forward(self, latents: torch.Tensor) -> QuantizerOutput:
        if latents.dim() != 4 or latents.shape[1] != self.config.code_dim:
            raise ValueError(
                f"latents must have shape (B, code_dim = {self.config.code_dim}, h, w), got {tuple(latents.shape)}"
            )
        batch, dim, height, width = latents.shape
        with torch.autocast(latents.device.type, enabled=False):
            flat = latents.float().permute(0, 2, 3, 1).reshape(-1, dim)  # (N, D), N = B h w
            vectors = flat.detach()  # (N, D)
            if self.training and not bool(self.initialized):
                self._kmeans_init(vectors)
            codebook = self.codebook.detach()  # (K, D)
            codes, _ = ops.nearest_code(vectors, codebook)  # (N,)
            chosen = F.embedding(codes, codebook)  # (N, D) a copy: safe from the in-place update below
            codebook_loss = None
            if self.training and self.config.codebook_update == "ema":
                counts = self._ema_step(vectors, codes)  # (K,) summed over ranks
            else:
                counts = torch.bincount(codes, minlength=self.config.num_codes).float()  # (K,)
                self.usage_counts += counts
            if self.config.codebook_update == "loss":  # ||sg[z_e] - e||^2: gradient to the chosen codes only
                codebook_loss = F.mse_loss(F.embedding(codes, self.codebook), vectors)
            commitment_loss = self.config.commitment_weight * F.mse_loss(flat, chosen)
            straight_through = flat + (chosen - flat).detach()  # (N, D) value of chosen, gradient of flat
            quantized = straight_through.reshape(batch, height, width, dim).permute(0, 3, 1, 2)  # (B, D, h, w)
        return QuantizerOutput(
            quantized=quantized.to(latents.dtype),
            codes=codes.reshape(batch, height, width),
            commitment_loss=commitment_loss,
            perplexity=_perplexity(counts),
            codebook_loss=codebook_loss,
        )

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """The code vectors of a code map: codes (B, h, w) int64 -> (B, D, h, w)."""
        if codes.dim() != 3:
            raise ValueError(f"codes must have shape (B, h, w), got {tuple(codes.shape)}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.config.num_codes):
            raise ValueError(f"codes must lie in [0, num_codes = {self.config.num_codes})")
        return F.embedding(codes, self.codebook.detach()).permute(0, 3, 1, 2)  # (B, D, h, w)

    # -- codebook learning ----------------------------------------------------------------------
    @torch.no_grad()
    def _ema_step(self, vectors: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """One EMA update from the batch; returns the batch's counts (K,) summed over ranks."""
        counts, sums = ops.code_stats(vectors, codes, self.config.num_codes)  # (K,), (K, D)
        self.usage_counts += counts  # per rank by design: usage of this rank's data
        _all_reduce_sum(counts, sums)
        ops.ema_update_(self.codebook, self.cluster_size, self.embed_sum, counts, sums, self.config.ema_decay,
                        self.config.eps)
        if self.config.dead_code_threshold > 0:
            self._revive_dead_codes(vectors)
        return counts

    @torch.no_grad()
    def _revive_dead_codes(self, vectors: torch.Tensor) -> None:
        """Codes whose EMA cluster size fell below the threshold jump to random vectors of the batch.

        Their EMA state restarts as if each had been assigned its new vector 2 x threshold times, so it
        agrees with the new position and the code gets a grace period (about ln 2 / (1 - decay) steps)
        before it can be revived again. The dead set is the same on every rank (the cluster sizes are
        built from all-reduced statistics) and rank 0 picks the vectors, so every rank revives alike.
        """
        dead = (self.cluster_size < self.config.dead_code_threshold).nonzero().squeeze(1)  # (num_dead,)
        if dead.numel() == 0 or vectors.shape[0] == 0:
            return
        replacements = _random_rows(vectors, dead.numel())  # (num_dead, D)
        reset_size = 2.0 * self.config.dead_code_threshold
        self.codebook[dead] = replacements
        self.cluster_size[dead] = reset_size
        self.embed_sum[dead] = replacements * reset_size

    @torch.no_grad()
    def _kmeans_init(self, vectors: torch.Tensor) -> None:
        """Lloyd's k-means on the first training batch (pooled over ranks); sets codebook and EMA state."""
        num_codes = self.config.num_codes
        centres = _random_rows(vectors, num_codes)  # (K, D)
        counts = torch.zeros(num_codes, device=vectors.device)  # (K,)
        for _ in range(max(1, self.config.kmeans_iterations)):
            codes, _ = ops.nearest_code(vectors, centres)  # (N,)
            counts, sums = ops.code_stats(vectors, codes, num_codes)  # (K,), (K, D)
            _all_reduce_sum(counts, sums)
            used = counts > 0  # (K,) an empty cluster keeps its centre
            centres[used] = sums[used] / counts[used, None]
        self.codebook.copy_(centres)
        self.cluster_size.copy_(counts)
        self.embed_sum.copy_(centres * counts[:, None])
        self.initialized.fill_(True)

    # -- usage over an epoch ----------------------------------------------------------------------
    def reset_usage(self) -> None:
        """Starts a new usage count (call at the start of every epoch)."""
        self.usage_counts.zero_()

    def usage(self) -> CodebookUsage:
        """Fraction of codes used since reset_usage() and the perplexity of their distribution."""
        alive = float((self.usage_counts > 0).float().mean())
        perplexity = float(_perplexity(self.usage_counts))
        return CodebookUsage(alive_fraction=alive, perplexity=perplexity if math.isfinite(perplexity) else 0.0)
