"""The folder:PATH source: captions from metadata.jsonl or sidecar .txt, labels from subfolders, splits."""

import json

import pytest
import torch
from PIL import Image

from vaestudio.data import ImageError, open_source

COLORS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}


def save(path, color, size=(12, 10), image_format=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, COLORS[color]).save(path, format=image_format)


def test_metadata_jsonl_captions(tmp_path):
    for name in COLORS:
        save(tmp_path / f"{name}.png", name)
    with open(tmp_path / "metadata.jsonl", "w") as stream:
        for name in COLORS:
            stream.write(json.dumps({"file_name": f"{name}.png", "text": f"a {name} square"}) + "\n")
    source = open_source(f"folder:{tmp_path}", "all", image_size=16)
    assert len(source) == 3 and source.has_captions and source.label_names is None
    for index in range(3):
        example = source[index]
        name = source.relative_paths[index].removesuffix(".png")
        assert example.caption == f"a {name} square"
        assert example.image.shape == (3, 16, 16)
        assert torch.allclose(example.image[:, 8, 8], torch.tensor(COLORS[name], dtype=torch.float32) / 255)


def test_sidecar_txt_captions_and_subfolder_labels(tmp_path):
    save(tmp_path / "cats" / "one.jpg", "red")
    (tmp_path / "cats" / "one.txt").write_text("a red cat\n")
    save(tmp_path / "dogs" / "two.webp", "blue", image_format="WEBP")
    save(tmp_path / "dogs" / "deep" / "three.bmp", "green")
    source = open_source(f"folder:{tmp_path}", "all", channels=1, image_size=8)
    assert source.label_names == ["cats", "dogs"]
    assert [source[index].label for index in range(3)] == [0, 1, 1]
    assert source[0].caption == "a red cat" and source[1].caption is None
    assert source[0].image.shape == (1, 8, 8)


def test_train_and_test_subfolders_are_the_splits(tmp_path):
    for split, count in (("train", 3), ("test", 2)):
        for index in range(count):
            save(tmp_path / split / "things" / f"{index}.png", "red")
    assert len(open_source(f"folder:{tmp_path}", "train")) == 3
    assert len(open_source(f"folder:{tmp_path}", "test")) == 2
    with pytest.raises(ValueError, match="split 'train' or 'test'"):
        open_source(f"folder:{tmp_path}", "all")


def test_holdout_split_is_deterministic_and_disjoint(tmp_path):
    for index in range(60):
        save(tmp_path / f"{index:03d}.gif", "blue", size=(4, 4))
    train = open_source(f"folder:{tmp_path}", "train")
    test = open_source(f"folder:{tmp_path}", "test", holdout_fraction=0.1)
    assert set(train.relative_paths).isdisjoint(test.relative_paths)
    assert len(train) + len(test) == 60 and 1 <= len(test) <= 15
    assert open_source(f"folder:{tmp_path}", "test").relative_paths == test.relative_paths


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match="has no images"):
        open_source(f"folder:{tmp_path}", "all")
    with pytest.raises(ValueError, match="is not a folder"):
        open_source(f"folder:{tmp_path / 'absent'}")


def test_unreadable_image_is_an_error_naming_the_file(tmp_path):
    save(tmp_path / "good.png", "red")
    (tmp_path / "broken.png").write_bytes(b"definitely not a png")
    source = open_source(f"folder:{tmp_path}", "all")
    assert len(source) == 2  # never skipped: indices stay stable
    broken = source.relative_paths.index("broken.png")
    with pytest.raises(ImageError, match=r"broken\.png is not an image"):
        source[broken]
    assert source[1 - broken].image.shape == (3, 64, 64)


def test_bad_metadata_line_is_a_clear_error(tmp_path):
    save(tmp_path / "a.png", "red")
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "a.png"}\n')
    with pytest.raises(ValueError, match=r"metadata.jsonl, line 1"):
        open_source(f"folder:{tmp_path}", "all")
