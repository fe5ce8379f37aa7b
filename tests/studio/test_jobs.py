"""Background training jobs: bounded, stoppable, failures reported, not raised."""

from __future__ import annotations

import time

import pytest

from studio.engine_api import BusyError, InputError, JobState
from studio.jobs import MAX_LOSS_POINTS, TrainingJobs


def wait_until_done(jobs, job_id, seconds=10):
    deadline = time.monotonic() + seconds
    while not jobs.status(job_id).done and time.monotonic() < deadline:
        time.sleep(0.01)
    return jobs.status(job_id)


def test_a_run_reports_progress_and_finishes_with_a_result():
    jobs = TrainingJobs()

    def run(report, stop_event):
        for step in range(1, 6):
            report(step, 1.0 / step, None)
        return "weights"

    job_id = jobs.start(run, total_steps=5, description="test")
    status = wait_until_done(jobs, job_id)
    assert status.state is JobState.FINISHED and status.step == 5
    assert [loss for _, loss in status.losses] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert jobs.result(job_id) == "weights"


def test_only_one_run_at_a_time_and_stop_ends_it():
    jobs = TrainingJobs(max_running=1)

    def run(report, stop_event):
        step = 0
        while not stop_event.wait(0.01):
            step += 1
            report(step, 1.0, None)
        return "partial"

    job_id = jobs.start(run, total_steps=10_000, description="long")
    with pytest.raises(BusyError, match="already going"):
        jobs.start(run, total_steps=1, description="second")
    status = jobs.stop(job_id)
    assert status.state is JobState.STOPPED and "Stopped at step" in status.message
    assert jobs.result(job_id) == "partial"


def test_a_failing_run_is_reported_not_raised():
    jobs = TrainingJobs()

    def run(report, stop_event):
        raise RuntimeError("out of memory")

    status = wait_until_done(jobs, jobs.start(run, 1, "failing"))
    assert status.state is JobState.FAILED and "out of memory" in status.message
    with pytest.raises(InputError, match="no model to keep"):
        jobs.result(status.job_id)


def test_the_loss_curve_stays_bounded():
    jobs = TrainingJobs()

    def run(report, stop_event):
        for step in range(5 * MAX_LOSS_POINTS):
            report(step, float(step), None)

    status = wait_until_done(jobs, jobs.start(run, 5 * MAX_LOSS_POINTS, "many steps"))
    assert len(status.losses) <= MAX_LOSS_POINTS
    assert status.losses[-1][0] == 5 * MAX_LOSS_POINTS - 1


def test_unknown_job_ids_say_what_to_do():
    with pytest.raises(InputError, match="Start a training run first"):
        TrainingJobs().status("nope")
