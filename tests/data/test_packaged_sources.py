"""Packaged real data sets (mnist, fashion-mnist): finding, checking and loading their IDX files, the
messages for missing and damaged ones, and `vaestudio data list | get | show`. Every file here is a
small IDX file the test writes; nothing reaches the network."""

import dataclasses
import hashlib
import os

import numpy as np
import pytest
from PIL import Image

from vaestudio import cli
from vaestudio.data import catalogue, fetching, open_source
from vaestudio.data.cache import CACHE_ENVIRONMENT_VARIABLE
from vaestudio.data.fashion_mnist import FASHION_MNIST, FashionMnistSource
from vaestudio.data.idx import write_idx
from vaestudio.data.mnist import MNIST, MnistSource
from vaestudio.data.packaged import (
    DatasetChecksumError,
    DatasetFile,
    DatasetMissingError,
    PackagedDataset,
    locate,
)
from vaestudio.data.packaged_source import PackagedIdxSource

NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz")
TRAIN_COUNT, TEST_COUNT = 20, 10


def tiny_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        NAMES[0]: rng.integers(0, 256, (TRAIN_COUNT, 28, 28), dtype=np.uint8),
        NAMES[1]: (np.arange(TRAIN_COUNT) % 3).astype(np.uint8),  # 7, 7, 6 of labels 0, 1, 2
        NAMES[2]: rng.integers(0, 256, (TEST_COUNT, 28, 28), dtype=np.uint8),
        NAMES[3]: np.array([2] * 6 + [0] * 4, dtype=np.uint8),
    }


def write_tiny_files(folder) -> list[DatasetFile]:
    """Writes the four files and returns their declarations, hashed here with hashlib."""
    os.makedirs(folder, exist_ok=True)
    declared = []
    for name, array in tiny_arrays().items():
        path = os.path.join(folder, name)
        write_idx(path, array)
        data = open(path, "rb").read()
        declared.append(DatasetFile(name, len(data), hashlib.sha256(data).hexdigest()))
    return declared


def tiny_dataset(tmp_path, package_folder) -> PackagedDataset:
    declared = write_tiny_files(tmp_path / "published")
    return PackagedDataset(
        name="tiny", title="Tiny test set", files=tuple(declared), label_names=("circle", "square", "star"),
        licence="test", origin="the test", get_command="vaestudio data get tiny",
        package_folders=lambda: [str(package_folder)],
    )


class TinySource(PackagedIdxSource):
    dataset = None  # set per test


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENVIRONMENT_VARIABLE, str(tmp_path / "cache"))  # a cache of this test's own
    dataset = tiny_dataset(tmp_path, tmp_path / "package")
    monkeypatch.setattr(TinySource, "dataset", dataset)
    return dataset


def install(dataset: PackagedDataset, folder, tmp_path) -> None:
    os.makedirs(folder, exist_ok=True)
    for entry in dataset.files:
        with open(tmp_path / "published" / entry.name, "rb") as source, open(os.path.join(folder, entry.name), "wb") as target:
            target.write(source.read())


def test_the_package_folder_loads_with_labels_and_label_names(tiny, tmp_path):
    install(tiny, tmp_path / "package", tmp_path)
    arrays = tiny_arrays()
    train, test = TinySource("train"), TinySource("test")
    assert (len(train), len(test)) == (TRAIN_COUNT, TEST_COUNT)
    assert train.label_names == ["circle", "square", "star"] and train.spec == "tiny"
    example = test[3]
    assert example.label == 2
    assert np.allclose(example.image[0].numpy(), arrays[NAMES[2]][3] / 255.0, atol=1e-6)
    assert [train[index].label for index in range(4)] == [0, 1, 2, 0]


def test_the_cache_folder_is_used_when_the_package_is_not_installed(tiny, tmp_path):
    install(tiny, tiny.cache_folder(), tmp_path)  # the autouse fixture points the cache at a temporary folder
    assert locate(tiny) == tiny.cache_folder()
    assert len(TinySource("train")) == TRAIN_COUNT


def test_a_changed_byte_fails_the_checksum_with_the_file_and_the_command(tiny, tmp_path):
    folder = tmp_path / "package"
    install(tiny, folder, tmp_path)
    path = folder / NAMES[2]
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size, other content
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetChecksumError, match="SHA-256") as raised:
        TinySource("test")
    assert NAMES[2] in str(raised.value) and "vaestudio data get tiny" in str(raised.value)


def test_a_truncated_file_fails_on_its_size(tiny, tmp_path):
    folder = tmp_path / "package"
    install(tiny, folder, tmp_path)
    (folder / NAMES[1]).write_bytes((folder / NAMES[1]).read_bytes()[:-5])
    with pytest.raises(DatasetChecksumError, match=r"bytes, but the Tiny test set file is"):
        locate(tiny)


def test_a_missing_data_set_names_the_one_command_that_gets_it(tiny):
    with pytest.raises(DatasetMissingError, match="Get it with: vaestudio data get tiny"):
        TinySource("train")


def test_real_sources_without_their_files_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setattr(MnistSource, "dataset", dataclasses.replace(MNIST, package_folders=lambda: []))
    monkeypatch.setattr(FashionMnistSource, "dataset",
                        dataclasses.replace(FASHION_MNIST, package_folders=lambda: [str(tmp_path / "nowhere")]))
    with pytest.raises(DatasetMissingError, match=r"Get it with: vaestudio data get mnist$"):
        open_source("mnist", "train")
    with pytest.raises(DatasetMissingError, match=r"Get it with: vaestudio data get fashion-mnist$"):
        open_source("fashion-mnist", "test")
    with pytest.raises(ValueError, match="splits"):
        open_source("mnist", "all")


def test_the_real_sets_declare_the_published_files():
    assert [entry.size for entry in MNIST.files] == [47040016, 60008, 7840016, 10008]  # 16 + 60000 * 784, ...
    assert [entry.size for entry in FASHION_MNIST.files[1::2]] == [29491, 5125]
    assert FASHION_MNIST.label_names[:2] == ("T-shirt/top", "Trouser") and len(FASHION_MNIST.label_names) == 10
    assert all(len(entry.sha256) == 64 for entry in MNIST.files + FASHION_MNIST.files)


@pytest.fixture
def only_tiny_listed(tiny, monkeypatch):
    monkeypatch.setattr(catalogue, "PACKAGED", {"tiny": "(replaced below)"})
    monkeypatch.setattr(catalogue, "packaged_dataset", lambda name: tiny)
    return tiny


def test_data_list_says_what_is_installed_and_how_to_get_the_rest(only_tiny_listed, tmp_path, capsys):
    assert cli.main(["data", "list"]) == 0
    before = capsys.readouterr().out
    assert "tiny" in before and "not installed: get it with `vaestudio data get tiny`" in before
    assert "size: 0.0 MB" in before and "shapes" in before and "idx:PATH" in before
    install(only_tiny_listed, tmp_path / "package", tmp_path)
    assert cli.main(["data", "list"]) == 0
    assert f"installed in {tmp_path / 'package'}" in capsys.readouterr().out


def test_data_get_keeps_an_intact_install_and_refetches_a_damaged_one(tiny, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setitem(fetching.GETTERS, "tiny", lambda dataset: calls.append(dataset.name) or "fetched")
    install(tiny, tmp_path / "package", tmp_path)
    assert fetching.get(tiny) == str(tmp_path / "package") and calls == []
    (tmp_path / "package" / NAMES[0]).write_bytes(b"\0\0\x08\x01\0\0\0\0")
    assert fetching.get(tiny) == "fetched" and calls == ["tiny"]


def test_data_get_unpacks_the_debian_package_without_root(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENVIRONMENT_VARIABLE, str(tmp_path / "cache"))
    """`apt-get download` and `dpkg -x` are stand-ins here that lay out the package as Debian's does."""
    declared = write_tiny_files(tmp_path / "published")
    dataset = dataclasses.replace(FASHION_MNIST, files=tuple(declared))
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "apt-get").write_text('#!/bin/sh\n[ "$1" = download ] && touch "dataset-fashion-mnist_1_all.deb"\n')
    (tools / "dpkg").write_text(
        f'#!/bin/sh\nmkdir -p "$3/usr/share/datasets/fashion-mnist"\ncp {tmp_path / "published"}/* '
        '"$3/usr/share/datasets/fashion-mnist/"\n')
    for tool in tools.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    folder = fetching.unpack_debian_package(dataset)
    assert folder == dataset.cache_folder()
    assert sorted(os.listdir(folder)) == sorted(NAMES)


def test_data_show_writes_a_row_per_label_and_counts_them(tmp_path, capsys):
    write_tiny_files(tmp_path / "set")
    out = tmp_path / "grid.png"
    spec = f"idx:{tmp_path / 'set'}"
    assert cli.main(["data", "show", spec, "--split", "test", "--per-label", "4", "--scale", "1",
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "10 images of 1 x 28 x 28" in printed
    counts = dict(line.split() for line in printed.splitlines() if line.startswith("  "))
    assert counts == {"0": "4", "1": "0", "2": "6"}
    picture = Image.open(out)
    assert picture.size == (4 * 30 + 2, 3 * 30 + 2)  # 4 tiles of 28 + 2 padding a row, 3 labels
    row_of_label_1 = np.asarray(picture.convert("L"))[32:60, 2:30]
    assert row_of_label_1.min() == 255  # label 1 has no test image: its row is blank


def test_data_show_of_a_missing_set_fails_with_the_command(monkeypatch, capsys):
    monkeypatch.setattr(MnistSource, "dataset", dataclasses.replace(MNIST, package_folders=lambda: []))
    assert cli.main(["data", "show", "mnist"]) == 2
    assert "vaestudio data get mnist" in capsys.readouterr().err


def test_data_get_of_an_unknown_name_lists_the_known_ones(capsys):
    assert cli.main(["data", "get", "cifar"]) == 2
    assert "mnist" in capsys.readouterr().err
