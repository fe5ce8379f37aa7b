"""Local or hosted (studio.hosting): detection, confined paths and specs, job ownership, training caps."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from studio.engine_api import BusyError, InputError, JobState, TrainingSettings
from studio.hosting import HostedLimits, Hosting, detect_hosted
from studio.jobs import TrainingJobs
from studio.workspace import PathRefused


def visitor(name: str) -> SimpleNamespace:
    return SimpleNamespace(session_hash=name)


@pytest.fixture()
def hosted(tmp_path) -> Hosting:
    return Hosting(hosted=True, root=tmp_path / "workspaces", limits=HostedLimits(max_steps=100, max_batch_size=32))


def test_hosted_on_a_space_or_when_asked_and_local_otherwise():
    assert detect_hosted({"SPACE_ID": "someone/vae-studio"}) and detect_hosted({}, public=True)
    assert not detect_hosted({}) and not detect_hosted({"SPACE_ID": ""})


def test_local_mode_hands_everything_back_unchanged():
    local = Hosting()
    assert local.path(None, "/etc/anything") == "/etc/anything"
    assert local.data_spec(None, "folder:../x") == "folder:../x" and local.data_spec(None, "hf:a/b") == "hf:a/b"
    assert local.model_source(None, "owner/name") == "owner/name"
    assert local.settings(TrainingSettings(10**6, 4096, 0.1, 0)) == TrainingSettings(10**6, 4096, 0.1, 0)
    assert local.engine_options() == {} and "Local mode" in local.describe()


def test_hosted_paths_land_in_each_visitors_own_workspace(hosted):
    first, second = hosted.path(visitor("a"), "runs/model"), hosted.path(visitor("b"), "runs/model")
    assert first != second
    assert first.startswith(str(hosted.root.resolve())) and second.startswith(str(hosted.root.resolve()))
    assert hosted.shown(visitor("a"), first) == "runs/model"
    with pytest.raises(PathRefused, match="403"):
        hosted.path(visitor("a"), f"../{hosted.workspace(visitor('b')).name}/runs/model")
    with pytest.raises(InputError, match="browser session"):
        hosted.path(None, "runs/model")


@pytest.mark.parametrize("spec", ["folder:../../etc", "folder:/etc", "idx:/root/mnist", "idx:..%2f..", "hf:owner/name",
                                  "shapes:/etc/passwd", "folder:~/data"])
def test_hosted_data_specs_that_reach_out_are_refused(spec, hosted):
    with pytest.raises(PathRefused, match="403"):
        hosted.data_spec(visitor("a"), spec)


def test_hosted_data_specs_inside_the_workspace_and_built_ins_pass(hosted):
    home = hosted.workspace(visitor("a"))
    assert hosted.data_spec(visitor("a"), "folder:uploads/cats") == f"folder:{home.resolve() / 'uploads/cats'}"
    assert hosted.data_spec(visitor("a"), "digits") == "digits" and hosted.data_spec(visitor("a"), "") == ""


def test_hosted_training_settings_are_capped_with_clear_refusals(hosted):
    assert hosted.settings(TrainingSettings(0, 16, 1e-3, 0)).steps == 100
    assert hosted.settings(TrainingSettings(50, 16, 1e-3, 0)).steps == 50
    with pytest.raises(InputError, match="at most 100 steps"):
        hosted.settings(TrainingSettings(101, 16, 1e-3, 0))
    with pytest.raises(InputError, match="at most 32"):
        hosted.settings(TrainingSettings(10, 64, 1e-3, 0))


def test_one_run_per_visitor_and_only_their_own_job_ids(hosted):
    jobs = TrainingJobs(max_running=3)
    release = threading.Event()

    def start():
        return jobs.start(lambda report, stop: release.wait(5), 1, "test")

    def is_running(job_id):
        return not jobs.status(job_id).done

    mine = hosted.start(visitor("a"), is_running, start)
    with pytest.raises(BusyError, match="already have a training run"):
        hosted.start(visitor("a"), is_running, start)
    theirs = hosted.start(visitor("b"), is_running, start)
    assert hosted.job(visitor("a"), mine) == mine
    with pytest.raises(InputError, match="no training job"):
        hosted.job(visitor("a"), theirs)
    release.set()
    deadline = time.monotonic() + 5
    while is_running(mine) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert hosted.start(visitor("a"), is_running, start) != mine, "a finished run frees the visitor's slot"


def test_the_time_limit_stops_a_run_and_says_why():
    jobs = TrainingJobs(max_running=2, time_limit_seconds=0.2)

    def run(report, stop_event):
        for step in range(1, 1000):
            if stop_event.wait(0.01):
                return "partial"
            report(step, 1.0)

    job_id = jobs.start(run, 999, "slow")
    deadline = time.monotonic() + 5
    while not jobs.status(job_id).done and time.monotonic() < deadline:
        time.sleep(0.02)
    status = jobs.status(job_id)
    assert status.state is JobState.STOPPED and 0 < status.step < 999 and "limit of 0.2 s" in status.message


def test_all_slots_busy_is_a_clear_refusal_naming_no_other_visitors_job():
    jobs = TrainingJobs(max_running=2)
    release = threading.Event()
    ids = [jobs.start(lambda report, stop: release.wait(5), 1, "x") for _ in range(2)]
    with pytest.raises(BusyError, match="All 2 training slots") as refusal:
        jobs.start(lambda report, stop: None, 1, "x")
    assert not any(job_id in str(refusal.value) for job_id in ids)
    release.set()


def test_a_run_that_runs_out_of_memory_fails_alone():
    jobs = TrainingJobs(max_running=2)

    def greedy(report, stop_event):
        raise MemoryError("cannot allocate 512 GiB")

    failed = jobs.start(greedy, 1, "greedy")
    deadline = time.monotonic() + 5
    while not jobs.status(failed).done and time.monotonic() < deadline:
        time.sleep(0.01)
    assert jobs.status(failed).state is JobState.FAILED and "MemoryError" in jobs.status(failed).message
    fine = jobs.start(lambda report, stop: "model", 1, "fine")
    while not jobs.status(fine).done:
        time.sleep(0.01)
    assert jobs.status(fine).state is JobState.FINISHED


def test_python_m_studio_public_asks_for_hosted_mode():
    from studio.__main__ import build_parser

    assert build_parser().parse_args(["--public"]).public and not build_parser().parse_args([]).public
    options = Hosting(hosted=True).engine_options()
    assert {key: options[key] for key in ("max_trainings", "training_time_limit")} == {
        "max_trainings": 2, "training_time_limit": 600.0}
    assert options["setting_caps"]["evaluation.iwae_k"] == 1000  # what a stranger may ask of a recipe


def test_hosted_settings_refuse_recipe_settings_above_the_caps(hosted):
    capped = TrainingSettings(10, 8, 1e-3, 0, {"evaluation.iwae_k": 1001.0})
    with pytest.raises(InputError, match="evaluation.iwae_k up to 1000"):
        hosted.settings(capped)
    within = TrainingSettings(0, 8, 1e-3, 0, {"evaluation.iwae_k": 1000.0, "model.beta": 50.0})
    assert hosted.settings(within).overrides == within.overrides  # kept, with the step cap filled in
    assert hosted.settings(within).steps == 100
    assert Hosting().settings(capped) is capped  # local: no caps


def test_idle_workspaces_expire_when_visitors_come_and_busy_ones_stay(tmp_path):
    import os

    limits = HostedLimits(workspace_max_age_seconds=60)
    first = Hosting(hosted=True, root=tmp_path, limits=limits)
    idle, busy = first.workspace(visitor("idle")), first.workspace(visitor("busy"))
    first.start(visitor("busy"), lambda job_id: True, lambda: "job1")
    an_hour_ago = time.time() - 3600
    for folder in (idle, busy):
        os.utime(folder, (an_hour_ago, an_hour_ago))
    first._last_expiry = -1e9  # as if the last sweep was long ago
    fresh = first.workspace(visitor("fresh"))
    assert not idle.exists() and busy.exists() and fresh.exists()
