"""Class to image: a label -> a class-conditional PixelCNN prior over the code map -> the VQ-VAE decoder.

A ``class_to_image`` bundle (``mnist-vqvae``: a VQ-VAE of MNIST, 28x28 -> 7x7 codes, and a gated PixelCNN prior
conditioned on the digit) draws a chosen class::

    pipeline = ClassToImage(vaestudio.load("mnist-vqvae"))
    threes = pipeline("3", num_images=4, seed=0)          # or pipeline(3): a class name or index
    redrawn = pipeline.inpaint(picture, mask, label="8")  # the painted region redrawn as an eight

Sampling is one cached ``pixelcnn_sample`` call (``vaestudio.ops``) for all the maps, then one decode. Inpainting
resamples only the code cells under the mask, from the prior given the label and every code before them in raster
order; every other code is kept exactly (the op's ``fixed_codes`` / ``resample_mask``). The mask policy is the
text inpainter's (:mod:`vaestudio.pipelines.inpainting`).

Labels: a class index (an int) or a class name (``"3"``); ``None`` draws the classes in turn (0, 1, 2, ...), one per
image or candidate. The class names are the bundle's ``class_names`` option, else the label names of the prior's
training data, else "0".."K-1". The temperature is the request's, else the bundle's ``temperature`` option, else 1.
"""

from __future__ import annotations

import dataclasses
import operator

import torch

from vaestudio.checkpoints import Bundle
from vaestudio.common import limits
from vaestudio.data.catalogue import label_names
from vaestudio.hub import training_data
from vaestudio.models.base import StudioModel
from vaestudio.pipelines.convert import to_pil
from vaestudio.pipelines.inpainting import InpaintingResult, masked_code_map
from vaestudio.pipelines.text_to_image import GeneratedImage, ImageSequence, check_range, check_temperature

Label = int | str | None


@dataclasses.dataclass
class ClassToImageResult(ImageSequence):
    """The images in sampling order and the class index each was drawn as; iterates over the images."""

    images: list[GeneratedImage]
    labels: list[int]


@dataclasses.dataclass
class ClassInpaintingResult(InpaintingResult):
    labels: list[int] = dataclasses.field(default_factory=list)  # the class each candidate was drawn as


def prior_class_names(prior: StudioModel, options: dict | None = None) -> list[str]:
    """A class-conditional prior's class names (module docstring), one per class index."""
    count = int(prior.config.num_classes)
    names = (options or {}).get("class_names") or label_names((training_data(prior) or {}).get("source"))
    return [str(name) for name in names] if names is not None and len(names) == count else [
        str(index) for index in range(count)]


class ClassToImage:
    """``ClassToImage(bundle)`` or ``ClassToImage(vqvae, prior)``; call it with a label."""

    def __init__(self, vqvae: StudioModel | Bundle, prior: StudioModel | None = None,
                 options: dict | None = None) -> None:
        """options: a class_to_image bundle's options (``class_names``, ``temperature``)."""
        options = dict(options or {})
        if isinstance(vqvae, Bundle):
            bundle = vqvae
            vqvae, prior = bundle["vqvae"], bundle["prior"]
            options = {**bundle.options, **options}
        if prior is None:
            raise ValueError("class to image needs a VQ-VAE and a class-conditional PixelCNN prior "
                             "(a class_to_image bundle such as 'mnist-vqvae')")
        if prior.config.condition != "class":
            raise ValueError(f"class to image needs a class-conditional prior; this one is conditioned on "
                             f"{prior.config.condition!r} (a text prior goes with TextToImage)")
        if getattr(vqvae.config, "levels", 1) != 1:
            raise ValueError("class to image samples one code map: use a one-level VQ-VAE")
        if prior.config.num_codes != vqvae.config.num_codes:
            raise ValueError(
                f"the prior models {prior.config.num_codes} codes but the VQ-VAE has {vqvae.config.num_codes}"
            )
        self.vqvae, self.prior = vqvae.eval(), prior.eval()
        self.class_names = prior_class_names(prior, options)
        self.temperature = check_temperature(options.get("temperature", 1.0))
        self.code_map_shape = tuple(vqvae.code_map_shape)  # (h, w)

    # -- labels ------------------------------------------------------------------------------
    def label_index(self, label: int | str) -> int:
        """A class name or index -> the class index; a ValueError naming the classes otherwise."""
        names = self.class_names
        if isinstance(label, str):
            if label in names:
                return names.index(label)
            raise ValueError(f"this model draws the classes {', '.join(names)}; {label!r} is not one of them")
        try:
            index = operator.index(label) if not isinstance(label, bool) else None
        except TypeError:
            index = None
        if index is None:
            raise ValueError(f"a label is a class index or one of the class names {', '.join(names)}; got {label!r}")
        if not 0 <= index < len(names):
            raise ValueError(f"label {index} is out of range: this model draws {len(names)} classes, "
                             f"0 to {len(names) - 1} ({', '.join(names)})")
        return index

    def labels(self, label: Label, count: int) -> torch.Tensor:
        """The class index of each of ``count`` maps (count,) int64: ``label`` for all, or the classes in turn."""
        if label is None:
            return torch.arange(count, dtype=torch.int64) % len(self.class_names)  # (count,)
        return torch.full((count,), self.label_index(label), dtype=torch.int64)  # (count,)

    def _sampling(self, temperature: float | None, top_k: int) -> tuple[float, int]:
        check_range("top_k", top_k, 0, self.prior.config.num_codes)
        return (self.temperature if temperature is None else check_temperature(temperature)), int(top_k)

    def _decoded(self, codes: torch.Tensor) -> list[GeneratedImage]:
        """Code maps (N, h, w) -> their decoded pictures, in order."""
        pictures = to_pil(self.vqvae.decode_codes(codes))  # from (N, C, H, W)
        return [GeneratedImage(picture, None, map_.clone()) for picture, map_ in zip(pictures, codes)]

    # -- drawing -------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, label: Label = None, num_images: int = 4, seed: int = 0, temperature: float | None = None,
                 top_k: int = 0) -> ClassToImageResult:
        """``num_images`` images of class ``label`` (None: the classes in turn); the same seed, the same images."""
        count = check_range("num_images", num_images, *limits.IMAGES)
        temperature, top_k = self._sampling(temperature, top_k)
        labels = self.labels(label, count)  # (N,)
        height, width = self.code_map_shape
        codes = self.prior.sample(labels, height, width, float(temperature), top_k, int(seed))  # (N, h, w)
        return ClassToImageResult(self._decoded(codes), labels.tolist())

    @torch.no_grad()
    def inpaint(self, image, mask, label: Label = None, num_candidates: int = 4, seed: int = 0,
                temperature: float | None = None, top_k: int = 0, num_results: int | None = None,
                ) -> ClassInpaintingResult:
        """The painted region of ``image`` redrawn as class ``label`` (None: each candidate another class, in
        turn), ``num_candidates`` times; the codes outside the painted cells are kept exactly."""
        count = check_range("num_candidates", num_candidates, *limits.INPAINT_CANDIDATES)
        num_results = count if num_results is None else min(int(num_results), count)
        temperature, top_k = self._sampling(temperature, top_k)
        labels = self.labels(label, count)  # (R,): checks the label before any work
        codes, cells = masked_code_map(self.vqvae, image, mask, self.code_map_shape)  # (h, w) each
        if not bool(cells.any()):
            warning = "the mask is empty: nothing to inpaint, the reconstruction is returned"
            return ClassInpaintingResult(self._decoded(codes[None]), cells, codes, [warning], labels[:1].tolist())
        height, width = self.code_map_shape
        resampled = self.prior.sample(
            labels, height, width, float(temperature), top_k, int(seed),
            fixed_codes=codes.expand(count, height, width).contiguous(),
            resample_mask=cells.expand(count, height, width).contiguous(),
        )  # (R, h, w)
        chosen = slice(0, num_results)
        return ClassInpaintingResult(self._decoded(resampled[chosen]), cells, codes, [], labels[chosen].tolist())
