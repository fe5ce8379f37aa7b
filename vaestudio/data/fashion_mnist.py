"""The ``fashion-mnist`` source: Xiao, Rasul & Vollgraf's Fashion-MNIST (2017),
https://arxiv.org/abs/1708.07747 - Zalando article photos, 60,000 train and 10,000 test, 28 x 28 grey,
ten classes ("T-shirt/top", "Trouser", ...).

Its four gzipped IDX files come in the Debian package ``dataset-fashion-mnist``, installed in
/usr/share/datasets/fashion-mnist (``apt-get install dataset-fashion-mnist``); without root,
``vaestudio data get fashion-mnist`` unpacks the package into the cache instead (``data.fetching``).
Sizes and SHA-256 of the files as packaged are below; see ``packaged_source`` for splits and options.
"""

from __future__ import annotations

from vaestudio.data.packaged import DatasetFile, PackagedDataset
from vaestudio.data.packaged_source import PackagedIdxSource

DEBIAN_PACKAGE = "dataset-fashion-mnist"
PACKAGE_FOLDER = "/usr/share/datasets/fashion-mnist"

FASHION_MNIST = PackagedDataset(
    name="fashion-mnist",
    title="Fashion-MNIST",
    files=(
        DatasetFile("train-images-idx3-ubyte.gz", 26421856,
                    "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
        DatasetFile("train-labels-idx1-ubyte.gz", 29491,
                    "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
        DatasetFile("t10k-images-idx3-ubyte.gz", 4422079,
                    "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
        DatasetFile("t10k-labels-idx1-ubyte.gz", 5125,
                    "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
    ),
    label_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    licence="MIT (Zalando SE)",
    origin=f"Debian package {DEBIAN_PACKAGE} (apt-get)",
    get_command="vaestudio data get fashion-mnist",
    package_folders=lambda: [PACKAGE_FOLDER],
)


class FashionMnistSource(PackagedIdxSource):
    dataset = FASHION_MNIST
