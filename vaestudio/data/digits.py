"""The built-in ``digits`` source: scikit-learn's handwritten digits (1,797 images, bundled, no download).

Native images are 8 x 8 with 17 grey levels (0..16, read as value / 16, white ink on black);
``image_size`` defaults to 8 and other sizes are resized with LANCZOS. One channel; labels 0-9 with
``label_names`` "0".."9"; captions "a handwritten digit N". Split: the first 80% (1,437 images) are
``train``, the last 20% (360) ``test``; ``all`` is everything.
"""

from __future__ import annotations

import numpy as np
import torch

from vaestudio.data.images import pixels_to_tensor, resize_pixels
from vaestudio.data.source import Example, ImageSource

NATIVE_SIZE = 8
MAX_LEVEL = 16
TEST_FRACTION = 0.2


class DigitsSource(ImageSource):
    num_channels = 1
    has_captions = True

    def __init__(self, split: str = "train", image_size: int | None = None) -> None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images, labels = digits.images, digits.target  # (N, 8, 8) floats 0..16, (N,)
        boundary = int(len(images) * (1 - TEST_FRACTION))
        ranges = {"train": slice(0, boundary), "test": slice(boundary, None), "all": slice(None)}
        if split not in ranges:
            raise ValueError(f"digits has splits {list(ranges)}, not {split!r}")
        self.spec, self.split = "digits", split
        self.image_size = image_size or NATIVE_SIZE
        self.label_names = [str(digit) for digit in range(10)]
        self.levels = images[ranges[split]].astype(np.float32) / MAX_LEVEL  # (N, 8, 8) in [0, 1]
        self.labels = labels[ranges[split]].astype(np.int64)  # (N,)

    def __len__(self) -> int:
        return len(self.labels)

    def read(self, index: int) -> Example:
        label = int(self.labels[index])
        if self.image_size == NATIVE_SIZE:
            image = torch.from_numpy(self.levels[index].copy()).unsqueeze(0)  # (1, 8, 8), exact levels
        else:
            pixels = np.rint(self.levels[index] * 255).astype(np.uint8)  # (8, 8)
            image = pixels_to_tensor(resize_pixels(pixels, self.image_size))  # (1, S, S)
        return Example(image=image, label=label, caption=f"a handwritten digit {label}")
