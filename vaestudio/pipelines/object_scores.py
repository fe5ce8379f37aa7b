"""Reranking object by object: each object of a regional prompt scored alone, in its own region.

A contrastive scorer reads a one-object image far more precisely than a two-object one (it was
trained on both, and one object leaves it one thing to check). When a layout has placed the
prompt's objects (:mod:`vaestudio.worlds.registry`), each candidate is cut into the layout's
regions: region ``r`` keeps the pixels whose code position belongs mostly to object ``r`` and
paints every other pixel with the candidate's background (the median of its border pixels).
That picture is scored against object ``r``'s own one-object caption. A candidate is only as
good as its worst-drawn object, so the ranking score is

    (whole-prompt similarity + weight * min_r object similarity) / (1 + weight)

which stays a similarity in [-1, 1]; ``weight`` 0 is plain whole-prompt reranking.
"""

from __future__ import annotations

import torch

from vaestudio.common.batch import RegionalCondition


def border_colour(images: torch.Tensor) -> torch.Tensor:
    """The median colour of each image's one-pixel border: (B, C, H, W) -> (B, C, 1, 1)."""
    border = torch.cat([images[:, :, 0], images[:, :, -1], images[:, :, 1:-1, 0], images[:, :, 1:-1, -1]],
                       dim=2)  # (B, C, 2W + 2H - 4)
    return border.median(dim=2).values[:, :, None, None]


def region_masks(condition: RegionalCondition, image_size: tuple[int, int]) -> torch.Tensor:
    """Each pixel to the object whose weight is largest at its code position: (R, H, W) of 0/1 floats."""
    objects, height, width = condition.weights.shape
    owner = condition.weights.argmax(dim=0)  # (h, w)
    masks = (owner[None] == torch.arange(objects)[:, None, None]).float()  # (R, h, w)
    rows, columns = image_size[0] // height, image_size[1] // width
    return masks.repeat_interleave(rows, dim=1).repeat_interleave(columns, dim=2)  # (R, H, W)


@torch.no_grad()
def object_similarities(scorer, images: torch.Tensor, condition: RegionalCondition) -> torch.Tensor:
    """Every candidate's similarity with each object's caption, the rest of the picture blanked: (B, R)."""
    masks = region_masks(condition, tuple(images.shape[-2:])).to(images)  # (R, H, W)
    background = border_colour(images)  # (B, C, 1, 1)
    columns = []
    for mask, caption in zip(masks, condition.captions):  # one caption, encoded once, against every candidate
        pictures = images * mask + background * (1.0 - mask)  # (B, C, H, W)
        columns.append(scorer.score(pictures, caption))  # (B,)
    return torch.stack(columns, dim=1)  # (B, R)


def combined_scores(whole: torch.Tensor, objects: torch.Tensor | None, weight: float) -> torch.Tensor:
    """(B,) whole-prompt similarities and (B, R) object similarities -> (B,) ranking scores in [-1, 1]."""
    if objects is None or weight <= 0.0:
        return whole
    return (whole + weight * objects.min(dim=1).values) / (1.0 + weight)
