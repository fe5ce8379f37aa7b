"""The class_to_image measures on a tiny untrained bundle, judged by a stub classifier whose answers are known."""

from __future__ import annotations

import torch

from tests.pipelines.conftest import make_tiny_class_bundle
from vaestudio.evaluation.class_to_image import class_sample_report, inpainting_report
from vaestudio.pipelines.class_to_image import ClassToImage


class ReadsEverythingAs:
    """A classifier that reads every picture as one class."""

    def __init__(self, label: int) -> None:
        self.label = label

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return torch.full((images.shape[0],), self.label, dtype=torch.int64)


def test_class_samples_are_counted_per_class_drawn():
    report = class_sample_report(ClassToImage(make_tiny_class_bundle()), ReadsEverythingAs(3), samples_per_class=3)
    assert report["samples"] == 30 and abs(report["read_as_class"] - 0.1) < 1e-9
    assert report["per_class"]["3"] == 1.0 and sum(report["per_class"].values()) == 1.0


def test_inpainting_keeps_every_unpainted_code_and_counts_the_labels_read():
    pipeline = ClassToImage(make_tiny_class_bundle())
    images = torch.rand(6, 1, 8, 8)  # (N, 1, S, S)
    labels = torch.tensor([3, 3, 0, 1, 2, 5])
    report = inpainting_report(pipeline, ReadsEverythingAs(3), images, labels, seed=1)
    assert report["images"] == 6 and report["painted_code_fraction"] == 0.5  # code rows 2 and 3 of 4
    own, other = report["as_own_class"], report["as_another_class"]
    assert abs(own["read_as_label"] - 2 / 6) < 1e-9  # the two threes, inpainted as threes
    assert own["unpainted_codes_kept"] == other["unpainted_codes_kept"] == 1.0
    assert 0.0 <= other["unpainted_codes_kept_after_reencoding"] <= 1.0
    assert other["read_as_label"] <= 4 / 6  # the threes were redrawn as other classes, never as three
