"""`vaestudio data get photos`: open desktop backgrounds (photos and drawings) from Debian packages.

``apt-get download`` fetches the packages of ``PHOTO_PACKAGES`` (apt's own sources, proxies and
signatures) into ``<cache>/data/photos/.download``; ``dpkg -x`` unpacks each into a temporary folder;
``select_pictures`` keeps one file per picture (the largest of its sizes: a wallpaper often ships at
several resolutions) and reads its licence from the package's copyright file (``copyright_files``).
A picture whose licence the file does not state is left out. Each kept picture is stored as a PNG
whose long side is at most ``STORED_LONG_SIDE`` in ``<cache>/data/photos/pictures/``, and
``manifest.json`` lists them with their package, installed path, size, licence, copyright and split.

Nothing here runs at training or serving time: the ``photos`` source only reads the manifest and the
stored PNGs. The split is by picture and fixed by its key: ``holdout_split`` (CRC-32 of the key), so a
picture is in the same split whatever other pictures are there.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile

from PIL import Image

from vaestudio.data.cache import cache_root
from vaestudio.data.copyright_files import licence_of
from vaestudio.data.source import holdout_split

PHOTO_PACKAGES = (
    "gnome-backgrounds",
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "lomiri-wallpapers",
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
    "ukui-wallpapers",
    "sway-backgrounds",
    "desktop-base",
)
PICTURE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
SKIPPED_WORDS = ("screenshot", "preview", "logo", "emblem", "icon", "plymouth", "pixmaps", "thumbnail")
MIN_SHORT_SIDE = 480  # smaller files are icons, logos and thumbnails, not pictures
STORED_LONG_SIDE = 1536
TEST_FRACTION = 0.09  # about 11 of the ~120 pictures
MANIFEST = "manifest.json"
_RESOLUTION = re.compile(r"\d+x\d+|portrait", re.IGNORECASE)
_NEUTRAL_FOLDERS = {"usr", "share", "backgrounds", "wallpapers", "contents", "images", "desktop-base", "wallpaper"}


class PhotosMissingError(ValueError):
    """The photos are not in the cache; the message gives the command that gets them."""


class FetchError(RuntimeError):
    """Getting the photos failed; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class Picture:
    key: str  # "plasma-workspace-wallpapers/altai": the package and the picture, whatever its sizes
    package: str
    installed_path: str  # where the package installs the file, e.g. usr/share/wallpapers/Altai/.../5120x2880.png
    width: int  # of the installed file
    height: int
    licence: str
    copyright: str
    licence_per_file: bool  # False: the package's copyright file states it for the whole package
    file: str = ""  # the stored PNG, relative to the photos folder
    split: str = ""


def photos_folder() -> str:
    return os.path.join(cache_root(), "data", "photos")


def picture_key(package: str, installed_path: str) -> str:
    """One key for every size of a picture: folders that only say "wallpaper" and resolution tokens dropped."""
    *folders, name = installed_path.lower().split("/")
    stem = os.path.splitext(name)[0]
    parts = ["dark" if folder == "images_dark" else folder for folder in folders if folder not in _NEUTRAL_FOLDERS]
    parts = [_RESOLUTION.sub("", part).strip("_-. ") for part in [*parts, stem]]
    parts = [re.sub(r"[_\-. ]{2,}", "_", part) for part in parts if part]
    return "/".join([package, *parts])


def _is_candidate(installed_path: str) -> bool:
    lowered = installed_path.lower()
    return lowered.endswith(PICTURE_EXTENSIONS) and not any(word in lowered for word in SKIPPED_WORDS)


def select_pictures(root: str, package: str) -> tuple[list[Picture], list[str]]:
    """The pictures of one unpacked package (``dpkg -x`` into ``root``), one per key, and what was left out.

    Returns (pictures sorted by key, ["installed path: why"] for files left out for want of a licence).
    """
    copyright_path = os.path.join(root, "usr", "share", "doc", package, "copyright")
    if not os.path.isfile(copyright_path):
        raise FetchError(f"{package} has no copyright file at {copyright_path}; is it a Debian binary package?")
    with open(copyright_path, encoding="utf-8", errors="replace") as stream:
        copyright_text = stream.read()
    best: dict[str, Picture] = {}
    left_out = []
    for path in sorted(glob.glob(os.path.join(root, "**", "*"), recursive=True)):
        installed = os.path.relpath(path, root).replace(os.sep, "/")
        if not os.path.isfile(path) or not _is_candidate(installed):
            continue
        try:
            with Image.open(path) as image:
                width, height = image.size
        except OSError:
            continue
        if min(width, height) < MIN_SHORT_SIDE:
            continue
        licence = licence_of(copyright_text, installed)
        if licence is None:
            left_out.append(f"{installed}: the copyright file of {package} states no licence for it")
            continue
        key = picture_key(package, installed)
        picture = Picture(key, package, installed, width, height, licence.licence, licence.copyright,
                          licence.per_file)
        if key not in best or width * height > best[key].width * best[key].height:
            best[key] = picture
    return [best[key] for key in sorted(best)], left_out


def store_picture(source_path: str, target_path: str) -> None:
    """The picture as an RGB PNG with its long side at most STORED_LONG_SIDE (LANCZOS), written atomically."""
    with Image.open(source_path) as image:
        image.draft("RGB", (STORED_LONG_SIDE, STORED_LONG_SIDE))  # JPEG: decode at a reduced scale when it can
        image.load()
        if image.mode in ("RGBA", "LA", "P"):
            image = image.convert("RGBA")
            canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(canvas, image)
        image = image.convert("RGB")
        scale = STORED_LONG_SIDE / max(image.size)
        if scale < 1:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        os.makedirs(os.path.dirname(target_path), exist_ok=True)
        partial = target_path + ".partial"
        image.save(partial, format="PNG", compress_level=1)
    os.replace(partial, target_path)


def assign_splits(pictures: list[Picture]) -> list[Picture]:
    test = set(holdout_split([picture.key for picture in pictures], "test", TEST_FRACTION))
    return [dataclasses.replace(picture, split="test" if index in test else "train")
            for index, picture in enumerate(pictures)]


def write_manifest(folder: str, pictures: list[Picture], left_out: list[str],
                   packages: tuple[str, ...] = PHOTO_PACKAGES) -> str:
    path = os.path.join(folder, MANIFEST)
    entries = {"packages": list(packages), "pictures": [dataclasses.asdict(picture) for picture in pictures],
               "left_out": left_out}
    with open(path + ".partial", "w", encoding="utf-8") as stream:
        json.dump(entries, stream, indent=1, ensure_ascii=False)
    os.replace(path + ".partial", path)
    return path


def read_manifest(folder: str | None = None) -> list[Picture]:
    """The stored pictures; PhotosMissingError (with the command) when `vaestudio data get photos` has not run."""
    folder = folder or photos_folder()
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        raise PhotosMissingError(f"the photos are not installed (no {path}). Get them with: vaestudio data get photos")
    with open(path, encoding="utf-8") as stream:
        entries = json.load(stream)
    return [Picture(**entry) for entry in entries["pictures"]]


def _run(command: list[str], cwd: str | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = " ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise FetchError(f"`{' '.join(command)}` failed (run `apt-get update` first?): {tail}")


def download_packages(download_folder: str, packages: tuple[str, ...] = PHOTO_PACKAGES) -> dict[str, str]:
    """package -> its .deb in ``download_folder``; `apt-get download` fetches the ones not there yet."""
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise FetchError("`vaestudio data get photos` needs apt-get and dpkg (Debian or Ubuntu)")
    os.makedirs(download_folder, exist_ok=True)

    def found(package: str) -> list[str]:
        return sorted(glob.glob(os.path.join(download_folder, f"{package}_*.deb")))

    missing = [package for package in packages if not found(package)]
    if missing:
        _run(["apt-get", "download", *missing], cwd=download_folder)
    debs = {package: found(package) for package in packages}
    absent = [package for package, files in debs.items() if not files]
    if absent:
        raise FetchError(f"apt-get download wrote no .deb for {absent} in {download_folder}")
    return {package: files[-1] for package, files in debs.items()}


def unpack_pictures(debs: dict[str, str], folder: str) -> tuple[list[Picture], list[str]]:
    """`dpkg -x` each .deb, select its pictures, store them under ``folder``/pictures; with their splits."""
    pictures, left_out = [], []
    for package, deb in debs.items():
        with tempfile.TemporaryDirectory(dir=folder) as root:
            _run(["dpkg", "-x", deb, root])
            selected, skipped = select_pictures(root, package)
            left_out += skipped
            for picture in selected:
                file = os.path.join("pictures", picture.key.replace("/", "__") + ".png")
                store_picture(os.path.join(root, picture.installed_path), os.path.join(folder, file))
                pictures.append(dataclasses.replace(picture, file=file))
    return assign_splits(sorted(pictures, key=lambda picture: picture.key)), left_out


def get_photos(force: bool = False, keep_downloads: bool = False, packages: tuple[str, ...] = PHOTO_PACKAGES) -> str:
    """Fetches and unpacks the photos into the cache (unless there already); returns the folder.

    A .deb already in ``<folder>/.download`` (an interrupted run, or one put there by hand) is not fetched again.
    """
    folder = photos_folder()
    if not force and os.path.isfile(os.path.join(folder, MANIFEST)):
        return folder
    os.makedirs(folder, exist_ok=True)
    download_folder = os.path.join(folder, ".download")
    pictures, left_out = unpack_pictures(download_packages(download_folder, packages), folder)
    write_manifest(folder, pictures, left_out, packages)
    if not keep_downloads:
        shutil.rmtree(download_folder, ignore_errors=True)
    return folder
