"""The ``photos`` source: licences from copyright files, one file per picture, the fetch through real .deb files
(built here with dpkg-deb: never the network), the fixed split and the random crops."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

from vaestudio.data import open_source
from vaestudio.data import photo_packages as packages
from vaestudio.data.cache import CACHE_ENVIRONMENT_VARIABLE
from vaestudio.data.copyright_files import licence_of, pattern_matches
from vaestudio.data.photos import PhotosSource

DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: test-wallpapers

Files: *
Copyright: 2020 Everyone
License: GPL-2+

Files: 16.04/Bridge_by_Someone.jpg
Copyright: 2018, Someone
           2019, Someone Else
License: CC-BY-SA-4.0

Files: themes/*/grub/*
Copyright: 2014 A Designer
License: CC0-1.0
 The full text may follow on continuation lines.

Files: debian/*
Copyright: 2021 The Packager
License: GPL-2+
"""

FREE_FORM = """This package was debianized by someone.

 - adwaita*
   Copyright 2011 Someone
   Licensed under Creative Commons Attribution-ShareAlike 3.0 License.

 - Stones.jpg:
   Licensed under Creative Commons Attribution 2.0 License.
"""


def test_the_last_matching_stanza_wins_and_patterns_match_installed_paths():
    bridge = licence_of(DEP5, "usr/share/backgrounds/Bridge_by_Someone.jpg")  # named by file name only
    assert bridge.licence == "CC-BY-SA-4.0" and bridge.per_file
    assert bridge.copyright == "2018, Someone 2019, Someone Else"
    grub = licence_of(DEP5, "usr/share/desktop-base/themes/joy/grub/grub-16x9.png")  # a tail of the path
    assert grub.licence == "CC0-1.0" and grub.copyright == "2014 A Designer"
    other = licence_of(DEP5, "usr/share/backgrounds/Other.jpg")
    assert other.licence == "GPL-2+" and not other.per_file  # only the package-wide "Files: *"


def test_a_file_no_stanza_names_has_no_licence():
    text = DEP5.replace("Files: *\nCopyright: 2020 Everyone\nLicense: GPL-2+\n\n", "")
    assert licence_of(text, "usr/share/backgrounds/Other.jpg") is None


def test_pattern_matching():
    assert pattern_matches("abstract/Elephants_*.jpg", "usr/share/backgrounds/mate/abstract/Elephants_3840x2160.jpg")
    assert not pattern_matches("abstract/Elephants_*.jpg", "usr/share/backgrounds/mate/nature/Elephants_1.jpg")
    assert pattern_matches("16.04/Wine.jpg", "usr/share/backgrounds/Wine.jpg")  # source folder not installed
    assert not pattern_matches("16.04/Wine.jpg", "usr/share/backgrounds/Wine2.jpg")


def test_a_free_form_copyright_file_gives_the_licences_it_names_for_the_whole_package():
    found = licence_of(FREE_FORM, "usr/share/backgrounds/gnome/adwaita-d.webp")
    assert found.licence == "Creative Commons Attribution-ShareAlike 3.0 / Creative Commons Attribution 2.0"
    assert not found.per_file
    assert licence_of("no licence is named here", "a.png") is None


def test_one_key_for_every_size_of_a_picture():
    key = packages.picture_key
    assert key("plasma", "usr/share/wallpapers/Altai/contents/images/5120x2880.png") == "plasma/altai"
    assert key("plasma", "usr/share/wallpapers/Altai/contents/images/1080x1920.png") == "plasma/altai"
    assert key("plasma", "usr/share/wallpapers/Kay/contents/images_dark/5120x2880.png") == "plasma/kay/dark"
    assert key("mate", "usr/share/backgrounds/mate/abstract/Elephants_3840x2160.jpg") == "mate/mate/abstract/elephants"
    assert key("mate", "usr/share/backgrounds/mate/abstract/Elephants.jpg") == "mate/mate/abstract/elephants"
    assert key("sway", "usr/share/backgrounds/sway/Blue_768x1024_Portrait.png") == "sway/sway/blue"


def write_picture(path: str, size: tuple[int, int], colour: tuple[int, int, int]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    pixels[...] = colour
    pixels[: size[1] // 2, : size[0] // 3] = (255 - colour[0], 10, 200)  # something to see in a crop
    Image.fromarray(pixels).save(path)


def unpacked_package(root: str, package: str, copyright_text: str = DEP5) -> str:
    """A package tree as dpkg -x leaves it: two sizes of one wallpaper, another, an icon, a screenshot."""
    write_picture(f"{root}/usr/share/wallpapers/Altai/contents/images/1080x1920.png", (540, 960), (10, 20, 30))
    write_picture(f"{root}/usr/share/wallpapers/Altai/contents/images/5120x2880.png", (1280, 720), (10, 20, 30))
    write_picture(f"{root}/usr/share/wallpapers/Altai/contents/screenshot.png", (800, 500), (1, 2, 3))
    write_picture(f"{root}/usr/share/backgrounds/Bridge_by_Someone.jpg", (900, 600), (200, 120, 40))
    write_picture(f"{root}/usr/share/icons/hicolor/256x256/apps/logo.png", (256, 256), (0, 0, 255))
    write_picture(f"{root}/usr/share/backgrounds/small.png", (300, 200), (0, 255, 0))
    os.makedirs(f"{root}/usr/share/doc/{package}", exist_ok=True)
    with open(f"{root}/usr/share/doc/{package}/copyright", "w", encoding="utf-8") as stream:
        stream.write(copyright_text)
    return root


def test_select_keeps_the_largest_size_of_each_picture_with_its_licence(tmp_path):
    root = unpacked_package(str(tmp_path / "tree"), "test-wallpapers")
    pictures, left_out = packages.select_pictures(root, "test-wallpapers")
    assert [picture.key for picture in pictures] == ["test-wallpapers/altai", "test-wallpapers/bridge_by_someone"]
    altai, bridge = pictures
    assert altai.installed_path.endswith("images/5120x2880.png") and (altai.width, altai.height) == (1280, 720)
    assert altai.licence == "GPL-2+" and bridge.licence == "CC-BY-SA-4.0"
    assert left_out == []


def test_select_leaves_out_a_picture_without_a_licence(tmp_path):
    text = DEP5.replace("Files: *\nCopyright: 2020 Everyone\nLicense: GPL-2+\n\n", "")
    root = unpacked_package(str(tmp_path / "tree"), "test-wallpapers", text)
    pictures, left_out = packages.select_pictures(root, "test-wallpapers")
    assert [picture.key for picture in pictures] == ["test-wallpapers/bridge_by_someone"]
    assert len(left_out) == 2 and all("states no licence" in line for line in left_out)  # both sizes of Altai


def build_deb(tmp_path, package: str) -> str:
    root = unpacked_package(str(tmp_path / f"{package}-root"), package)
    os.makedirs(f"{root}/DEBIAN")
    with open(f"{root}/DEBIAN/control", "w", encoding="utf-8") as stream:
        stream.write(f"Package: {package}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: Test <t@example.org>\n"
                     "Description: test wallpapers\n")
    deb = str(tmp_path / f"{package}_1.0-1_all.deb")
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", root, deb], check=True, capture_output=True)
    return deb


@pytest.mark.skipif(shutil.which("dpkg-deb") is None or shutil.which("apt-get") is None, reason="needs dpkg")
def test_get_unpacks_real_debs_into_stored_pictures_and_a_manifest(tmp_path, temporary_cache):
    names = ("first-wallpapers", "second-wallpapers")
    download = os.path.join(packages.photos_folder(), ".download")
    os.makedirs(download, exist_ok=True)
    for name in names:  # already downloaded: `apt-get download` is not called for them
        shutil.copy(build_deb(tmp_path, name), download)
    folder = packages.get_photos(force=True, packages=names)
    assert folder == packages.photos_folder() and not os.path.exists(download)
    pictures = packages.read_manifest(folder)
    assert sorted(picture.key for picture in pictures) == sorted(
        f"{name}/{picture}" for name in names for picture in ("altai", "bridge_by_someone"))
    for picture in pictures:
        with Image.open(os.path.join(folder, picture.file)) as stored:
            assert stored.mode == "RGB" and stored.size == (picture.width, picture.height)  # below the size cap
        assert picture.split in ("train", "test") and picture.licence
    with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as stream:
        assert json.load(stream)["packages"] == list(names)


def test_large_pictures_are_stored_with_a_capped_long_side(tmp_path):
    source, target = str(tmp_path / "big.png"), str(tmp_path / "stored" / "big.png")
    Image.new("RGBA", (3000, 1000), (10, 20, 30, 0)).save(source)  # transparent: composited on white
    packages.store_picture(source, target)
    with Image.open(target) as stored:
        assert stored.size == (packages.STORED_LONG_SIDE, 512) and stored.mode == "RGB"
        assert stored.getpixel((5, 5)) == (255, 255, 255)


def test_the_split_is_by_picture_and_fixed_by_its_key():
    pictures = [packages.Picture(f"p/{index}", "p", f"{index}.png", 600, 600, "GPL-2+", "", True)
                for index in range(200)]
    first = {picture.key: picture.split for picture in packages.assign_splits(pictures)}
    again = {picture.key: picture.split for picture in packages.assign_splits(pictures[50:])}  # fewer pictures
    assert all(first[key] == split for key, split in again.items())
    assert 5 <= sum(split == "test" for split in first.values()) <= 35  # about 9 %


def installed_photos(folder: str, count: int = 6) -> list[packages.Picture]:
    os.makedirs(os.path.join(folder, "pictures"), exist_ok=True)
    pictures = []
    for index in range(count):
        file = f"pictures/p{index}.png"
        write_picture(os.path.join(folder, file), (160 + 8 * index, 96), (40 * index, 100, 200))
        pictures.append(packages.Picture(f"pkg/p{index}", "pkg", f"usr/p{index}.png", 160 + 8 * index, 96,
                                         "CC0-1.0", "", True, file, "test" if index < 2 else "train"))
    packages.write_manifest(folder, pictures, [])
    return pictures


def test_the_source_gives_whole_pictures_for_test_and_random_crops_for_train(tmp_path):
    folder = str(tmp_path / "photos")
    installed_photos(folder)
    test = PhotosSource("test", image_size=32, folder=folder)
    assert len(test) == 2 and test[0].image.shape == (3, 32, 32)
    assert torch.equal(test[1].image, PhotosSource("test", image_size=32, folder=folder)[1].image)
    train = PhotosSource("train", image_size=24, crops_per_picture=5, folder=folder)
    assert len(train) == 4 * 5 and train.picture(5).key == "pkg/p3"
    first = [train[index].image for index in range(8)]
    assert all(image.shape == (3, 24, 24) and 0 <= image.min() and image.max() <= 1 for image in first)
    assert torch.equal(train[3].image, first[3])  # deterministic within an epoch
    assert not all(torch.equal(a, b) for a, b in zip(first[:4], first[4:8]))  # same pictures, other crops
    train.set_epoch(1)
    assert not all(torch.equal(train[index].image, first[index]) for index in range(8))  # new crops each epoch


def test_the_source_opens_by_spec_and_says_how_to_get_missing_photos(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENVIRONMENT_VARIABLE, str(tmp_path / "empty-cache"))
    with pytest.raises(packages.PhotosMissingError, match="Get them with: vaestudio data get photos"):
        open_source("photos", split="test")
    installed_photos(packages.photos_folder())
    assert len(open_source("photos", split="all", image_size=16)) == 6
    with pytest.raises(ValueError, match="splits"):
        PhotosSource("validation")
