"""The hf:NAME source, offline, on tiny datasets the test saves to disk."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vaestudio.data import open_source

datasets = pytest.importorskip("datasets", reason="hf: sources are the optional extra vaestudio[hf]")


def png(color) -> Image.Image:
    return Image.new("RGB", (10, 10), color)


def tiny_dataset(count: int):
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=["dark", "bright"]),
            "text": datasets.Value("string"),
        }
    )
    rows = {
        "image": [png((index * 5, 0, 0)) for index in range(count)],
        "label": [index % 2 for index in range(count)],
        "text": [f"picture {index}" for index in range(count)],
    }
    return datasets.Dataset.from_dict(rows, features=features)


def test_a_saved_dataset_dict_gives_its_splits(tmp_path):
    path = str(tmp_path / "tiny")
    datasets.DatasetDict({"train": tiny_dataset(6), "validation": tiny_dataset(3)}).save_to_disk(path)
    train, test = open_source(f"hf:{path}", "train", image_size=8), open_source(f"hf:{path}", "test")
    assert (len(train), len(test)) == (6, 3)  # test falls back to validation
    assert train.label_names == ["dark", "bright"] and train.has_captions and train.num_channels == 3
    example = train[4]
    assert example.image.shape == (3, 8, 8)
    assert example.label == 0 and example.caption == "picture 4"
    assert torch.allclose(example.image[0, 4, 4], torch.tensor(20 / 255))


def test_a_single_saved_dataset_uses_a_holdout_and_named_columns(tmp_path):
    path = str(tmp_path / "plain")
    buffer = io.BytesIO()
    png((0, 0, 255)).save(buffer, format="PNG")
    rows = {"picture_bytes": [buffer.getvalue()] * 40, "description": ["blue"] * 40}
    features = datasets.Features({"picture_bytes": datasets.Image(), "description": datasets.Value("string")})
    datasets.Dataset.from_dict(rows, features=features).save_to_disk(path)
    train = open_source(
        f"hf:{path}", "train", image_column="picture_bytes", caption_column="description", channels=1
    )
    test = open_source(f"hf:{path}", "test")
    assert len(train) + len(test) == 40
    assert train.label_names is None and train[0].caption == "blue" and train[0].image.shape == (1, 64, 64)
    assert np.isclose(float(train[0].image.mean()), 29 / 255, atol=0.005)  # blue's luma, 0.114 * 255
    with pytest.raises(ValueError, match="no caption column 'nope'"):
        open_source(f"hf:{path}", caption_column="nope")
