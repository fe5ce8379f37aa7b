"""A small classifier of a labelled source (the built-in digits, or MNIST), trained on first use and cached.

Softmax regression on the pixels, full-batch Adam with weight decay: a few hundred milliseconds on the
8x8 digits, ~90 % test accuracy. The lessons use it as a reader: which class a decode looks like, and how
confident that reading is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vaestudio.data import open_source
from vaestudio.data.source import collate
from vaestudio.lessons.cache import cached

STEPS = 400
CONFIDENT = 0.9  # a reading with at least this probability counts as "read as a digit"


@dataclass(frozen=True)
class Classifier:
    weight: torch.Tensor  # (K, D)
    bias: torch.Tensor  # (K,)
    test_accuracy: float

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """images (N, C, H, W) in [0, 1] -> class probabilities (N, K)."""
        return torch.softmax(images.flatten(1).float() @ self.weight.T + self.bias, dim=1)


def _arrays(spec: str, split: str, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    source = open_source(spec, split=split, image_size=image_size)
    batch = collate([source[index] for index in range(len(source))])
    if batch.labels is None:
        raise ValueError(f"{spec} has no labels to train a classifier on")
    return batch.images.flatten(1), batch.labels


def _train(spec: str, image_size: int) -> dict[str, np.ndarray]:
    images, labels = _arrays(spec, "train", image_size)  # (N, D), (N,)
    generator = torch.Generator().manual_seed(0)
    classes = int(labels.max()) + 1
    weight = (0.01 * torch.randn(classes, images.shape[1], generator=generator)).requires_grad_(True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=0.05, weight_decay=1e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a few hundred tiny steps: more threads only contend (46 ms a step on a busy CPU)
    try:
        with torch.enable_grad():  # a lesson may ask for the classifier from inside torch.no_grad()
            for _ in range(STEPS):
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(images @ weight.T + bias, labels).backward()
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
    test_images, test_labels = _arrays(spec, "test", image_size)
    with torch.no_grad():
        accuracy = float(((test_images @ weight.T + bias).argmax(1) == test_labels).float().mean())
    return {"weight": weight.detach().numpy(), "bias": bias.detach().numpy(), "test_accuracy": accuracy}


_classifiers: dict[tuple[str, int], Classifier] = {}


def classifier_for(model) -> Classifier:
    """The classifier of the data ``model`` was trained on (its recipe's source), at the model's image size."""
    from vaestudio.hub import training_data

    data = training_data(model)
    if data is None:
        raise ValueError("the model's training data is unknown (no recipe.toml beside its weights): "
                         "a lesson cannot train a classifier of it")
    return classifier(data["source"], int(model.config.image_size))


def classifier(spec: str = "digits", image_size: int = 8) -> Classifier:
    """The classifier of ``spec`` at ``image_size``, trained once and cached (per process and on disk)."""
    if (spec, image_size) not in _classifiers:
        arrays = cached("digit-classifier", (), {"spec": spec, "image_size": image_size, "steps": STEPS},
                        lambda: _train(spec, image_size))
        _classifiers[spec, image_size] = Classifier(torch.from_numpy(arrays["weight"]),
                                                    torch.from_numpy(arrays["bias"]), float(arrays["test_accuracy"]))
    return _classifiers[spec, image_size]
