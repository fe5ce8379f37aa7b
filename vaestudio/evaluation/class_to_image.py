"""What a class_to_image bundle (``mnist-vqvae``) draws, judged by a label classifier (:mod:`label_classifier`).

- class samples: ``samples_per_class`` maps drawn from the class prior for every class (through
  :class:`~vaestudio.pipelines.class_to_image.ClassToImage`), decoded; the share the classifier reads as the class
  drawn, overall and per class;
- inpainting: test images with their bottom half painted (every code row that the half touches) are inpainted,
  one candidate each, through ``ClassToImage.inpaint``: as another class (a seeded shift of the true label by 1..9)
  and, as a control, as their own class. Reported: the share read as the inpainting label, the share of unpainted
  codes the sampled maps keep (exactly all, by construction: the op fixes them), and the share that survives
  decoding and encoding the inpainted image again (how seamlessly the redrawn half joins the kept one).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from vaestudio.common import limits
from vaestudio.data.images import to_model_input
from vaestudio.evaluation.label_classifier import pictures_to_tensor
from vaestudio.pipelines.class_to_image import ClassToImage
from vaestudio.pipelines.convert import to_pil


def _read_share(classifier, pictures: list[Image.Image], labels: list[int]) -> float:
    predicted = classifier.predict(pictures_to_tensor(pictures))  # (N,)
    return int((predicted == torch.tensor(labels)).sum()) / len(labels)


def class_sample_report(pipeline: ClassToImage, classifier, samples_per_class: int, seed: int = 0,
                        temperature: float | None = None) -> dict:
    """The share of class samples that the classifier reads as the class drawn, overall and per class name."""
    per_class, pictures_all, labels_all = {}, [], []
    largest = limits.IMAGES[1]
    for label, name in enumerate(pipeline.class_names):
        pictures = []
        for start in range(0, samples_per_class, largest):
            count = min(largest, samples_per_class - start)
            result = pipeline(label, num_images=count, seed=seed + 1000 * label + start, temperature=temperature)
            pictures += [item.image for item in result]
        per_class[name] = _read_share(classifier, pictures, [label] * len(pictures))
        pictures_all += pictures
        labels_all += [label] * len(pictures)
    return {"read_as_class": _read_share(classifier, pictures_all, labels_all), "samples": len(pictures_all),
            "per_class": per_class}


def bottom_half_mask(size: int) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, (0, size // 2, size, size))
    return mask


def inpainting_report(pipeline: ClassToImage, classifier, images: torch.Tensor, labels: torch.Tensor,
                      seed: int = 0, temperature: float | None = None) -> dict:
    """images (N, 1, S, S) in [0, 1] with their labels (N,): their bottom halves redrawn as another class and as
    their own (module docstring)."""
    count = len(pipeline.class_names)
    shifts = np.random.default_rng(seed).integers(1, count, size=len(labels))  # (N,) in 1..K-1: never the label
    targets = [(int(label) + int(shift)) % count for label, shift in zip(labels, shifts)]
    mask = bottom_half_mask(images.shape[-1])
    config = pipeline.vqvae.config
    report = {"images": int(len(labels))}
    for name, wanted in (("as_another_class", targets), ("as_own_class", [int(label) for label in labels])):
        pictures, kept, kept_after_reencoding, painted = [], 0, 0, 0
        for index, picture in enumerate(to_pil(images)):
            result = pipeline.inpaint(picture, mask, wanted[index], num_candidates=1, seed=seed + index,
                                      temperature=temperature)
            unpainted = ~result.code_mask  # (h, w)
            codes = result[0].codes  # (h, w)
            redrawn = to_model_input(result[0].image, config.image_size, config.image_channels)[None]  # (1, C, S, S)
            again = pipeline.vqvae.encode_codes(redrawn)[0]  # (h, w)
            kept += int((codes[unpainted] == result.original_codes[unpainted]).sum())
            kept_after_reencoding += int((again[unpainted] == result.original_codes[unpainted]).sum())
            painted += int(result.code_mask.sum())
            pictures.append(result[0].image)
        unpainted_total = len(pictures) * result.code_mask.numel() - painted
        report[name] = {
            "read_as_label": _read_share(classifier, pictures, wanted),
            "unpainted_codes_kept": kept / unpainted_total,
            "unpainted_codes_kept_after_reencoding": kept_after_reencoding / unpainted_total,
        }
    report["painted_code_fraction"] = painted / (len(labels) * result.code_mask.numel())
    return report

