"""Measures what a class_to_image bundle's card claims, judged by the label classifier
(vaestudio.evaluation.label_classifier, trained on the data's train split), and draws the card's figure.

    python scripts/class_to_image_checks.py pretrained/mnist-vqvae --data mnist --out runs/zoo/checks/mnist-vqvae

Writes OUT/checks.json (the bundle's --evaluation file for scripts/ship_zoo.py) and OUT/samples.png:
- label_classifier: its accuracy on the real test digits;
- reconstructions: the share of the VQ-VAE's reconstructions of the whole test split read as their label
  (the ceiling for what the decoder can draw);
- class_samples and inpainting: see vaestudio.evaluation.class_to_image (at the bundle's default temperature,
  sampling_temperature).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's vaestudio
from vaestudio.data import open_source
from vaestudio.data.source import collate
from vaestudio.evaluation.class_to_image import class_sample_report, inpainting_report
from vaestudio.evaluation.label_classifier import train_label_classifier
from vaestudio.hub import load
from vaestudio.pipelines.class_to_image import ClassToImage
from vaestudio.pipelines.convert import grid


def test_split(spec: str, count: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    source = open_source(spec, "test")
    batch = collate([source[index] for index in range(min(count or len(source), len(source)))])
    return batch.images, batch.labels  # (N, C, S, S), (N,)


@torch.no_grad()
def reconstruction_report(pipeline: ClassToImage, classifier, images: torch.Tensor, labels: torch.Tensor) -> dict:
    read = 0
    for start in range(0, len(labels), 500):
        decoded = pipeline.vqvae.decode_codes(pipeline.vqvae.encode_codes(images[start : start + 500]))  # (b, C, S, S)
        read += int((classifier.predict(decoded.clamp(0, 1)) == labels[start : start + 500]).sum())
    return {"read_as_label": read / len(labels), "images": len(labels)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", help="a class_to_image bundle: a folder or a shipped name")
    parser.add_argument("--data", default="mnist", help="the labelled data the classifier learns (its train split)")
    parser.add_argument("--samples-per-class", type=int, default=100)
    parser.add_argument("--inpaint-images", type=int, default=500, help="the first N test images are inpainted")
    parser.add_argument("--out", default="runs/zoo/checks/mnist-vqvae")
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    torch.manual_seed(0)
    pipeline = ClassToImage(load(arguments.bundle))
    classifier = train_label_classifier(arguments.data)
    print(f"classifier: {classifier.test_accuracy:.4f} test accuracy on {arguments.data}", file=sys.stderr)
    images, labels = test_split(arguments.data)
    report = {
        "label_classifier": {"test_accuracy": classifier.test_accuracy},
        "reconstructions": reconstruction_report(pipeline, classifier, images, labels),
        "class_samples": class_sample_report(pipeline, classifier, arguments.samples_per_class),
        "inpainting": inpainting_report(pipeline, classifier, images[: arguments.inpaint_images],
                                        labels[: arguments.inpaint_images]),
    }
    report["sampling_temperature"] = pipeline.temperature  # the bundle's default, used throughout
    report["checks_seconds"] = time.perf_counter() - started
    os.makedirs(arguments.out, exist_ok=True)
    with open(os.path.join(arguments.out, "checks.json"), "w", encoding="utf-8") as stream:
        json.dump(report, stream, indent=2, sort_keys=True)
        stream.write("\n")
    pictures = [item.image for label in range(len(pipeline.class_names))
                for item in pipeline(label, num_images=10, seed=label)]  # a row of ten per class
    grid(pictures, columns=10, gap=1).save(os.path.join(arguments.out, "samples.png"))
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
