"""The ``folder:PATH`` source: a folder of your own images, with optional captions and labels.

- Images: every ``.png .jpg .jpeg .webp .bmp .gif`` below PATH (any depth, sorted by relative path;
  hidden files and folders are skipped). Each is read with the project's image policy
  (``images.load_image``) and fitted to ``image_size`` (default 64) by ``images.fit_to_square``.
- Splits: if PATH has ``train/`` and ``test/`` subfolders, those are the splits (and the only ones
  accepted); otherwise a deterministic ``holdout_fraction`` (default 0.1, by CRC-32 of the relative path, see
  ``source.holdout_split``) is ``test`` and the rest ``train``; ``all`` is everything.
- Captions: ``metadata.jsonl`` lines ``{"file_name": "cat.png", "text": "a cat"}`` (``caption``
  is accepted for ``text``), in any folder, ``file_name`` relative to that metadata file - the
  Hugging Face imagefolder convention; else a sidecar ``cat.txt`` next to ``cat.png``. Images with
  neither get no caption (collated as "").
- Labels: when every image sits in a subfolder of the split folder, the first-level subfolder names
  (sorted) are the classes; otherwise there are no labels.
- An empty folder is an error; an unreadable image raises ``ImageError`` naming the file when it is
  read (never skipped, so that indices and lengths stay stable).
- ``channels``: 3 (default) or 1 (greyscale); ``background``: the colour transparency is composited on.
"""

from __future__ import annotations

import json
import os

from vaestudio.data.images import DEFAULT_MAX_PIXELS, WHITE, ImageError, to_model_input
from vaestudio.data.source import Example, ImageSource, holdout_split

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
METADATA_FILE = "metadata.jsonl"
CAPTION_KEYS = ("text", "caption")
DEFAULT_IMAGE_SIZE = 64


def list_images(root: str) -> list[str]:
    """Relative paths (with "/") of the images below ``root``, sorted, skipping hidden entries."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in files:
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
    return sorted(found)


def read_metadata_captions(root: str) -> dict[str, str]:
    """Relative image path -> caption, from every metadata.jsonl below ``root``."""
    captions: dict[str, str] = {}
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        if METADATA_FILE not in files:
            continue
        path = os.path.join(folder, METADATA_FILE)
        with open(path, encoding="utf-8") as stream:
            for line_number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    file_name = record["file_name"]
                    text = next(record[key] for key in CAPTION_KEYS if key in record)
                except (ValueError, KeyError, StopIteration, TypeError) as error:
                    raise ValueError(
                        f'{path}, line {line_number}: expected a JSON object with "file_name" and "text" '
                        f"({error!r})"
                    ) from error
                relative = os.path.relpath(os.path.join(folder, file_name), root).replace(os.sep, "/")
                captions[relative] = str(text)
    return captions


def read_sidecar_caption(path: str) -> str | None:
    sidecar = os.path.splitext(path)[0] + ".txt"
    if not os.path.isfile(sidecar):
        return None
    with open(sidecar, encoding="utf-8") as stream:
        return stream.read().strip()


class FolderSource(ImageSource):
    def __init__(
        self,
        path: str,
        split: str = "train",
        image_size: int | None = None,
        channels: int = 3,
        holdout_fraction: float = 0.1,
        background: tuple[int, int, int] = WHITE,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        if not os.path.isdir(path):
            raise ValueError(f"folder:{path} is not a folder")
        has_own_splits = all(os.path.isdir(os.path.join(path, name)) for name in ("train", "test"))
        if has_own_splits:
            if split not in ("train", "test"):
                raise ValueError(
                    f"folder:{path} has train/ and test/ subfolders: ask for split 'train' or 'test'"
                )
            root = os.path.join(path, split)
            relative_paths = list_images(root)
        else:
            root = path
            relative_paths = list_images(root)
            relative_paths = [
                relative_paths[index] for index in holdout_split(relative_paths, split, holdout_fraction)
            ]
        if not relative_paths:
            raise ValueError(
                f"folder:{path} has no images for split {split!r} (looked for {', '.join(IMAGE_EXTENSIONS)} "
                f"files below {root}); add images, check the path, or ask for split 'all'"
            )
        self.spec, self.split, self.root = f"folder:{path}", split, root
        self.image_size, self.num_channels = image_size or DEFAULT_IMAGE_SIZE, channels
        self.background, self.max_pixels = tuple(background), max_pixels
        self.relative_paths = relative_paths
        metadata = read_metadata_captions(root)
        self.captions = [
            metadata.get(name) or read_sidecar_caption(os.path.join(root, name)) for name in relative_paths
        ]
        self.has_captions = any(text is not None for text in self.captions)
        self.labels, self.label_names = self._labels_from_subfolders(relative_paths)

    @staticmethod
    def _labels_from_subfolders(relative_paths: list[str]) -> tuple[list[int] | None, list[str] | None]:
        if any("/" not in name for name in relative_paths):
            return None, None
        classes = sorted({name.split("/")[0] for name in relative_paths})
        index_of = {name: index for index, name in enumerate(classes)}
        return [index_of[name.split("/")[0]] for name in relative_paths], classes

    def __len__(self) -> int:
        return len(self.relative_paths)

    def read(self, index: int) -> Example:
        path = os.path.join(self.root, self.relative_paths[index])
        try:
            image = to_model_input(
                path, self.image_size, self.num_channels, self.background, self.max_pixels
            )  # (C, S, S)
        except ImageError as error:
            raise ImageError(f"image {index} of {self.spec}: {error}") from error
        label = self.labels[index] if self.labels is not None else None
        return Example(image=image, label=label, caption=self.captions[index])
