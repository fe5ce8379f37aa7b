"""The source class behind every packaged IDX data set (``mnist``, ``fashion-mnist``): the ``idx:`` reader
pointed at the checked folder that ``packaged.locate`` finds, with the data set's own label names.

Splits: ``train`` and ``test`` (the data set's own). Options as for ``idx:`` (``image_size``) plus
``binarize`` (every source). A missing data set raises ``DatasetMissingError`` with the command that
gets it; a damaged one ``DatasetChecksumError``.
"""

from __future__ import annotations

from vaestudio.data.idx import IdxSource
from vaestudio.data.packaged import SPLIT_PREFIXES, PackagedDataset, locate


class PackagedIdxSource(IdxSource):
    dataset: PackagedDataset  # set by each subclass

    def __init__(self, split: str = "train", image_size: int | None = None) -> None:
        if split not in SPLIT_PREFIXES:
            raise ValueError(f"{self.dataset.name} has splits {list(SPLIT_PREFIXES)}, not {split!r}")
        super().__init__(locate(self.dataset), split=split, image_size=image_size)
        self.spec = self.dataset.name
        self.label_names = list(self.dataset.label_names)
