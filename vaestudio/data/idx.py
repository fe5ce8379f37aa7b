"""The ``idx:PATH`` source: MNIST-format IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST...).

IDX: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64), a byte with the number of dimensions, one big-endian uint32 per dimension, then the
data, big-endian, row-major. ``read_idx`` checks all of it, and that the file holds exactly the data
the header announces; files ending in ``.gz`` are decompressed.

PATH is either
- a directory holding ``<prefix>-images-idx3-ubyte`` (or ``<prefix>-images.idx3-ubyte``, optionally
  ``.gz``) and the matching ``-labels-idx1-ubyte``: ``train`` is the file whose prefix starts with
  "train", ``test`` the one starting with "t10k" or "test";
- or one images file, with its labels file (same name with ``images``/``idx3`` -> ``labels``/``idx1``)
  used when it exists; a single file has no split of its own, so a deterministic
  ``holdout_fraction`` (default 0.1) of it is ``test`` (``source.holdout_split``), ``all`` is all.

Images are uint8 (N, H, W) or (N, H, W, C) with C 1 or 3; ``image_size`` defaults to H (28 for
MNIST) and other sizes are fitted by ``images.fit_to_square``. Labels give ``label_names`` "0".."K-1".
Use ``binarize="dynamic"`` (an option of every source) for the dynamically binarised MNIST of the
VAE/IWAE papers.
"""

from __future__ import annotations

import gzip
import os
import re

import numpy as np

from vaestudio.data.images import pixels_to_tensor, resize_pixels
from vaestudio.data.source import Example, ImageSource, holdout_split

IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
TYPE_CODES = {
    dtype.newbyteorder("=") if dtype.itemsize > 1 else dtype: code for code, dtype in IDX_TYPES.items()
}
IMAGES_PATTERN = re.compile(r"^(?P<prefix>.+?)-images[-.]idx3-ubyte(\.gz)?$")


class IdxError(ValueError):
    """A file that is not a valid IDX file; the message names it and what is wrong."""


def _read_bytes(path: str) -> bytes:
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                return stream.read()
        with open(path, "rb") as stream:
            return stream.read()
    except (OSError, EOFError) as error:
        raise IdxError(f"{path} could not be read ({error}); re-download it") from error


def read_idx(path: str) -> np.ndarray:
    """An IDX file -> a numpy array in native byte order, validated (module docstring)."""
    data = _read_bytes(path)
    if len(data) < 4:
        raise IdxError(f"{path} is {len(data)} bytes, too short for an IDX header; re-download it")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise IdxError(
            f"{path} is not an IDX file (magic bytes {data[:4].hex()}; expected 0000 then a type byte in "
            f"{[hex(code) for code in IDX_TYPES]}); is it still compressed, or another format?"
        )
    dtype, num_dimensions = IDX_TYPES[data[2]], data[3]
    header_size = 4 + 4 * num_dimensions
    if num_dimensions == 0 or len(data) < header_size:
        raise IdxError(f"{path}: header announces {num_dimensions} dimensions but the file is too short")
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=num_dimensions, offset=4))
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "followed by extra bytes"
        raise IdxError(
            f"{path} is {problem}: its header announces shape {shape} ({expected} bytes in all) but it has "
            f"{len(data)} bytes; re-download it"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return np.array(array, dtype=dtype.newbyteorder("="))  # a writable copy in native byte order


def write_idx(path: str, array: np.ndarray) -> None:
    """Writes an array as an IDX file (gzip-compressed when ``path`` ends in .gz)."""
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=") if array.dtype.itemsize > 1 else array.dtype
    if native not in TYPE_CODES:
        raise ValueError(f"IDX stores uint8, int8, int16, int32, float32 or float64, not {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}")
    code = TYPE_CODES[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    if path.endswith(".gz"):
        with gzip.open(path, "wb") as stream:
            stream.write(payload)
    else:
        with open(path, "wb") as stream:
            stream.write(payload)


def labels_path_for(images_path: str) -> str | None:
    """The labels file that goes with an images file, if it exists."""
    folder, name = os.path.split(images_path)
    candidate = os.path.join(folder, name.replace("images", "labels").replace("idx3", "idx1"))
    return candidate if candidate != images_path and os.path.isfile(candidate) else None


def resolve_images_file(directory: str, split: str) -> tuple[str, bool]:
    """(images file, whether it is a split of its own) in an MNIST-style directory."""
    found = sorted(name for name in os.listdir(directory) if IMAGES_PATTERN.match(name))
    if not found:
        raise IdxError(f"{directory} holds no *-images-idx3-ubyte file; point idx: at an images file")
    if len(found) == 1:
        return os.path.join(directory, found[0]), False
    prefixes = {"train": ("train",), "test": ("t10k", "test")}.get(split, ())
    for name in found:
        if IMAGES_PATTERN.match(name).group("prefix").startswith(prefixes):
            return os.path.join(directory, name), True
    raise ValueError(f"{directory} has no images file for split {split!r}; it has {found}")


class IdxSource(ImageSource):
    def __init__(
        self, path: str, split: str = "train", image_size: int | None = None, holdout_fraction: float = 0.1
    ) -> None:
        if not os.path.exists(path):
            raise ValueError(f"idx:{path} does not exist")
        images_path, has_own_splits = path, False
        if os.path.isdir(path):
            images_path, has_own_splits = resolve_images_file(path, split)
        images = read_idx(images_path)
        if images.ndim == 4 and images.shape[3] == 1:
            images = images[..., 0]  # (N, H, W)
        if images.dtype != np.uint8 or not (images.ndim == 3 or (images.ndim == 4 and images.shape[3] == 3)):
            raise IdxError(
                f"{images_path}: expected uint8 images of shape (N, H, W) or (N, H, W, 1 or 3), got "
                f"{images.dtype} {images.shape}"
            )
        labels_path = labels_path_for(images_path)
        labels = read_idx(labels_path).astype(np.int64) if labels_path else None
        if labels is not None and labels.shape != images.shape[:1]:
            raise IdxError(
                f"{labels_path} has {labels.shape} labels for {len(images)} images in {images_path}"
            )
        indices = np.arange(len(images))
        if not has_own_splits:
            keys = [str(index) for index in indices]
            indices = np.asarray(holdout_split(keys, split, holdout_fraction), dtype=np.int64)
        self.spec, self.split, self.images_path = f"idx:{path}", split, images_path
        self.images = images[indices]  # (N, H, W) or (N, H, W, 3) uint8
        self.labels = labels[indices] if labels is not None else None  # (N,) int64
        self.num_channels = 1 if self.images.ndim == 3 else 3
        self.image_size = image_size or int(self.images.shape[1])
        self.label_names = (
            [str(value) for value in range(int(labels.max()) + 1)] if labels is not None else None
        )
        self.has_captions = False

    def __len__(self) -> int:
        return len(self.images)

    def read(self, index: int) -> Example:
        pixels = resize_pixels(self.images[index], self.image_size)  # (S, S[, 3])
        label = int(self.labels[index]) if self.labels is not None else None
        return Example(image=pixels_to_tensor(pixels), label=label)
