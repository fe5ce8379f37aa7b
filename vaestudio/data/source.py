"""What every data source is: a torch Dataset of ``Example``s, and the batching around it.

A source knows its ``num_channels``, ``image_size``, ``label_names`` (or None) and ``has_captions``.
``source[i]`` is deterministic given (source options, split, i, epoch): the epoch only matters for
per-epoch randomness (dynamic binarisation, caption dropout), set with ``set_epoch`` - ``make_loader``'s
loader does that for you at the start of every pass.

Binarisation (every source, option ``binarize``):
- ``None``: grey levels as they are;
- ``"static"``: pixel > 0.5 -> 1, else 0;
- ``"dynamic"``: a fresh Bernoulli(pixel) draw for each (binarize_seed, epoch, index), so an image
  is the same within an epoch and different across epochs (Salakhutdinov & Murray's dynamic MNIST).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from vaestudio.common.batch import Batch

BINARIZE_MODES = (None, "static", "dynamic")


@dataclasses.dataclass(frozen=True)
class Example:
    """One item of a source."""

    image: torch.Tensor  # (C, H, W) float32 in [0, 1]
    label: int | None = None
    caption: str | None = None


class ImageSource(Dataset):
    """Base class: subclasses set the attributes in ``__init__`` and implement ``__len__`` and ``read``."""

    spec: str = ""
    split: str = "train"
    num_channels: int = 3
    image_size: int = 64
    label_names: list[str] | None = None
    has_captions: bool = False

    epoch: int = 0
    binarize: str | None = None
    binarize_seed: int = 0

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, index: int) -> Example:  # pragma: no cover - abstract
        """The example at a valid non-negative index, before binarisation."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> Example:
        count = len(self)
        index = int(index)
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError(
                f"index {index} out of range for {self.spec!r} ({self.split}), which has {count}"
            )
        example = self.read(index)
        if self.binarize is None:
            return example
        return dataclasses.replace(example, image=self._binarized(example.image, index))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def set_binarize(self, mode: str | None, seed: int = 0) -> None:
        if mode not in BINARIZE_MODES:
            raise ValueError(f"binarize must be one of {BINARIZE_MODES}, got {mode!r}")
        self.binarize, self.binarize_seed = mode, int(seed)

    def _binarized(self, image: torch.Tensor, index: int) -> torch.Tensor:
        if self.binarize == "static":
            return (image > 0.5).float()  # (C, H, W)
        generator = np.random.default_rng([self.binarize_seed, self.epoch, index])
        uniform = torch.from_numpy(generator.random(tuple(image.shape), dtype=np.float32))  # (C, H, W)
        return (uniform < image).float()  # (C, H, W)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(spec={self.spec!r}, split={self.split!r}, len={len(self)}, "
            f"channels={self.num_channels}, size={self.image_size}, labels={self.label_names is not None}, "
            f"captions={self.has_captions})"
        )


def holdout_split(keys: Sequence[str], split: str, fraction: float) -> list[int]:
    """Indices of ``keys`` in a split, for data that has no split of its own.

    An item is in ``test`` when the CRC-32 of its key (a relative path, or an index as text), divided
    by 2**32, is below ``fraction``; ``train`` is the rest; ``all`` is everything. Adding files to a
    folder therefore never moves existing files between splits.
    """
    if split == "all":
        return list(range(len(keys)))
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout_fraction must be in [0, 1), got {fraction}")
    threshold = fraction * 2**32
    in_test = [zlib.crc32(key.encode("utf-8")) < threshold for key in keys]
    return [index for index, is_test in enumerate(in_test) if is_test == (split == "test")]


def collate(examples: Sequence[Example]) -> Batch:
    """Examples -> Batch. Labels: all present -> int64 tensor, all absent -> None, mixed -> error.
    Captions: None when no example has one, else a list with "" for the missing ones."""
    if not examples:
        raise ValueError("cannot collate an empty list of examples")
    images = torch.stack([example.image for example in examples])  # (B, C, H, W)
    labels = [example.label for example in examples]
    if all(label is None for label in labels):
        label_tensor = None
    elif any(label is None for label in labels):
        raise ValueError("some examples have labels and some do not; give every image a label or none")
    else:
        label_tensor = torch.tensor(labels, dtype=torch.int64)  # (B,)
    captions = [example.caption for example in examples]
    caption_list = None if all(text is None for text in captions) else [text or "" for text in captions]
    return Batch(images=images, labels=label_tensor, captions=caption_list)


class EpochLoader:
    """Iterable of Batches; each pass is one epoch with its own shuffle and ``source.set_epoch``.

    The shuffle of epoch e uses a generator seeded with (seed, e), so a run resumed with
    ``set_epoch(e)`` sees exactly the batches it would have seen.
    """

    def __init__(
        self,
        source: ImageSource,
        batch_size: int,
        shuffle: bool,
        seed: int,
        drop_last: bool,
        num_workers: int = 0,
        sampler: Sampler | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if sampler is not None and shuffle:
            raise ValueError("pass either shuffle=True or a sampler (which does its own shuffling), not both")
        self.source, self.batch_size, self.shuffle, self.seed = source, batch_size, shuffle, seed
        self.drop_last, self.num_workers, self.sampler = drop_last, num_workers, sampler
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        count = len(self.sampler) if self.sampler is not None else len(self.source)
        return count // self.batch_size if self.drop_last else -(-count // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        epoch = self.epoch
        self.epoch += 1
        self.source.set_epoch(epoch)
        if self.sampler is not None and hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)
        generator = torch.Generator().manual_seed(
            int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])
        )
        loader = DataLoader(
            self.source,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            sampler=self.sampler,
            drop_last=self.drop_last,
            num_workers=self.num_workers,
            collate_fn=collate,
            generator=generator,
        )
        return iter(loader)


make_loader = EpochLoader  # make_loader(source, batch_size, shuffle, seed, drop_last, ...): the public name
