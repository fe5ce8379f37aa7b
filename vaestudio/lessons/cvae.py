"""Lesson 6: the conditional VAE. One style, every class.

A CVAE (Sohn, Lee & Yan 2015, https://papers.nips.cc/paper/5775) feeds the label to the encoder and the
decoder. The label then carries the class, so the latent is free to carry everything else (slant,
thickness, size): encode a digit with its own label, keep its z, and decode it with every other label.
"""

from __future__ import annotations

import torch

from vaestudio.lessons.base import Control, Figure, Lesson, LessonError
from vaestudio.lessons.cache import load_role
from vaestudio.lessons.data import held_out
from vaestudio.lessons.digit_classifier import classifier_for
from vaestudio.lessons.figures import beside, tiles, titled

STYLES = 100  # test images whose style is measured
SHOWN_STYLES = 5  # rows of the grid: the chosen style, then the next ones


@torch.no_grad()
def styled(model, images: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Each image's z (encoded with its own label), decoded with every class: (N * classes, C, H, W), row by row."""
    latents = model.encode(images, labels).mean  # (N, L)
    repeated = latents.repeat_interleave(classes, dim=0)  # (N*K, L)
    every_class = torch.arange(classes).repeat(len(images))  # (N*K,)
    return model.decode(repeated, every_class)


def compute(value: float) -> Figure:
    model = load_role("cvae")
    if getattr(model, "model_type", None) != "vae" or model.config.condition != "class":
        raise LessonError("the role 'cvae' needs a class-conditional VAE (condition = 'class'); "
                          "point it at one in vaestudio/lessons/models.py")
    images, labels = held_out("cvae", STYLES)
    classes = model.config.num_classes
    index = int(value)
    decodes = styled(model, images, labels, classes)  # (N*K, C, H, W)
    read = classifier_for(model).probabilities(decodes).argmax(1).view(len(images), classes)  # (N, K)
    wanted = torch.arange(classes).expand_as(read)
    per_style = (read == wanted).float().mean(1)  # (N,)
    rows = [(index + offset) % len(images) for offset in range(SHOWN_STYLES)]
    grid = torch.cat([decodes[row * classes : (row + 1) * classes] for row in rows])
    originals = images[rows]
    numbers = {
        "style_image": index,
        "style_label": int(labels[index]),
        "classes_read_as_intended": round(float(per_style[index]), 4),
        "mean_over_styles": round(float(per_style.mean()), 4),
        "styles_measured": len(images),
        "chance": round(1 / classes, 4),
        "readings": [int(value) for value in read[index]],
    }
    left = titled(tiles(originals, columns=1, pixels=40), "style", size=12)
    right = titled(tiles(grid, columns=classes, pixels=40),
                   f"decoded as 0, 1, ..., {classes - 1} with the same z", size=12)
    caption = (f"The chosen style: {int(per_style[index] * classes)} of {classes} classes read as intended; "
               f"over {len(images)} styles: {100 * float(per_style.mean()):.0f} % (chance {100 / classes:.0f} %)")
    return Figure(titled(beside(left, right, gap=24), caption), numbers)


LESSON = Lesson(
    name="cvae",
    number=6,
    title="Conditional VAE: one style, every class",
    paragraph=(
        "A conditional VAE is told the label, in the encoder and in the decoder. Since the decoder already "
        "knows which digit to draw, the latent code no longer needs to say it, and learns what the label "
        "does not: the style of the handwriting. Encode one test digit with its own label, keep its code, and "
        "decode that code with each of the ten labels: the same hand writes every digit. A classifier checks "
        "that each decode reads as the label it was given. Pick the style with the control."
    ),
    control=Control("Style (test image)", 0, STYLES - 1, 1, 0, info="which held-out digit lends its style"),
    compute=compute,
    roles=("cvae",),
)
