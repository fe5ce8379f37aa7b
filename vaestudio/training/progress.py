"""What a run tells the outside while it trains: a tqdm bar, log lines, and events for a callback."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable

from PIL import Image
from tqdm import tqdm

from vaestudio.common.files import atomic_write


@dataclasses.dataclass
class ProgressEvent:
    """One report to ``train(..., progress_callback=...)``: after every logged step and every sample grid."""

    step: int
    total_steps: int
    loss: float  # mean over the steps since the last report
    logs: dict[str, float]
    images_per_second: float
    eta_seconds: float
    sample_grid: Image.Image | None = None  # set when this step drew samples


ProgressCallback = Callable[[ProgressEvent], None]


class Throughput:
    """Images per second over the run so far, not counting pauses (sampling, checkpointing)."""

    def __init__(self) -> None:
        self.images = 0
        self.seconds = 0.0
        self._started: float | None = None

    def start(self) -> None:
        self._started = time.perf_counter()

    def stop(self, images: int) -> None:
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self.images += images
            self._started = None

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


def _logged_step(line: str) -> int | None:
    """The step of a log.jsonl line; None for a blank line or one the kill cut off mid-write."""
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None


def keep_logged_steps_up_to(log_path: str, last_step: int) -> None:
    """Drops the lines of ``log_path`` logged after ``last_step`` (and any line cut off by a kill).

    A run killed after its last checkpoint logged steps that its resumed session trains again; without this
    they would be logged twice. The log is rewritten atomically, so a second kill loses nothing.
    """
    if not os.path.exists(log_path):
        return
    with open(log_path, encoding="utf-8") as stream:
        lines = stream.read().splitlines()
    kept = [line for line in lines if (step := _logged_step(line)) is not None and step <= last_step]
    if len(kept) != len(lines):
        def write(path: str) -> None:
            with open(path, "w", encoding="utf-8") as stream:
                stream.writelines(line + "\n" for line in kept)

        atomic_write(log_path, write)


class ProgressReporter:
    """Keeps the bar, the JSON-lines log (``log.jsonl``) and the callback in step.

    ``step`` after every optimizer step; ``drain`` then ``report`` at log steps (the trainer
    averages the drained numbers over ranks in between).
    """

    def __init__(self, total_steps: int, start_step: int, out_dir: str | None, show_bar: bool,
                 callback: ProgressCallback | None) -> None:
        self.total_steps = total_steps
        self.callback = callback
        self.log_path = os.path.join(out_dir, "log.jsonl") if out_dir else None
        if self.log_path:
            keep_logged_steps_up_to(self.log_path, start_step)
        self.bar = tqdm(total=total_steps, initial=start_step, desc="train", unit="step", dynamic_ncols=True,
                        disable=not show_bar, file=sys.stderr, smoothing=0.05)
        self._pending: list[dict[str, float]] = []

    def step(self, logs: dict[str, float], images_per_second: float) -> None:
        """Every step: advance the bar; remember the numbers for the next report."""
        self._pending.append(logs)
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.4g}", img_s=f"{images_per_second:.0f}",
                             refresh=False)

    def drain(self) -> dict[str, float]:
        """The mean of each logged number over the steps since the last drain."""
        names = sorted({name for logs in self._pending for name in logs})
        averaged = {
            name: sum(logs[name] for logs in self._pending if name in logs)
            / sum(name in logs for logs in self._pending)
            for name in names
        }
        self._pending = []
        return averaged

    def report(self, step: int, logs: dict[str, float], images_per_second: float,
               sample_grid: Image.Image | None = None) -> ProgressEvent:
        """Appends ``logs`` to log.jsonl and hands an event to the callback."""
        rate = self.bar.format_dict.get("rate") or 0.0  # steps per second, smoothed by tqdm
        remaining = self.total_steps - step
        event = ProgressEvent(step, self.total_steps, logs.get("loss", float("nan")), logs, images_per_second,
                              remaining / rate if rate else float("nan"), sample_grid)
        if logs and self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as stream:
                stream.write(json.dumps({"step": step, **logs, "images_per_second": images_per_second}) + "\n")
        if self.callback is not None:
            self.callback(event)
        return event

    def write(self, message: str) -> None:
        self.bar.write(message, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()
