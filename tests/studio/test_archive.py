"""Uploads unpacked into a visitor's workspace (studio.archive): caps, zip-slip, links, bombs; zips out."""

from __future__ import annotations

import io
import zipfile

import pytest

from studio import archive
from studio.archive import UploadCaps, UploadRefused, unpack
from tests.studio import hostile_uploads as hostile


def _everything_below(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_a_folder_zip_unpacks_with_its_captions_and_skips_other_files(tmp_path):
    home = tmp_path / "home"
    kept, skipped = unpack([str(hostile.good_folder_zip(tmp_path / "cats.zip"))], home / "uploads" / "cats")
    assert (kept, skipped) == (4, 1)
    assert _everything_below(home / "uploads") == ["cats", "cats/cats", "cats/cats/0.png", "cats/cats/1.png",
                                                   "cats/cats/2.png", "cats/cats/metadata.jsonl"]


def test_loose_images_are_copied_and_a_non_image_is_skipped(tmp_path):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    first.write_bytes(hostile.png_bytes())
    second.write_bytes(hostile.png_bytes((0, 0, 255)))
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    destination = tmp_path / "home" / "mine"
    assert unpack([str(first), str(second), str(tmp_path / "notes.pdf")], destination) == (2, 1)
    assert _everything_below(destination) == ["a.png", "b.png"]


@pytest.mark.parametrize("name", hostile.ESCAPE_NAMES)
def test_zip_slip_is_refused_and_nothing_is_kept(name, tmp_path):
    home = tmp_path / "root" / "home"
    home.mkdir(parents=True)
    upload = hostile.zip_slip(tmp_path / "slip.zip", name)
    with pytest.raises(UploadRefused, match="outside its folder"):
        unpack([str(upload)], home / "data")
    assert _everything_below(tmp_path / "root") == ["home"], "no staging folder, no escaped file"
    assert not list(tmp_path.rglob("escaped.png"))


def test_a_link_entry_is_refused(tmp_path):
    with pytest.raises(UploadRefused, match="link"):
        unpack([str(hostile.symlink_entry(tmp_path / "link.zip"))], tmp_path / "home" / "data")
    assert not (tmp_path / "home" / "data").exists()


def test_a_ratio_bomb_is_refused_before_inflating(tmp_path):
    bomb = hostile.ratio_bomb(tmp_path / "bomb.zip", megabytes=20)
    assert bomb.stat().st_size < 200_000
    with pytest.raises(UploadRefused, match="zip bomb"):
        unpack([str(bomb)], tmp_path / "home" / "data")
    assert not (tmp_path / "home").exists() or _everything_below(tmp_path / "home") == []


def test_a_total_above_the_cap_is_refused_even_when_no_entry_looks_like_a_bomb(tmp_path):
    upload = hostile.total_bomb(tmp_path / "many.zip", entries=20, entry_bytes=10_000)
    with pytest.raises(UploadRefused, match="more than"):
        unpack([str(upload)], tmp_path / "home" / "data", UploadCaps(max_total_bytes=150_000))
    assert unpack([str(upload)], tmp_path / "home" / "data", UploadCaps(max_total_bytes=250_000)) == (20, 0)


def test_too_many_entries_are_refused(tmp_path):
    upload = hostile.total_bomb(tmp_path / "many.zip", entries=30, entry_bytes=10)
    with pytest.raises(UploadRefused, match="at most 25"):
        unpack([str(upload)], tmp_path / "home" / "data", UploadCaps(max_files=25))


def test_a_header_that_lies_about_its_size_is_refused(tmp_path):
    with pytest.raises(UploadRefused):
        unpack([str(hostile.lying_header(tmp_path / "liar.zip"))], tmp_path / "home" / "data")
    assert not (tmp_path / "home" / "data").exists()


def test_a_damaged_zip_and_an_upload_without_images_are_refused_clearly(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(UploadRefused, match="not a readable zip"):
        unpack([str(tmp_path / "broken.zip")], tmp_path / "home" / "a")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    with pytest.raises(UploadRefused, match="no images"):
        unpack([str(tmp_path / "notes.pdf")], tmp_path / "home" / "b")
    assert not (tmp_path / "home" / "b").exists()


def test_an_existing_destination_is_not_overwritten(tmp_path):
    destination = tmp_path / "data"
    destination.mkdir()
    (destination / "keep.png").write_bytes(b"mine")
    image = tmp_path / "a.png"
    image.write_bytes(hostile.png_bytes())
    with pytest.raises(UploadRefused, match="already exists"):
        unpack([str(image)], destination)
    assert (destination / "keep.png").read_bytes() == b"mine"


def test_zip_folder_holds_the_files_and_skips_links(tmp_path):
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "sub" / "weights.bin").write_bytes(b"\x01\x02")
    secret = tmp_path / "secret.txt"
    secret.write_text("server secret")
    (folder / "secret-link").symlink_to(secret)
    with zipfile.ZipFile(io.BytesIO(archive.zip_folder(folder))) as packed:
        assert sorted(packed.namelist()) == ["config.json", "sub/weights.bin"]
        assert packed.read("sub/weights.bin") == b"\x01\x02"
    with pytest.raises(Exception, match="save the model first"):
        archive.zip_folder(tmp_path / "missing")
