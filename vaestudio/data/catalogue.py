"""Every data source in one table, for `vaestudio data list` and the studio's Train tab: where it comes
from, whether it is here (or the command that gets it), its size on disk and its licence.

Packaged real data sets (``PACKAGED``: mnist, fashion-mnist, emoji) are checked on disk; the built-in ones
are always here; ``folder:``, ``idx:`` and ``hf:`` are your own data.
"""

from __future__ import annotations

import importlib

from vaestudio.data.packaged import PackagedDataset, status

# spec name -> "module:attribute" of its PackagedDataset (imported when asked for)
PACKAGED = {
    "mnist": "vaestudio.data.mnist:MNIST",
    "fashion-mnist": "vaestudio.data.fashion_mnist:FASHION_MNIST",
    "emoji": "vaestudio.data.emoji_packages:EMOJI",
}

BUILT_IN = [
    {"name": "shapes", "title": "Procedural shapes world, captioned", "origin": "built in (rendered on use)",
     "licence": "the project's"},
    {"name": "digits", "title": "scikit-learn 8x8 digits (for fast tests)",
     "origin": "built in (Python package scikit-learn)", "licence": "CC BY 4.0 (UCI optical digits)"},
    {"name": "emoji-font", "title": "Noto Color Emoji font renders, named",
     "origin": "Debian package fonts-noto-color-emoji (apt-get install fonts-noto-color-emoji)",
     "licence": "OFL 1.1 (Noto fonts)"},
]
YOUR_OWN = [
    {"name": "folder:PATH", "title": "your images (+ metadata.jsonl or .txt captions)"},
    {"name": "idx:PATH", "title": "your MNIST-format IDX files"},
    {"name": "hf:NAME", "title": "a Hugging Face dataset (optional extra `datasets`)"},
]


def packaged_dataset(name: str) -> PackagedDataset:
    if name not in PACKAGED:
        raise ValueError(f"{name!r} is not a data set that `vaestudio data get` fetches; those are {list(PACKAGED)}")
    module, attribute = PACKAGED[name].split(":")
    return getattr(importlib.import_module(module), attribute)


def _emoji_status() -> dict:
    from vaestudio.data.emoji_font import FONT_PACKAGE, EmojiFontMissingError, find_font

    try:
        return {"installed": True, "folder": find_font()}
    except EmojiFontMissingError:
        return {"installed": False, "get_command": f"apt-get install {FONT_PACKAGE}"}


def _photos_entry() -> dict:
    """The ``photos`` source: fetched by `vaestudio data get photos`, installed when its manifest is there."""
    from vaestudio.data.photo_packages import PHOTO_PACKAGES, PhotosMissingError, photos_folder, read_manifest

    entry = {"name": "photos", "title": "Open desktop backgrounds (photos and drawings)",
             "origin": f"Debian packages {', '.join(PHOTO_PACKAGES)} (apt-get download + dpkg -x)",
             "licence": "per picture, from the packages' copyright files (listed in manifest.json)",
             "size_bytes": None, "installed": False, "folder": None, "problem": None,
             "get_command": "vaestudio data get photos"}
    try:
        read_manifest()
        entry.update(installed=True, folder=photos_folder())
    except PhotosMissingError:
        pass
    return entry


def list_sources() -> list[dict]:
    """One entry per source: name, title, origin, licence, size_bytes (None: not fixed), installed,
    folder, get_command (None: nothing to get) and problem (a damaged install, else None)."""
    entries = [status(packaged_dataset(name)) for name in PACKAGED]
    entries.append(_photos_entry())
    for entry in BUILT_IN:
        entries.append({**entry, "size_bytes": None, "installed": True, "folder": None, "problem": None,
                        "get_command": None})
        if entry["name"] == "emoji-font":
            entries[-1].update(_emoji_status())
    for entry in YOUR_OWN:
        entries.append({**entry, "origin": "your files", "licence": "yours", "size_bytes": None,
                        "installed": True, "folder": None, "problem": None, "get_command": None})
    return entries


def describe(entry: dict) -> str:
    """One line of status: "installed in FOLDER", "not installed: get it with CMD", or the problem."""
    if entry["problem"]:
        return f"damaged: {entry['problem']}"
    if not entry["installed"]:
        return f"not installed: get it with `{entry['get_command']}`"
    return f"installed in {entry['folder']}" if entry["folder"] else "available"


def provenance(spec: str) -> str | None:
    """"from ORIGIN; licence LICENCE" for a packaged or built-in source (model cards), else None."""
    name = spec.strip().lower()
    if name in PACKAGED:
        dataset = packaged_dataset(name)
        return f"{dataset.title}, from the {dataset.origin}; licence: {dataset.licence}"
    if name == "photos":
        entry = _photos_entry()
        return f"{entry['title']}, from the {entry['origin']}; licence: {entry['licence']}"
    for entry in BUILT_IN:
        if entry["name"] == name:
            return f"{entry['title']}, {entry['origin']}; licence: {entry['licence']}"
    return None


def label_names(spec: str | None) -> list[str] | None:
    """The label names of a packaged or built-in labelled source, known without reading its files (the
    studio's class pickers); None for other sources."""
    name = (spec or "").strip().lower()
    if name in PACKAGED:
        return list(packaged_dataset(name).label_names)
    if name == "digits":
        return [str(digit) for digit in range(10)]
    return None
