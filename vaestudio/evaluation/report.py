"""``evaluate(model, source)``: one pass over a split, every metric that the model supports.

- every model that reconstructs: ``mse`` (mean over pixels) and ``psnr`` (dB, mean over images);
- VAEs: ``elbo`` and ``iwae`` (the IWAE-k bound, k = ``iwae_k``) in nats per image, ``nll`` = -iwae
  (the estimate of -log p(x); k = 5000 is the IWAE paper's) and ``bits_per_dim`` of it;
- models with discrete codes (VQ-VAE, dVAE): ``codebook`` usage, dead codes and perplexity
  over the whole split (per level for VQ-VAE-2);
- dVAEs: ``elbo`` and ``iwae`` (k = ``iwae_k``) with the uniform prior over codes, in nats per image, and
  ``bits_per_dim`` of -iwae (the logit-Laplace density over 256 bins per dimension);
- priors: ``bits_per_code`` (and nats) of the codes of their frozen VQ-VAE over the split (of its top map, or
  of its bottom map given the top one, for a VQ-VAE-2);
- the contrastive scorer: mean matched cosine ``score``.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import torch

from vaestudio.common.batch import Batch
from vaestudio.common.metrics import CodeUsage, Mean, mean_squared_error, nats_to_bits, psnr
from vaestudio.evaluation.latent_units import LatentUnits
from vaestudio.data import collate
from vaestudio.hub import load
from vaestudio.models import losses
from vaestudio.models.base import StudioModel
from vaestudio.models.bottom_prior import is_prior, prior_inputs
from vaestudio.models.conditioning import condition_from_data, condition_kind

VQVAE_REFERENCE = "vqvae_reference.json"


def batch_condition(model: StudioModel, batch: Batch):
    """The condition a model's config asks for, taken from a batch (labels or captions), else None."""
    return condition_from_data(condition_kind(model), batch.labels, batch.captions, type(model).__name__)


def _with_condition(condition) -> dict[str, Any]:
    return {} if condition is None else {"condition": condition}


def _code_levels(codes) -> dict[str, torch.Tensor]:
    """A code map (B, h, w), or the top and bottom maps of a hierarchy, by level name."""
    if isinstance(codes, torch.Tensor):
        return {"": codes}
    return {"top": codes.top, "bottom": codes.bottom}


def vqvae_for_prior(model_directory: str) -> StudioModel:
    """The frozen VQ-VAE a trained prior refers to (``vqvae_reference.json`` beside its weights)."""
    path = os.path.join(model_directory, VQVAE_REFERENCE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{model_directory} is a prior without {VQVAE_REFERENCE}; pass the VQ-VAE explicitly")
    with open(path, encoding="utf-8") as stream:
        reference = json.load(stream)
    for candidate in (reference.get("resolved"), reference.get("vqvae")):
        if candidate and (os.path.isdir(candidate) or "/" not in candidate):
            try:
                return load(candidate)
            except (OSError, ValueError):
                continue
    raise FileNotFoundError(f"the VQ-VAE named in {path} ({reference}) cannot be found any more")


class Evaluation:
    """Accumulates the metrics of one model over batches."""

    def __init__(self, model: StudioModel, iwae_k: int, vqvae: StudioModel | None, seed: int) -> None:
        self.model, self.iwae_k, self.vqvae = model, iwae_k, vqvae
        self.device = next(model.parameters()).device
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.is_prior = is_prior(model)
        self.is_vae = model.model_type == "vae"
        self.is_dvae = model.model_type == "dvae"
        if self.is_prior and vqvae is None:
            raise ValueError("evaluating a prior needs its VQ-VAE (vqvae=...)")
        self.means: dict[str, Mean] = {}
        self.usage: dict[str, CodeUsage] = {}
        self.units = LatentUnits() if self.is_vae else None  # active units and KL per dimension
        self.codes: list[torch.Tensor] | None = [] if hasattr(model, "has_prior") else None  # AE, WAE: (B, L) each
        self.images = 0
        self.seconds: dict[str, float] = {}

    def _add(self, name: str, values: torch.Tensor) -> None:
        self.means.setdefault(name, Mean()).add(values)

    def _timed(self, name: str, started: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    @torch.no_grad()
    def add(self, batch: Batch) -> None:
        batch = batch.to(self.device)
        images, condition = batch.images, batch_condition(self.model, batch)
        self.images += images.shape[0]
        if hasattr(self.model, "reconstruct") and not self.is_prior:
            started = time.perf_counter()
            reconstructions = self.model.reconstruct(images, **_with_condition(condition))  # (B, C, H, W)
            errors = mean_squared_error(images, reconstructions)  # (B,)
            self._add("mse", errors)
            self._add("psnr", psnr(errors))
            self._timed("reconstruct", started)
        if self.units is not None:
            posterior = self.model.encode(images, **_with_condition(condition))
            self.units.add(posterior.mean, posterior.kl_per_dimension())  # (B, L) each
        if self.codes is not None:
            self.codes.append(self.model.encode(images).float().cpu())  # (B, L)
        if self.is_vae and self.iwae_k > 0:
            started = time.perf_counter()
            bounds = self.model.bounds(images, self.iwae_k, generator=self.generator, **_with_condition(condition))
            self._add("elbo", bounds[0])
            self._add("iwae", bounds[1])
            self._timed("bounds", started)
        if self.is_dvae and self.iwae_k > 0:
            bounds = self.model.bounds(images, self.iwae_k, generator=self.generator)
            self._add("elbo", bounds.elbo)
            self._add("iwae", bounds.iwae)
            self._add("bits_per_dim", losses.bits_per_dim(-bounds.iwae, images[0].numel(),
                                                          self.model.likelihood.density_bins))
        if hasattr(self.model, "encode_codes") and not self.is_prior:
            for level, codes in _code_levels(self.model.encode_codes(images)).items():
                self.usage.setdefault(level, CodeUsage(self.model.config.num_codes)).add(codes)
        if self.is_prior:  # over a VQ-VAE-2: the top map, or the bottom map given the top one
            codes, prior_condition = prior_inputs(self.model, self.vqvae.encode_codes(images), condition)  # (B, h, w)
            log_prob = self.model.log_prob(codes, prior_condition)  # (B,) nats per map
            self._add("nats_per_code", -log_prob / codes[0].numel())
        if hasattr(self.model, "score") and batch.captions is not None:
            self._add("score", self.model.score(images, batch.captions))

    def _mmd_to_prior(self, codes: torch.Tensor) -> float:
        """Unbiased MMD^2 between the codes (N, L) of a deterministic autoencoder and N draws of N(0, I), with
        the inverse multiquadratic kernel at C = 2 L (Tolstikhin et al. 2018): near 0 when the codes follow the
        prior a WAE samples from; large for a plain AE."""
        generator = torch.Generator().manual_seed(int(self.generator.initial_seed()))
        prior = torch.randn(codes.shape, generator=generator)  # (N, L)
        return float(losses.unbiased_mmd(codes.double(), prior.double(), "imq", (2.0 * codes.shape[1],)))

    def summary(self) -> dict[str, Any]:
        result: dict[str, Any] = {"model_type": self.model.model_type, "images": self.images}
        result.update({name: mean.value for name, mean in self.means.items()})
        if self.is_vae and "iwae" in result:
            result["iwae_k"] = self.iwae_k
            result["nll"] = -result["iwae"]
            result["bits_per_dim"] = float(losses.bits_per_dim(
                torch.tensor(result["nll"]), self.model.config.num_dimensions, self.model.likelihood.density_bins))
            seconds = self.seconds.get("bounds", 0.0)
            result["bounds_seconds_per_1000_images"] = 1000 * seconds / max(self.images, 1)
        if self.is_dvae and "iwae" in result:
            result["iwae_k"] = self.iwae_k
            result["nll"] = -result["iwae"]
        if self.units is not None and self.images:
            result.update(self.units.summary())
            result["kl"] = float(sum(result["kl_per_dimension"]))
        if self.codes is not None and self.images >= 2:
            result["mmd_to_prior"] = self._mmd_to_prior(torch.cat(self.codes))
        if "nats_per_code" in result:
            result["bits_per_code"] = nats_to_bits(result["nats_per_code"])
        for level, usage in self.usage.items():
            result["codebook" + (f"_{level}" if level else "")] = usage.summary()
        return result


def evaluate(
    model: StudioModel,
    source,
    batch_size: int = 64,
    iwae_k: int = 0,
    limit: int | None = None,
    vqvae: StudioModel | None = None,
    seed: int = 0,
    num_workers: int = 0,
) -> dict[str, Any]:
    """Every metric ``model`` supports over ``source`` (first ``limit`` images), as a JSON-ready dict.

    iwae_k: importance samples for the VAE bounds (0 skips them). vqvae: a prior's frozen VQ-VAE.
    The model is put in eval mode (and back); results depend only on the data, the model and ``seed``.
    """
    from torch.utils.data import DataLoader, Subset

    count = len(source) if limit is None else min(limit, len(source))
    subset = source if count == len(source) else Subset(source, range(count))
    loader = DataLoader(subset, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=collate)
    was_training = model.training
    model.eval()
    if vqvae is not None:
        vqvae.eval()
    started = time.perf_counter()
    try:
        evaluation = Evaluation(model, iwae_k, vqvae, seed)
        for batch in loader:
            evaluation.add(batch)
    finally:
        model.train(was_training)
    result = evaluation.summary()
    result["seconds"] = time.perf_counter() - started
    result["images_per_second"] = result["images"] / result["seconds"] if result["seconds"] > 0 else math.nan
    return result
