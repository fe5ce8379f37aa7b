"""The ``photos`` source: open desktop backgrounds (photos and drawings) from Debian packages.

``vaestudio data get photos`` (``photo_packages``) fills ``<cache>/data/photos`` once; this source only
reads what is there: ``manifest.json`` and the stored PNGs (long side at most 1536). About 113 pictures
from 9 packages, each with its licence from its package's copyright file; the split is by picture
(about 102 train, 11 test), fixed by each picture's key.

- ``test`` (and ``all``): every picture once, resized (LANCZOS) so its short side is ``image_size``
  and centre-cropped to a square: the whole picture at that size, as a user would drop it.
- ``train``: random square crops, ``crops_per_picture`` per picture per epoch. A crop takes a square
  region of the stored picture whose side is drawn log-uniformly between ``image_size`` pixels (detail at
  full resolution) and the short side (the whole picture, downscaled), at a random place, flipped left to
  right half of the time, resized to ``image_size``. The draws of item i in epoch e come from a generator
  seeded with (seed, e, i): a resumed run sees the same crops.

Captions are none; ``picture(i)`` gives the manifest entry of item i (key, package, licence...).
Options: ``image_size`` (default 256), ``crops_per_picture`` (train; default 16), ``seed`` (default 0),
``folder`` (default: the cache's photos folder).
"""

from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image

from vaestudio.data.images import pixels_to_tensor
from vaestudio.data.photo_packages import Picture, photos_folder, read_manifest
from vaestudio.data.source import Example, ImageSource

DEFAULT_IMAGE_SIZE = 256
SPLITS = ("train", "test", "all")


def centre_square(image: Image.Image, size: int) -> Image.Image:
    """The largest centred square of ``image``, resized (LANCZOS) to ``size`` x ``size``."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.resize((size, size), Image.Resampling.LANCZOS, box=(left, top, left + side, top + side))


def random_square(image: Image.Image, size: int, generator: np.random.Generator) -> Image.Image:
    """A random square region (side log-uniform in [size, short side]), maybe mirrored, resized to ``size``."""
    short = min(image.size)
    low, high = math.log(min(size, short)), math.log(short)
    side = int(round(math.exp(generator.uniform(low, high)))) if high > low else short
    left = int(generator.integers(0, image.width - side + 1))
    top = int(generator.integers(0, image.height - side + 1))
    crop = image.resize((size, size), Image.Resampling.BILINEAR if side > 2 * size else Image.Resampling.LANCZOS,
                        box=(left, top, left + side, top + side), reducing_gap=2.0)
    if generator.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return crop


class PhotosSource(ImageSource):
    def __init__(self, split: str = "train", image_size: int | None = None, crops_per_picture: int = 16,
                 seed: int = 0, folder: str | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"photos has splits {list(SPLITS)}, not {split!r}")
        if crops_per_picture < 1:
            raise ValueError(f"crops_per_picture must be at least 1, got {crops_per_picture}")
        self.folder = folder or photos_folder()
        pictures = read_manifest(self.folder)  # PhotosMissingError (with the command) when not fetched
        self.pictures: list[Picture] = [p for p in pictures if split == "all" or p.split == split]
        if not self.pictures:
            raise ValueError(f"photos has no {split} pictures in {self.folder}; "
                             "run `vaestudio data get photos --force`")
        self.spec, self.split = "photos", split
        self.image_size = int(image_size or DEFAULT_IMAGE_SIZE)
        self.num_channels, self.label_names, self.has_captions = 3, None, False
        self.crops_per_picture = crops_per_picture if split == "train" else 1
        self.seed = seed
        self._decoded: dict[int, Image.Image] = {}  # picture index -> decoded RGB image (kept for the run)

    def __len__(self) -> int:
        return len(self.pictures) * self.crops_per_picture

    def picture(self, index: int) -> Picture:
        return self.pictures[index % len(self.pictures)]

    def _image(self, picture_index: int) -> Image.Image:
        if picture_index not in self._decoded:
            with Image.open(os.path.join(self.folder, self.pictures[picture_index].file)) as image:
                self._decoded[picture_index] = image.convert("RGB")
        return self._decoded[picture_index]

    def read(self, index: int) -> Example:
        picture_index = index % len(self.pictures)
        image = self._image(picture_index)
        if self.split == "train":
            generator = np.random.default_rng([self.seed, self.epoch, index])
            square = random_square(image, self.image_size, generator)
        else:
            square = centre_square(image, self.image_size)
        return Example(image=pixels_to_tensor(np.asarray(square)))
