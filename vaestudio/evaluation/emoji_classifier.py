"""The judge of text to emoji: a small convolutional classifier trained on real train-split emoji that reads
two things from a 64 x 64 image, its CLDR subgroup (about 100: "face-smiling", "animal-mammal", ...) and
its style (noto, twemoji, openmoji).

Network: the image average-pooled to ``input_size`` (32 x 32: a quarter of the cost, and subgroup and
style still show), four stride-2 3x3 convolutions (SiLU) down to 2 x 2, global average pooling, dropout
and two linear heads; the loss is the sum of the two cross-entropies. Training images are shifted by up to
``max_shift`` pixels (white fill) and mirrored left-right at random, so the judge reads what an emoji
shows rather than where its pixels sit. Its accuracy on the real held-out emoji (never seen in any
style) is measured after training and saved with it: the yardstick for generated images.

Saved as ``classifier.safetensors`` + ``classifier.json`` (names, settings, accuracies); nothing pickled.

    python -m vaestudio.evaluation.emoji_classifier --out runs/emoji-classifier --epochs 5
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from vaestudio.data import open_source
from vaestudio.data.emoji_packages import STYLE_NAMES

WEIGHTS_FILE, SETTINGS_FILE = "classifier.safetensors", "classifier.json"


@dataclasses.dataclass
class ClassifierSettings:
    subgroup_names: list[str]
    style_names: list[str]
    channels: tuple[int, ...] = (24, 48, 96, 128)
    image_size: int = 64
    input_size: int = 32  # images are average-pooled to this size first
    dropout: float = 0.2


class EmojiClassifierNetwork(nn.Module):
    """images (B, 3, S, S) in [0, 1] -> (subgroup logits (B, G), style logits (B, 3))."""

    def __init__(self, settings: ClassifierSettings) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = 3
        for width in settings.channels:
            layers += [nn.Conv2d(previous, width, kernel_size=3, stride=2, padding=1), nn.SiLU()]
            previous = width
        self.features = nn.Sequential(*layers)
        self.input_size = settings.input_size
        self.dropout = nn.Dropout(settings.dropout)
        self.subgroup_head = nn.Linear(previous, len(settings.subgroup_names))
        self.style_head = nn.Linear(previous, len(settings.style_names))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images.shape[-1] != self.input_size:
            images = F.adaptive_avg_pool2d(images, self.input_size)  # (B, 3, input_size, input_size)
        pooled = self.features(2.0 * images - 1.0).mean(dim=(2, 3))  # (B, C)
        pooled = self.dropout(pooled)  # (B, C)
        return self.subgroup_head(pooled), self.style_head(pooled)  # (B, G), (B, 3)


@dataclasses.dataclass
class EmojiClassifier:
    network: EmojiClassifierNetwork
    settings: ClassifierSettings
    accuracy: dict  # on real held-out emoji: {"subgroup": ..., "style": ..., "images": ...}

    @torch.no_grad()
    def read(self, images: torch.Tensor, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, 3, S, S) in [0, 1] -> (subgroup ids (B,), style ids (B,))."""
        self.network.eval()
        subgroups, styles = [], []
        for start in range(0, len(images), batch_size):
            subgroup_logits, style_logits = self.network(images[start:start + batch_size].float())
            subgroups.append(subgroup_logits.argmax(1))
            styles.append(style_logits.argmax(1))
        return torch.cat(subgroups), torch.cat(styles)  # (B,), (B,)

    def save(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        save_file({name: tensor.contiguous() for name, tensor in self.network.state_dict().items()},
                  os.path.join(folder, WEIGHTS_FILE))
        with open(os.path.join(folder, SETTINGS_FILE), "w", encoding="utf-8") as stream:
            json.dump({"settings": dataclasses.asdict(self.settings), "accuracy": self.accuracy}, stream, indent=2)


def load_emoji_classifier(folder: str) -> EmojiClassifier:
    settings_path = os.path.join(folder, SETTINGS_FILE)
    if not os.path.isfile(settings_path):
        raise FileNotFoundError(f"no emoji classifier in {folder}: train one with "
                                f"python -m vaestudio.evaluation.emoji_classifier --out {folder}")
    with open(settings_path, encoding="utf-8") as stream:
        document = json.load(stream)
    values = document["settings"]
    settings = ClassifierSettings(**{**values, "channels": tuple(values["channels"])})
    network = EmojiClassifierNetwork(settings)
    network.load_state_dict(load_file(os.path.join(folder, WEIGHTS_FILE)))
    return EmojiClassifier(network.eval(), settings, document.get("accuracy", {}))


def source_tensors(source) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An emoji source's images (N, 3, S, S) in [0, 1], subgroup ids (N,) and style ids (N,)."""
    images = torch.from_numpy(np.asarray(source.images)).permute(0, 3, 1, 2).float() / 255.0  # (N, 3, S, S)
    return images, torch.from_numpy(source.labels), torch.from_numpy(source.style_ids)


def augment(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """A random shift of up to ``max_shift`` pixels (white fill) and a random left-right mirror per image."""
    batch, _, size, _ = images.shape
    padded = F.pad(images, (max_shift,) * 4, value=1.0)  # (B, 3, S + 2m, S + 2m)
    offsets = torch.randint(0, 2 * max_shift + 1, (batch, 2), generator=generator)  # (B, 2)
    shifted = torch.stack([padded[index, :, top:top + size, left:left + size]
                           for index, (top, left) in enumerate(offsets.tolist())])  # (B, 3, S, S)
    mirror = torch.rand(batch, generator=generator) < 0.5  # (B,)
    shifted[mirror] = shifted[mirror].flip(-1)
    return shifted


def accuracy_on(classifier: EmojiClassifier, images: torch.Tensor, subgroups: torch.Tensor,
                styles: torch.Tensor) -> dict:
    read_subgroups, read_styles = classifier.read(images)
    return {"subgroup": float((read_subgroups == subgroups).float().mean()),
            "style": float((read_styles == styles).float().mean()), "images": len(images)}


def train_emoji_classifier(epochs: int = 12, batch_size: int = 64, learning_rate: float = 2e-3,
                           max_shift: int = 4, seed: int = 0, source_options: dict | None = None,
                           channels: tuple[int, ...] = ClassifierSettings.channels, log=None) -> EmojiClassifier:
    """Trains on the emoji source's train split, measures on its test split (the held-out emoji);
    ``source_options`` go to both splits (e.g. ``holdout_fraction``)."""
    options = dict(source_options or {})
    train_source, test_source = open_source("emoji", "train", **options), open_source("emoji", "test", **options)
    settings = ClassifierSettings(list(train_source.label_names), list(STYLE_NAMES), tuple(channels),
                                  image_size=train_source.image_size)
    images, subgroups, styles = source_tensors(train_source)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    network = EmojiClassifierNetwork(settings)
    optimizer = torch.optim.AdamW(network.parameters(), lr=learning_rate, weight_decay=1e-4)
    total = epochs * -(-len(images) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, learning_rate, total_steps=total)
    network.train()
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        running = []
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            subgroup_logits, style_logits = network(augment(images[chosen], max_shift, generator))
            loss = F.cross_entropy(subgroup_logits, subgroups[chosen]) + F.cross_entropy(style_logits, styles[chosen])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            running.append(float(loss.detach()))
        if log is not None:
            log(f"epoch {epoch + 1}/{epochs}: loss {np.mean(running):.3f}")
    classifier = EmojiClassifier(network.eval(), settings, {})
    classifier.accuracy = accuracy_on(classifier, *source_tensors(test_source))
    classifier.accuracy["train"] = accuracy_on(classifier, images, subgroups, styles)
    return classifier


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for classifier.safetensors and classifier.json")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.time()
    classifier = train_emoji_classifier(arguments.epochs, arguments.batch_size, seed=arguments.seed,
                                        log=lambda line: print(line, file=sys.stderr, flush=True))
    classifier.accuracy["training_seconds"] = round(time.time() - started, 1)
    classifier.save(arguments.out)
    print(json.dumps(classifier.accuracy, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
