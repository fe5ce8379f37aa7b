"""The idx:PATH source: MNIST-format files written by the test, validation of corrupt files."""

import numpy as np
import pytest
import torch

from vaestudio.data import open_source
from vaestudio.data.idx import IdxError, read_idx, write_idx


@pytest.fixture
def mnist_folder(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 30), ("t10k", 10)):
        write_idx(
            str(tmp_path / f"{prefix}-images-idx3-ubyte"),
            rng.integers(0, 256, (count, 28, 28), dtype=np.uint8),
        )
        write_idx(str(tmp_path / f"{prefix}-labels-idx1-ubyte"), (np.arange(count) % 10).astype(np.uint8))
    return tmp_path


def test_round_trip_of_every_idx_type(tmp_path):
    for dtype in (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64):
        array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
        for name in ("plain-idx", "packed-idx.gz"):
            path = str(tmp_path / name)
            write_idx(path, array)
            loaded = read_idx(path)
            assert loaded.dtype == np.dtype(dtype) and np.array_equal(loaded, array)


def test_header_is_big_endian(tmp_path):
    path = tmp_path / "x-images-idx3-ubyte"
    write_idx(str(path), np.zeros((2, 3, 300), dtype=np.uint8))
    assert path.read_bytes()[:16] == bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 1, 44])


def test_mnist_style_folder_gives_train_and_test(mnist_folder):
    train, test = open_source(f"idx:{mnist_folder}", "train"), open_source(f"idx:{mnist_folder}", "test")
    assert (len(train), len(test)) == (30, 10)
    assert (
        train.num_channels == 1
        and train.image_size == 28
        and train.label_names == [str(k) for k in range(10)]
    )
    expected = read_idx(str(mnist_folder / "t10k-images-idx3-ubyte"))[3]
    example = test[3]
    assert example.label == 3 and example.caption is None
    assert torch.equal(example.image[0], torch.from_numpy(expected).float() / 255)
    assert open_source(f"idx:{mnist_folder}", image_size=14)[0].image.shape == (1, 14, 14)


def test_single_file_without_labels_uses_a_holdout(tmp_path):
    path = tmp_path / "faces.idx3-ubyte"
    write_idx(str(path), np.full((50, 6, 6, 3), 200, dtype=np.uint8))
    train, test = open_source(f"idx:{path}", "train"), open_source(f"idx:{path}", "test")
    assert len(train) + len(test) == 50 and len(test) >= 1
    assert train.num_channels == 3 and train.label_names is None and train[0].label is None
    assert len(open_source(f"idx:{path}", "all")) == 50


def test_dynamic_binarisation_of_idx(mnist_folder):
    source = open_source(f"idx:{mnist_folder}", binarize="dynamic")
    first = source[0].image
    assert set(first.unique().tolist()) == {0.0, 1.0}
    source.set_epoch(5)
    assert not torch.equal(first, source[0].image)


def test_truncated_file_is_a_clear_error(mnist_folder):
    path = mnist_folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(IdxError, match=r"is truncated.*\(30, 28, 28\)"):
        open_source(f"idx:{mnist_folder}", "train")


def test_extra_bytes_and_bad_magic_are_clear_errors(tmp_path):
    path = tmp_path / "a-images-idx3-ubyte"
    write_idx(str(path), np.zeros((2, 2, 2), dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"junk")
    with pytest.raises(IdxError, match="extra bytes"):
        read_idx(str(path))
    path.write_bytes(b"\x1f\x8b\x08\x00rest of a gzip file")
    with pytest.raises(IdxError, match="not an IDX file.*compressed"):
        read_idx(str(path))
    path.write_bytes(b"\x00\x00")
    with pytest.raises(IdxError, match="too short"):
        read_idx(str(path))


def test_labels_that_do_not_match_the_images_are_an_error(mnist_folder):
    write_idx(str(mnist_folder / "train-labels-idx1-ubyte"), np.zeros(7, dtype=np.uint8))
    with pytest.raises(IdxError, match="labels for 30 images"):
        open_source(f"idx:{mnist_folder}", "train")


def test_non_image_arrays_are_rejected(tmp_path):
    path = tmp_path / "b-images-idx3-ubyte"
    write_idx(str(path), np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(IdxError, match="expected uint8 images"):
        open_source(f"idx:{path}", "all")
    with pytest.raises(ValueError, match="does not exist"):
        open_source(f"idx:{tmp_path / 'absent'}")
