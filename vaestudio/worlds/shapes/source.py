"""The built-in ``shapes`` source: the procedural, captioned shapes world (docs/specs/shapes-world.md).

Image i of a split is ``render(sample_factors(rng(split, i), split))`` with ``rng(split, i)`` a
numpy Generator seeded by (CRC-32 of the split name, i): a pure function of (split, i), the same
on every machine and in every worker. Default sizes: 50,000 train and 5,000 test images
(``num_images`` changes that; image i does not depend on it). ``train`` never holds a held-out
colour-shape pair; ``test`` draws every pair uniformly (about 23% of its images hold at least one
held-out pair; ``factors(i)`` tells which).

Options:
- ``num_images``: the split's length;
- ``caption_dropout`` (0 by default): for training text-conditioned models, each attribute (size,
  colour, shape and position of each object, and the background) is left out of the caption
  independently with this probability. The draw is seeded by (split, i, epoch), so an image's caption
  is fixed within an epoch and changes across epochs (``set_epoch``; ``make_loader`` does it);
- ``caption_blank`` (0 by default): the probability that a caption keeps nothing but the number of
  objects ("a shape and a shape"), which teaches a text-conditioned prior the unconditional
  distribution that classifier-free guidance steers away from (drawn from the same seeded stream);
- ``cache`` (True): rendered images are kept in 1,000-image ``.npy`` chunks under
  ``~/.cache/vaestudio/shapes`` (``$VAESTUDIO_CACHE``), rendered on first use; ``cache_dir`` overrides;
- ``image_size``: 64 natively; other sizes are resized (LANCZOS) from the 64 x 64 render.
"""

from __future__ import annotations

import dataclasses
import sys
import zlib

import numpy as np
import PIL

from vaestudio.data.cache import ChunkedArrayCache, code_fingerprint, key_folder
from vaestudio.data.images import pixels_to_tensor, resize_pixels
from vaestudio.data.source import Example, ImageSource
from vaestudio.worlds.shapes import grammar as grammar_module
from vaestudio.worlds.shapes import render as render_module
from vaestudio.worlds.shapes import sampling as sampling_module
from vaestudio.worlds.shapes import world as world_module
from vaestudio.worlds.shapes.grammar import caption
from vaestudio.worlds.shapes.render import render
from vaestudio.worlds.shapes.sampling import sample_factors
from vaestudio.worlds.shapes.world import CANVAS_SIZE, SPLITS, Scene

CHUNK_SIZE = 1000


def _generator_fingerprint() -> str:
    """The cache key's hash of everything an image depends on: sampling, rendering and this module."""
    return code_fingerprint(world_module, sampling_module, render_module, grammar_module, sys.modules[__name__])
DEFAULT_NUM_IMAGES = {"train": 50_000, "test": 5_000}
CAPTION_SALT = 1  # separates the caption-dropout stream from the scene stream


def scene_generator(split: str, index: int, *salt: int) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(split.encode("utf-8")), index, *salt])


def scene_at(split: str, index: int) -> Scene:
    """The ground-truth factors of image ``index`` of a split."""
    return sample_factors(scene_generator(split, index), split)


def render_range(split: str, start: int, stop: int) -> np.ndarray:
    """uint8 (stop - start, 64, 64, 3): images [start, stop) of a split."""
    return np.stack([render(scene_at(split, index)) for index in range(start, stop)])


def drop_attributes(scene: Scene, probability: float, rng: np.random.Generator) -> Scene:
    """Each attribute of each object, and the background, set to None with ``probability``."""

    def kept(value):
        return None if rng.random() < probability else value

    objects = []
    for item in scene.objects:
        size, color, shape = kept(item.size), kept(item.color), kept(item.shape)
        placed = rng.random() >= probability
        objects.append(
            dataclasses.replace(
                item,
                size=size,
                color=color,
                shape=shape,
                row=item.row if placed else None,
                column=item.column if placed else None,
                x=item.x if placed else None,
                y=item.y if placed else None,
            )
        )
    return Scene(objects=tuple(objects), background=kept(scene.background))


class ShapesSource(ImageSource):
    num_channels = 3
    has_captions = True
    label_names = None

    def __init__(
        self,
        split: str = "train",
        image_size: int | None = None,
        num_images: int | None = None,
        caption_dropout: float = 0.0,
        caption_blank: float = 0.0,
        cache: bool = True,
        cache_dir: str | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"shapes has splits {list(SPLITS)}, not {split!r}")
        if not 0.0 <= caption_dropout <= 1.0:
            raise ValueError(f"caption_dropout is a probability in [0, 1], got {caption_dropout}")
        if not 0.0 <= caption_blank <= 1.0:
            raise ValueError(f"caption_blank is a probability in [0, 1], got {caption_blank}")
        self.spec, self.split = "shapes", split
        self.image_size = image_size or CANVAS_SIZE
        self.num_images = DEFAULT_NUM_IMAGES[split] if num_images is None else int(num_images)
        self.caption_dropout, self.caption_blank = caption_dropout, caption_blank
        self._cache = None
        if cache:
            key = {"code": _generator_fingerprint(), "split": split, "pillow": PIL.__version__, "chunk": CHUNK_SIZE}
            self._cache = ChunkedArrayCache(
                key_folder("shapes", key, cache_dir), CHUNK_SIZE, self._render_chunk
            )

    def _render_chunk(self, start: int, stop: int) -> np.ndarray:
        return render_range(self.split, start, stop)

    def __len__(self) -> int:
        return self.num_images

    def factors(self, index: int) -> dict:
        """Ground truth of image ``index``: {"objects": [{shape, color, size, row, column, x, y,
        diameter}, ...], "background": name}."""
        return self.scene(index).to_dict()

    def scene(self, index: int) -> Scene:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for shapes ({self.split}), which has {len(self)}")
        return scene_at(self.split, index)

    def pixels(self, index: int) -> np.ndarray:
        """uint8 (64, 64, 3) of image ``index``, from the cache when there is one."""
        if self._cache is not None:
            return self._cache[index]
        return render(self.scene(index))

    def caption_of(self, index: int, scene: Scene) -> str:
        if self.caption_dropout == 0.0 and self.caption_blank == 0.0:
            return caption(scene)
        rng = scene_generator(self.split, index, CAPTION_SALT, self.epoch)
        if self.caption_blank and rng.random() < self.caption_blank:
            return caption(drop_attributes(scene, 1.0, rng))
        return caption(drop_attributes(scene, self.caption_dropout, rng))

    def read(self, index: int) -> Example:
        scene = self.scene(index)
        pixels = resize_pixels(self.pixels(index), self.image_size)  # (S, S, 3)
        return Example(image=pixels_to_tensor(pixels), label=None, caption=self.caption_of(index, scene))
