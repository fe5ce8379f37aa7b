"""Preview grids of a model while it trains: reconstructions of fixed images, and samples.

A preview leaves no trace: it runs in eval mode without gradients, on its own seeded
generators (the global RNG is forked and restored) and puts every buffer back, so drawing
previews more or less often never changes the training run.
"""

from __future__ import annotations

import contextlib
import dataclasses

import torch
from PIL import Image

from vaestudio.common.batch import Batch
from vaestudio.evaluation.report import batch_condition
from vaestudio.models.base import StudioModel
from vaestudio.models.bottom_prior import TopCondition
from vaestudio.models.outputs import Hierarchy
from vaestudio.training.plots import image_grid, side_by_side

MIN_TILE = 32  # pixels: smaller images are enlarged (nearest neighbour) so a grid stays readable


@dataclasses.dataclass
class Preview:
    reconstructions: Image.Image | None = None  # originals and reconstructions, row by row
    samples: Image.Image | None = None

    @property
    def combined(self) -> Image.Image | None:
        """One picture for a progress callback: samples when the model draws them, else reconstructions."""
        return self.samples or self.reconstructions


@contextlib.contextmanager
def traceless(model: StudioModel):
    """Eval mode, no gradients, forked RNG; buffers and the training flag restored afterwards."""
    saved = {name: buffer.detach().clone() for name, buffer in model.named_buffers()}
    was_training = model.training
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            model.eval()
            yield
    finally:
        model.train(was_training)
        with torch.no_grad():
            for name, buffer in model.named_buffers():
                buffer.copy_(saved[name])


def make_preview(model: StudioModel, batch: Batch, vqvae: StudioModel | None = None, seed: int = 0) -> Preview:
    """Reconstructions of ``batch.images`` (when the model reconstructs) and as many samples (when it samples)."""
    preview = Preview()
    count, height = batch.images.shape[0], batch.images.shape[-1]
    scale = max(1, MIN_TILE // height)  # 8 x 8 digits are drawn at 32 x 32
    condition = batch_condition(model, batch)
    with traceless(model):
        if hasattr(model, "reconstruct") and vqvae is None:
            reconstructions = _reconstruct(model, batch.images, condition)
            preview.reconstructions = side_by_side(batch.images, reconstructions, scale=scale)
        images = _samples(model, count, condition, vqvae, seed, batch)
        if images is not None:
            preview.samples = image_grid(images, scale=scale)
    return preview


def _reconstruct(model: StudioModel, images: torch.Tensor, condition) -> torch.Tensor:
    if condition is None:
        return model.reconstruct(images)  # (B, C, H, W)
    return model.reconstruct(images, condition)  # (B, C, H, W)


def _samples(model: StudioModel, count: int, condition, vqvae: StudioModel | None, seed: int,
             batch: Batch) -> torch.Tensor | None:
    if vqvae is not None and batch.top_codes is not None:  # a bottom prior: new bottom maps under the batch's top
        height, width = batch.codes.shape[1:]
        codes = model.sample(TopCondition(batch.top_codes, condition), height=height, width=width, seed=seed)
        return vqvae.decode_codes(Hierarchy(batch.top_codes, codes))  # (B, C, H, W)
    if vqvae is not None and getattr(vqvae.config, "levels", 1) == 2:
        return None  # a top prior alone draws no picture: its bottom prior does that (pipelines.two_level)
    if vqvae is not None and batch.codes is not None:  # a prior: sample code maps, decode with the VQ-VAE
        height, width = batch.codes.shape[1:]
        codes = model.sample(condition if condition is not None else count, height=height, width=width,
                             seed=seed)  # (B, h, w)
        return vqvae.decode_codes(codes)  # (B, C, H, W)
    if model.model_type in ("vae", "wae"):  # the models with a N(0, I) prior to sample
        generator = torch.Generator(device=batch.images.device).manual_seed(seed)
        return model.sample(count, condition=condition, generator=generator)  # (B, C, H, W)
    return None
