"""Writes the shipped samples of a packaged data set (``vaestudio.data.shipped_samples``): the first test images
of each class (``PER_CLASS`` of them), in class order, as gzipped IDX files in vaestudio/data/samples/, and the
class names beside them when they are not the digits, and the captions when the images have some.

    python scripts/ship_data_samples.py mnist        # needs `vaestudio data get mnist` once
    python scripts/ship_data_samples.py emoji        # needs `vaestudio data get emoji` once
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys

import numpy as np

from vaestudio.data import open_source
from vaestudio.data.idx import write_idx
from vaestudio.data.shipped_samples import PER_CLASS, SAMPLES_FOLDER, captions_path, label_names_path, samples_path


def chosen_indices(labels: np.ndarray, per_class: int, styles: np.ndarray | None = None) -> np.ndarray:
    """The first ``per_class`` indices of each label, label by label: (classes * per_class,). With ``styles``
    (emoji's style of each image), the first image of each style in each class instead, so every style ships."""
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if styles is not None:
            members = np.array([members[styles[members] == style][0] for style in np.unique(styles[members])])
        chosen.append(members[:per_class])
    return np.concatenate(chosen)


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
    parser.add_argument("name", choices=sorted(PER_CLASS), help="a packaged data set")
    arguments = parser.parse_args(argv)
    source = open_source(arguments.name, split="test")
    styles = getattr(source, "style_ids", None)
    indices = chosen_indices(np.asarray(source.labels), PER_CLASS[arguments.name], styles)
    os.makedirs(SAMPLES_FOLDER, exist_ok=True)
    images_path = samples_path(arguments.name)
    write_gzip_idx(images_path, np.asarray(source.images)[indices].astype(np.uint8))
    write_gzip_idx(images_path.replace("images", "labels").replace("idx3", "idx1"),
                   np.asarray(source.labels)[indices].astype(np.uint8))
    names = list(getattr(source, "label_names", None) or [])
    if names and names != [str(digit) for digit in range(len(names))]:
        with open(label_names_path(arguments.name), "w", encoding="utf-8") as stream:
            stream.write("".join(f"{name}\n" for name in names))
    full_caption = getattr(source, "full_caption", None)  # emoji: "cat face in openmoji style, cat face pet"
    if full_caption is not None:
        with open(captions_path(arguments.name), "w", encoding="utf-8") as stream:
            stream.write("".join(f"{full_caption(int(index))}\n" for index in indices))
    print(f"wrote {len(indices)} {arguments.name} test images to {images_path} (and the labels beside it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
