"""Reading a run's ``log.jsonl`` (while it is being written) into the curves the Train tab plots, one plot each:
the loss, the reconstruction term, the KL term, the bound, the KL weight, and for VQ models the commitment,
the codebook usage and the perplexity.

``log.jsonl`` holds one JSON object per log step (:class:`vaestudio.training.progress.ProgressReporter`):
``{"step": 50, "loss": ..., "reconstruction": ..., "kl": ..., "elbo": ..., "kl_weight": ..., ...}``. A line the
writer has not finished yet (or a kill cut off) is skipped, so a reader never fails on a live run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

LOG_FILE = "log.jsonl"


@dataclasses.dataclass(frozen=True)
class CurveSpec:
    name: str
    title: str
    fields: tuple[str, ...]  # log.jsonl fields drawn on this plot, one line each


CURVES = (
    CurveSpec("loss", "Loss (what the optimiser minimises)", ("loss",)),
    CurveSpec("reconstruction", "Reconstruction term (log p(x|z) for VAEs, nats; an error for VQ models)",
              ("reconstruction",)),
    CurveSpec("kl", "KL term (nats)", ("kl",)),
    CurveSpec("bound", "Bound on log p(x) (nats)", ("elbo", "iwae")),
    CurveSpec("kl_weight", "KL weight (beta times the warm-up)", ("kl_weight",)),
    CurveSpec("commitment", "Commitment (and codebook) loss", ("commitment", "codebook_loss")),
    CurveSpec("usage", "Codebook usage (fraction of codes in use this epoch)", ("usage", "top_usage")),
    CurveSpec("perplexity", "Codebook perplexity (batch; and this epoch's usage)", ("perplexity", "usage_perplexity")),
)


@dataclasses.dataclass(frozen=True)
class Curve:
    name: str
    title: str
    points: tuple[tuple[int, str, float], ...]  # (step, field, value), by step


def read_log(path: str) -> list[dict[str, Any]]:
    """The records of a ``log.jsonl`` (a file or the run folder holding it); [] while it does not exist yet."""
    if os.path.isdir(path):
        path = os.path.join(path, LOG_FILE)
    try:
        with open(path, encoding="utf-8") as stream:
            lines = stream.read().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # the line being written right now
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    return records


def curves(records: list[dict[str, Any]]) -> list[Curve]:
    """The curves these records have (in the order of ``CURVES``); a curve with no finite value is left out."""
    found = []
    for spec in CURVES:
        points = tuple(
            (int(record["step"]), field, float(record[field]))
            for record in records for field in spec.fields
            if isinstance(record.get(field), (int, float)) and not isinstance(record.get(field), bool)
            and math.isfinite(record[field])
        )
        if points:
            found.append(Curve(spec.name, spec.title, points))
    return found


def read_curves(run_directory: str) -> list[Curve]:
    """The curves of a run folder's ``log.jsonl`` so far."""
    return curves(read_log(run_directory))
