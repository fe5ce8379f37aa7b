"""Background training runs for an engine: one thread each, a bounded number at a time.

The engine hands :meth:`TrainingJobs.start` a ``run(report, stop_event)`` callable; ``run`` calls
``report(step, loss, samples, total_steps)`` as it goes, watches ``stop_event``, and returns what it trained
(whatever the engine later needs to save or load it). Polling reads a snapshot, never the thread.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image

from studio.engine_api import BusyError, InputError, JobState, StudioError, TrainingStatus

log = logging.getLogger(__name__)

Report = Callable[..., None]  # report(step, loss, samples=None, total_steps=None)
Run = Callable[[Report, threading.Event], Any]

MAX_LOSS_POINTS = 2000  # the curve is thinned to about this many points


@dataclass
class _Job:
    status: TrainingStatus
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    result: Any = None
    timed_out: bool = False


class TrainingJobs:
    def __init__(self, max_running: int = 1, max_kept: int = 16, time_limit_seconds: float | None = None):
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._lock = threading.Lock()
        self._max_running = max_running
        self._max_kept = max(max_kept, max_running)
        self._time_limit = time_limit_seconds  # a run is stopped after this (hosted studios)

    def start(self, run: Run, total_steps: int, description: str) -> str:
        with self._lock:
            running = [job_id for job_id, job in self._jobs.items() if not job.status.done]
            if len(running) >= self._max_running > 1:
                raise BusyError(
                    f"All {self._max_running} training slots of this studio are busy. Try again in a few minutes."
                )
            if len(running) >= self._max_running:
                raise BusyError(
                    f"A training run is already going (job {running[0]}). Stop it or wait for it to "
                    "finish, then start again."
                )
            job_id = uuid.uuid4().hex[:8]
            job = _Job(TrainingStatus(job_id, JobState.RUNNING, 0, total_steps, (), None, description))
            self._jobs[job_id] = job
            self._forget_old_jobs()
        job.thread = threading.Thread(
            target=self._run, args=(job, run), name=f"training-{job_id}", daemon=True
        )
        job.thread.start()
        return job_id

    def status(self, job_id: str) -> TrainingStatus:
        return self._job(job_id).status

    def stop(self, job_id: str) -> TrainingStatus:
        job = self._job(job_id)
        job.stop_event.set()
        if job.thread is not None:
            job.thread.join(timeout=10)
        return job.status

    def result(self, job_id: str) -> Any:
        job = self._job(job_id)
        if job.status.state is JobState.RUNNING:
            raise BusyError("The training run is still going. Stop it or wait for it to finish first.")
        if job.result is None:
            raise InputError(f"Training job {job_id} has no model to keep: {job.status.message}")
        return job.result

    def _job(self, job_id: str) -> _Job:
        job = self._jobs.get((job_id or "").strip())
        if job is None:
            raise InputError(f"There is no training job {job_id!r}. Start a training run first.")
        return job

    def _forget_old_jobs(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.status.done]
        while len(self._jobs) > self._max_kept and finished:
            del self._jobs[finished.pop(0)]

    def _run(self, job: _Job, run: Run) -> None:
        def report(step: int, loss: float, samples: Image.Image | None = None, total_steps: int | None = None) -> None:
            status = job.status
            losses = _thin((*status.losses, (int(step), float(loss))))
            job.status = replace(
                status, step=int(step), losses=losses, samples=samples if samples is not None else status.samples,
                total_steps=int(total_steps) if total_steps else status.total_steps,
            )

        def out_of_time() -> None:
            job.timed_out = True
            job.stop_event.set()

        timer = threading.Timer(self._time_limit, out_of_time) if self._time_limit else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            job.result = run(report, job.stop_event)
        except StudioError as error:
            job.status = replace(job.status, state=JobState.FAILED, message=str(error))
            return
        except Exception as error:  # the server stays up; the log has the traceback
            log.exception("training job %s failed", job.status.job_id)
            job.status = replace(
                job.status,
                state=JobState.FAILED,
                message=f"Training failed ({type(error).__name__}: {error}). Check the data source and "
                "settings, then start again; the server log has the details.",
            )
            return
        finally:
            if timer is not None:
                timer.cancel()
        stopped = job.stop_event.is_set()
        why = f" (this studio's limit of {self._time_limit:g} s per run)" if job.timed_out else ""
        job.status = replace(
            job.status,
            state=JobState.STOPPED if stopped else JobState.FINISHED,
            message=f"{'Stopped' if stopped else 'Finished'} at step {job.status.step}{why}. "
            "Save it to a folder, or load it into the other tabs.",
        )


def _thin(points: tuple[tuple[int, float], ...]) -> tuple[tuple[int, float], ...]:
    """Keeps the loss curve bounded: past the limit, every other point goes (the newest stays)."""
    if len(points) <= MAX_LOSS_POINTS:
        return points
    kept = points[::2]
    return kept if kept[-1] == points[-1] else (*kept, points[-1])
