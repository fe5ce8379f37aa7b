"""The npm packages behind the ``emoji`` source: pinned tarballs, their checksums, styles and licences.

``vaestudio data get emoji`` runs ``npm pack NAME@VERSION`` for each package below (npm's own registry
settings, certificates and proxies) and keeps the four ``.tgz`` files, size and SHA-256 checked, in
``<cache>/data/emoji``; the source reads them in place (nothing is unpacked).

| package                         | what the source takes                                   | licence of that part      |
|---------------------------------|---------------------------------------------------------|---------------------------|
| emoji-datasource-google 16.0.0  | 64 x 64 PNGs of Google's Noto emoji (style ``noto``)     | Apache 2.0 (images)       |
| emoji-datasource-twitter 16.0.0 | 64 x 64 PNGs of Twemoji (style ``twemoji``), emoji.json  | CC BY 4.0 (images)        |
| openmoji 17.0.0                 | colour SVGs of OpenMoji (style ``openmoji``)             | CC BY-SA 4.0 (graphics)   |
| emojibase-data 17.0.0           | CLDR names, keywords, groups and subgroups (English)     | MIT (data from CLDR, Unicode licence) |

The emoji-datasource code and data files are MIT (Cal Henderson). No Apple or Facebook images are read
(those packages are not fetched; the Google and Twitter packages hold only their own set).
"""

from __future__ import annotations

import dataclasses

from vaestudio.data.packaged import DatasetFile, PackagedDataset


@dataclasses.dataclass(frozen=True)
class NpmPackage:
    name: str  # the npm name, e.g. "openmoji"
    version: str
    file: DatasetFile  # the tarball `npm pack` writes, with its published size and SHA-256
    licence: str


@dataclasses.dataclass(frozen=True)
class EmojiStyle:
    name: str  # the word a prompt uses: "noto", "twemoji", "openmoji"
    title: str
    package: str  # the npm package holding its images
    licence: str


PACKAGES = (
    NpmPackage("emoji-datasource-google", "16.0.0", DatasetFile(
        "emoji-datasource-google-16.0.0.tgz", 74344091,
        "fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438"),
        "images Apache 2.0 (Google Noto emoji); data MIT (emoji-datasource)"),
    NpmPackage("emoji-datasource-twitter", "16.0.0", DatasetFile(
        "emoji-datasource-twitter-16.0.0.tgz", 61683754,
        "f64a530c63bca463bd8317fdc4615ce63a53a0c65018e4ce2d848aaba7a28877"),
        "images CC BY 4.0 (Twemoji, Twitter and contributors); data MIT (emoji-datasource)"),
    NpmPackage("openmoji", "17.0.0", DatasetFile(
        "openmoji-17.0.0.tgz", 4339458,
        "55ee7d13485dec86e9f38c1f3a645a13382d33ff97c0cd845ee824b0aef45e68"),
        "graphics CC BY-SA 4.0 (OpenMoji, HfG Schwaebisch Gmuend)"),
    NpmPackage("emojibase-data", "17.0.0", DatasetFile(
        "emojibase-data-17.0.0.tgz", 6711091,
        "d01d0e2ca4e22cb402679532155342c71e2e871f25c32223c013b8b166ebdf5a"),
        "MIT (emojibase); names and keywords from Unicode CLDR (Unicode licence)"),
)
PACKAGE_BY_NAME = {package.name: package for package in PACKAGES}

STYLES = (
    EmojiStyle("noto", "Google Noto emoji", "emoji-datasource-google", "Apache 2.0"),
    EmojiStyle("twemoji", "Twemoji", "emoji-datasource-twitter", "CC BY 4.0"),
    EmojiStyle("openmoji", "OpenMoji", "openmoji", "CC BY-SA 4.0"),
)
STYLE_NAMES = tuple(style.name for style in STYLES)
LICENCE = "Noto images Apache 2.0; Twemoji CC BY 4.0; OpenMoji CC BY-SA 4.0; CLDR names/keywords (emojibase) MIT"


def tarball_path(folder: str, package: str) -> str:
    import os

    return os.path.join(folder, PACKAGE_BY_NAME[package].file.name)


EMOJI = PackagedDataset(
    name="emoji",
    title="Emoji in three open styles (Noto, Twemoji, OpenMoji), CLDR names and keywords",
    files=tuple(package.file for package in PACKAGES),
    label_names=(),  # the source's labels are CLDR subgroups, read from emojibase-data
    licence=LICENCE,
    origin="npm packages " + ", ".join(f"{package.name}@{package.version}" for package in PACKAGES),
    get_command="vaestudio data get emoji",
    package_folders=list,  # no package installs them: only the cache
)
