"""The ``hf:NAME`` source: a Hugging Face ``datasets`` dataset (the optional extra ``vaestudio[hf]``).

NAME is a local folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk`` (read with
``load_from_disk``, offline) or else a Hub name for ``load_dataset`` (which may download; pass
``config=`` for a named configuration).

- Split: a DatasetDict's ``split`` (``test`` falls back to ``validation``); a single Dataset, or a
  DatasetDict without that split, gets a deterministic ``holdout_fraction`` (default 0.1) of its
  ``train`` as ``test`` (``source.holdout_split``); ``all`` is everything.
- Columns, unless named by ``image_column``/``label_column``/``caption_column``: the image is the
  first ``Image`` feature (else a column named image/img/picture); the label the first ``ClassLabel``
  (else an integer column named label/labels/class); the caption the first string column named
  text/caption/captions/sentence/prompt.
- Images are read as undecoded bytes and go through the project's policy (``images.to_model_input``:
  pixel cap before decoding, EXIF, alpha, 16-bit), at ``image_size`` (default 64) and ``channels``
  (default 3).
"""

from __future__ import annotations

import os

from vaestudio.data.images import DEFAULT_MAX_PIXELS, WHITE, ImageError, to_model_input
from vaestudio.data.source import Example, ImageSource, holdout_split

IMAGE_NAMES = ("image", "img", "picture")
LABEL_NAMES = ("label", "labels", "class")
CAPTION_NAMES = ("text", "caption", "captions", "sentence", "prompt")
TEST_FALLBACKS = {"test": ("test", "validation", "valid")}
DEFAULT_IMAGE_SIZE = 64


def _import_datasets():
    try:
        import datasets
    except ImportError as error:
        raise ImportError(
            "hf: sources need the Hugging Face datasets library: "
            "pip install 'vaestudio[hf]' (or pip install datasets)"
        ) from error
    return datasets


def _load(name: str, split: str, config: str | None):
    """(Dataset, whether it is the requested split itself) for a path or a Hub name."""
    datasets = _import_datasets()
    loaded = datasets.load_from_disk(name) if os.path.isdir(name) else datasets.load_dataset(name, config)
    if isinstance(loaded, datasets.Dataset):
        return loaded, False
    for candidate in TEST_FALLBACKS.get(split, (split,)):
        if candidate in loaded:
            return loaded[candidate], True
    if "train" not in loaded:
        raise ValueError(f"hf:{name} has splits {list(loaded)}; none is {split!r} or 'train'")
    return loaded["train"], False


def _find_column(
    dataset, wanted: str | None, feature_type: str | None, names: tuple[str, ...], role: str
) -> str | None:
    """The column named ``wanted``, else the first of type ``feature_type``, else the first of ``names``."""
    features = dataset.features
    if wanted is not None:
        if wanted not in features:
            raise ValueError(f"the dataset has no {role} column {wanted!r}; its columns are {list(features)}")
        return wanted
    for column, feature in features.items():
        if feature_type is not None and type(feature).__name__ == feature_type:
            return column
    return next((column for column in names if column in features), None)


class HubSource(ImageSource):
    def __init__(
        self,
        name: str,
        split: str = "train",
        image_size: int | None = None,
        channels: int = 3,
        config: str | None = None,
        image_column: str | None = None,
        label_column: str | None = None,
        caption_column: str | None = None,
        holdout_fraction: float = 0.1,
        background: tuple[int, int, int] = WHITE,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        datasets = _import_datasets()
        dataset, is_own_split = _load(name, split, config)
        if not is_own_split:
            keys = [str(index) for index in range(len(dataset))]
            dataset = dataset.select(holdout_split(keys, split, holdout_fraction))
        self.image_column = _find_column(dataset, image_column, "Image", IMAGE_NAMES, "image")
        if self.image_column is None:
            raise ValueError(
                f"hf:{name} has no image column (columns: {list(dataset.features)}); pass image_column="
            )
        self.label_column = _find_column(dataset, label_column, "ClassLabel", LABEL_NAMES, "label")
        self.caption_column = _find_column(dataset, caption_column, None, CAPTION_NAMES, "caption")
        if type(dataset.features[self.image_column]).__name__ == "Image":
            dataset = dataset.cast_column(self.image_column, datasets.Image(decode=False))
        label_feature = dataset.features.get(self.label_column) if self.label_column else None
        self.spec, self.split, self.dataset = f"hf:{name}", split, dataset
        self.image_size, self.num_channels = image_size or DEFAULT_IMAGE_SIZE, channels
        self.background, self.max_pixels = tuple(background), max_pixels
        self.label_names = list(label_feature.names) if hasattr(label_feature, "names") else None
        if self.label_column and self.label_names is None:
            self.label_names = [
                str(value) for value in range(max(dataset[self.label_column], default=-1) + 1)
            ]
        self.has_captions = self.caption_column is not None

    def __len__(self) -> int:
        return len(self.dataset)

    def _image_input(self, value):
        """An undecoded {"bytes", "path"} record, a PIL image or a path -> what load_image takes."""
        if isinstance(value, dict):
            return value.get("bytes") or value.get("path")
        return value

    def read(self, index: int) -> Example:
        row = self.dataset[index]
        try:
            image = to_model_input(
                self._image_input(row[self.image_column]),
                self.image_size,
                self.num_channels,
                self.background,
                self.max_pixels,
            )  # (C, S, S)
        except ImageError as error:
            raise ImageError(f"row {index} of {self.spec}: {error}") from error
        label = int(row[self.label_column]) if self.label_column else None
        caption = str(row[self.caption_column]) if self.caption_column else None
        return Example(image=image, label=label, caption=caption)
