"""One spec string names a data source everywhere (CLI, recipes, studio): ``open_source``.

| spec          | source                                  | splits                 | default size |
|---------------|-----------------------------------------|------------------------|--------------|
| shapes        | procedural shapes world, captions       | train, test            | 64           |
| digits        | scikit-learn digits, labels, captions   | train, test, all       | 8            |
| mnist         | MNIST digits (`vaestudio data get`)      | train, test            | 28           |
| fashion-mnist | Fashion-MNIST (`vaestudio data get`)     | train, test            | 28           |
| emoji         | Noto, Twemoji, OpenMoji (`data get`)     | train, test, all       | 64           |
| emoji-font    | Noto Color Emoji font renders, captions | train, test, all       | 32           |
| photos        | desktop backgrounds (`vaestudio data get`)| train (crops), test, all | 256        |
| folder:PATH   | your images (+ metadata.jsonl / .txt)   | train, test, all       | 64           |
| idx:PATH      | MNIST-format IDX files (+ labels)       | train, test, all       | native       |
| hf:NAME       | Hugging Face datasets (optional extra)  | train, test, all       | 64           |

Every source also takes ``binarize`` (None, "static", "dynamic") and ``binarize_seed``; see source.py.
Each module's docstring documents its own options.
"""

from __future__ import annotations

import importlib
import inspect
import os

from vaestudio.data.source import ImageSource

# name -> (module, class, the argument that the part after "name:" fills, or None when it takes none).
# Modules are imported only when used, so that e.g. `datasets` is needed only for hf: sources.
SOURCES: dict[str, tuple[str, str, str | None]] = {
    "shapes": ("vaestudio.worlds.shapes.source", "ShapesSource", None),
    "digits": ("vaestudio.data.digits", "DigitsSource", None),
    "mnist": ("vaestudio.data.mnist", "MnistSource", None),
    "fashion-mnist": ("vaestudio.data.fashion_mnist", "FashionMnistSource", None),
    "emoji": ("vaestudio.data.emoji", "EmojiSource", None),
    "photos": ("vaestudio.data.photos", "PhotosSource", None),
    "emoji-font": ("vaestudio.data.emoji_font", "EmojiFontSource", None),
    "folder": ("vaestudio.data.folder", "FolderSource", "path"),
    "idx": ("vaestudio.data.idx", "IdxSource", "path"),
    "hf": ("vaestudio.data.hub", "HubSource", "name"),
}
KNOWN_SPECS = ("shapes", "digits", "mnist", "fashion-mnist", "emoji", "emoji-font", "photos", "folder:PATH", "idx:PATH",
               "hf:NAME")


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'folder:/data/cats' -> ('folder', '/data/cats'); 'shapes' -> ('shapes', None)."""
    name, separator, argument = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in SOURCES:
        raise ValueError(f"unknown data source {spec!r}; known sources: {', '.join(KNOWN_SPECS)}")
    argument_name = SOURCES[name][2]
    if argument_name is None and separator:
        raise ValueError(f"the {name!r} source takes no argument, got {spec!r}")
    if argument_name is not None and not argument:
        raise ValueError(f"the {name!r} source needs a {argument_name}: write {name}:{argument_name.upper()}")
    return name, (argument or None)


def source_class(name: str) -> type[ImageSource]:
    module, class_name, _ = SOURCES[name]
    return getattr(importlib.import_module(module), class_name)


def _check_options(name: str, options: dict) -> None:
    parameters = inspect.signature(source_class(name).__init__).parameters
    accepted = [key for key in parameters if key not in ("self", "split", "image_size", SOURCES[name][2])]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"the {name!r} source has no option(s) {unknown}; its options are {accepted}")


def open_source(spec: str, split: str = "train", image_size: int | None = None, **options) -> ImageSource:
    """The data source a spec string names (module docstring), for one split.

    ``image_size=None`` keeps the source's default size; ``binarize``/``binarize_seed`` work for every
    source; other ``options`` go to the source (unknown ones raise ValueError listing the valid ones).
    """
    name, argument = parse_spec(spec)
    binarize, binarize_seed = options.pop("binarize", None), options.pop("binarize_seed", 0)
    _check_options(name, options)
    argument_name = SOURCES[name][2]
    if argument_name is not None:
        options[argument_name] = os.path.expanduser(argument) if argument_name == "path" else argument
    source = source_class(name)(split=split, image_size=image_size, **options)
    source.set_binarize(binarize, binarize_seed)
    return source
