"""Small types and helpers that every package may use: the ``Batch`` a data source yields and a model
trains on, a regional condition, and atomic file writes. Imports nothing else from vaestudio."""

from vaestudio.common.batch import Batch, RegionalCondition
from vaestudio.common.files import atomic_write

__all__ = ["Batch", "RegionalCondition", "atomic_write"]
