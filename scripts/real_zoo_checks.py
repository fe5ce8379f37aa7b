"""Measures what the real-data zoo's cards claim, judged by a label classifier trained on the train split
(vaestudio.evaluation.label_classifier), and draws the cards' figures.

    python scripts/real_zoo_checks.py mnist --vae-2d runs/zoo/mnist-vae-2d --cvae runs/zoo/mnist-cvae \
        --out runs/zoo/checks
    python scripts/real_zoo_checks.py fashion-mnist --attributes runs/zoo/fashion-vae --attribute Trouser \
        --out runs/zoo/checks

Writes OUT/MODEL/checks.json and OUT/MODEL/*.png (the cards' figures), per model:
- 2-D VAE: which digits the 15 x 15 manifold shows (the classifier's reading of each tile), the
  manifold and the test set's latent scatter (5,000 points);
- CVAE: test digits encoded with their own label and decoded with each of the ten (the share the
  classifier reads as the new label), samples per class, and the style-transfer figure;
- attribute vectors: P(attribute) of test images without it as the vector is added at strengths 0..2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's vaestudio
from PIL import Image

from vaestudio.data import open_source
from vaestudio.evaluation.label_classifier import LabelClassifier, pictures_to_tensor, train_label_classifier
from vaestudio.hub import load
from vaestudio.pipelines.convert import grid
from vaestudio.pipelines.editing import Editor


def tiles(picture: Image.Image, count: int) -> list[Image.Image]:
    size = picture.width // count
    return [picture.crop((column * size, row * size, (column + 1) * size, (row + 1) * size))
            for row in range(count) for column in range(count)]


def test_images(spec: str, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    source = open_source(spec, "test")
    images = torch.stack([source[index].image for index in range(count)])  # (N, 1, S, S)
    labels = torch.tensor([source[index].label for index in range(count)])  # (N,)
    return images, labels


def check_manifold(model_dir: str, classifier: LabelClassifier, spec: str, out: str) -> dict:
    editor = Editor(load(model_dir))
    count = 15
    picture = editor.manifold_grid(count)
    picture.resize((picture.width * 2, picture.height * 2), Image.NEAREST).save(os.path.join(out, "manifold.png"))
    probabilities = classifier.probabilities(pictures_to_tensor(tiles(picture, count)))  # (225, L)
    predicted = probabilities.argmax(1)
    counts = np.bincount(predicted.numpy(), minlength=len(classifier.label_names))
    from studio.engine_api import LatentScatter
    from studio.plots import draw_scatter

    scatter = editor.latent_scatter(spec, 5000)
    points = np.asarray(scatter.points)
    drawn, _ = draw_scatter(LatentScatter(points[:, 0].tolist(), points[:, 1].tolist(), scatter.labels, "z1", "z2",
                                          None))
    drawn.save(os.path.join(out, "scatter.png"))
    return {"manifold_tiles": count * count,
            "manifold_classes_shown": int((counts > 0).sum()),
            "manifold_tiles_per_class": {name: int(value) for name, value in zip(classifier.label_names, counts)},
            "manifold_mean_confidence": float(probabilities.max(1).values.mean())}


def check_cvae(model_dir: str, classifier: LabelClassifier, spec: str, out: str, count: int = 1000) -> dict:
    model = load(model_dir)
    editor = Editor(model)
    images, labels = test_images(spec, count)
    latents = editor.space.encode(images, labels)  # (N, 2): the style, with the label given
    classes = len(classifier.label_names)
    hits = []
    for target in range(classes):
        decoded = pictures_to_tensor(editor.decode_flat(latents, target))
        hits.append(float((classifier.predict(decoded) == target).float().mean()))
    samples_per_class = 100
    sample_hits = []
    for target in range(classes):
        pictures = editor.sample(samples_per_class, seed=target, condition=torch.full((samples_per_class,), target))
        sample_hits.append(float((classifier.predict(pictures_to_tensor(pictures)) == target).float().mean()))
    rows = []  # style transfer figure: a test digit, then its style drawn as every class
    for index in range(8):
        source_picture = Image.fromarray((images[index, 0].numpy() * 255).astype(np.uint8)).convert("RGB")
        decodes = editor.decode_flat(latents[index : index + 1].expand(classes, -1), torch.arange(classes))
        rows += [source_picture] + decodes
    figure = grid(rows, columns=classes + 1, gap=2)
    figure.resize((figure.width * 2, figure.height * 2), Image.NEAREST).save(os.path.join(out, "style_transfer.png"))
    for digit in (3, 8):
        manifold = editor.manifold_grid(12, condition=digit)
        manifold.save(os.path.join(out, f"manifold_{digit}.png"))
    return {"style_transfer_images": count,
            "style_transfer_accuracy": float(np.mean(hits)),
            "style_transfer_accuracy_per_class": dict(zip(classifier.label_names, hits)),
            "class_samples_accuracy": float(np.mean(sample_hits)),
            "class_samples_per_class": samples_per_class}


def check_attributes(model_dir: str, classifier: LabelClassifier, spec: str, attribute: str, out: str,
                     count: int = 500) -> dict:
    editor = Editor(load(model_dir))
    vectors = editor.attribute_vectors()
    if attribute not in vectors:
        raise SystemExit(f"no attribute {attribute!r}; the model has {sorted(vectors)}")
    names = classifier.label_names
    images, labels = test_images(spec, 3 * count)
    strengths = [0.0, 0.5, 1.0, 1.5, 2.0]
    result: dict = {"attribute": attribute, "attribute_strengths": strengths}
    for name in names:
        target = names.index(name)
        chosen = images[labels != target][:count]
        flat = editor.space.flatten(editor.space.encode(chosen))  # (n, F)
        probabilities = []
        for strength in strengths if name == attribute else [0.0, 1.0]:
            decoded = pictures_to_tensor(editor.decode_flat(flat + strength * vectors[name]))
            probabilities.append(float(classifier.probabilities(decoded)[:, target].mean()))
        key = "attribute_probability" if name == attribute else f"attribute_probability_{name}"
        result[key] = probabilities
    chosen = images[labels != names.index(attribute)][:8]
    flat = editor.space.flatten(editor.space.encode(chosen))
    rows = []
    for index in range(len(chosen)):
        rows += editor.decode_flat(flat[index : index + 1] + torch.tensor(strengths)[:, None] * vectors[attribute])
    figure = grid(rows, columns=len(strengths), gap=2)
    figure.resize((figure.width * 2, figure.height * 2), Image.NEAREST).save(os.path.join(out, "attribute.png"))
    return result


def save(out: str, name: str, result: dict, classifier: LabelClassifier) -> None:
    folder = os.path.join(out, name)
    result = {"classifier_test_accuracy": classifier.test_accuracy, **result}
    with open(os.path.join(folder, "checks.json"), "w", encoding="utf-8") as stream:
        json.dump(result, stream, indent=2)
        stream.write("\n")
    print(json.dumps({name: result}, indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="mnist or fashion-mnist: the classifier's training data")
    parser.add_argument("--vae-2d")
    parser.add_argument("--cvae")
    parser.add_argument("--attributes")
    parser.add_argument("--attribute", default="Trouser")
    parser.add_argument("--out", default="runs/zoo/checks")
    arguments = parser.parse_args(argv)
    torch.manual_seed(0)
    classifier = train_label_classifier(arguments.data)
    print(f"classifier: {classifier.test_accuracy:.4f} test accuracy on {arguments.data}", file=sys.stderr)
    jobs = [("vae_2d", arguments.vae_2d, lambda path, out: check_manifold(path, classifier, arguments.data, out)),
            ("cvae", arguments.cvae, lambda path, out: check_cvae(path, classifier, arguments.data, out)),
            ("attributes", arguments.attributes,
             lambda path, out: check_attributes(path, classifier, arguments.data, arguments.attribute, out))]
    for _, path, check in jobs:
        if not path:
            continue
        name = os.path.basename(os.path.normpath(path))
        folder = os.path.join(arguments.out, name)
        os.makedirs(folder, exist_ok=True)
        save(arguments.out, name, check(path, folder), classifier)
    return 0


if __name__ == "__main__":
    sys.exit(main())
