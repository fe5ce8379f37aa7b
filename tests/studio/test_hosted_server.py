"""Hosted mode through a real server (gradio_client and raw HTTP): every path-taking endpoint attacked.

After each test nothing outside the workspace root was read or written (`Ground.untouched`), and the
server still serves. The studio runs the FakeEngine, whose load_folder really reads config.json and
README.md and whose save_training really writes: a path that got through would show.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
import urllib.parse
import urllib.request
import zipfile

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from studio.fake_engine import FakeEngine
from studio.hosting import HostedLimits, Hosting
from studio.workspace import visitor_name
from tests.studio import hostile_uploads as hostile
from tests.studio.hosted_attack import (
    CANARY,
    FILE_INPUTS,
    NOT_PATHS,
    PATH_INPUTS,
    Ground,
    http_get,
    reaches_out,
    text_and_file_inputs,
)
from tests.studio.support import running_studio

LIMITS = HostedLimits(max_trainings=2, max_steps=400, max_batch_size=64, max_training_seconds=2.0)
MODEL = "fake-digits-vae"


@pytest.fixture(scope="module")
def ground(tmp_path_factory) -> Ground:
    return Ground(tmp_path_factory.mktemp("hosted"))


@pytest.fixture(scope="module")
def hosted_url(ground):
    hosting = Hosting(hosted=True, root=ground.root, limits=LIMITS)
    with running_studio(FakeEngine(step_delay=0.01, **hosting.engine_options()), hosting) as url:
        yield url


@pytest.fixture()
def visitor(hosted_url, ground):
    yield Client(hosted_url, verbose=False)
    ground.untouched()
    assert Client(hosted_url, verbose=False).predict(api_name="/backend"), "the server still serves"


def _workspace(ground: Ground, client: Client):
    return ground.root / visitor_name(client.session_hash)


def _finished_job(client: Client, steps: int = 3) -> str:
    job_id = client.predict("digits", "digits-vae-2d", steps, 8, 1e-3, 0, api_name="/train_start")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, _, _ = client.predict(job_id, api_name="/train_poll")
        if "finished" in status or "stopped" in status:
            return job_id
        time.sleep(0.1)
    raise AssertionError(f"the training run did not end: {status}")


def _refused(call, *words: str) -> str:
    with pytest.raises(AppError) as refusal:
        call()
    message = str(refusal.value)
    assert any(word in message for word in words), message
    assert CANARY not in message
    return message


# --------------------------------------------------------------------------- which endpoints take paths


def test_every_endpoint_taking_text_or_a_file_is_in_the_attacked_inventory(hosted_url):
    served = text_and_file_inputs(hosted_url)
    listed = PATH_INPUTS | FILE_INPUTS | NOT_PATHS
    assert not served - listed, (
        f"new endpoint inputs {sorted(served - listed)}: if they take a path, confine them with studio.hosting "
        "and attack them in tests/studio/test_hosted_server.py, then list them in tests/studio/hosted_attack.py")
    assert not listed - served, f"listed inputs no longer served: {sorted(listed - served)}"
    assert not (PATH_INPUTS & NOT_PATHS) and not (FILE_INPUTS & NOT_PATHS)


def test_the_models_tab_says_which_mode_is_on(hosted_url, studio_url):
    def config(url):
        with urllib.request.urlopen(url + "config", timeout=30) as response:
            return response.read().decode()

    assert "Hosted mode" in config(hosted_url) and "Local mode" not in config(hosted_url)
    assert "Local mode" in config(studio_url) and "Hosted mode" not in config(studio_url)


# --------------------------------------------------------------------------- traversal in every path endpoint


def test_traversal_is_refused_in_every_path_taking_endpoint(visitor, hosted_url, ground, tmp_path):
    other = Client(hosted_url, verbose=False)
    other_workspace = visitor_name(other.session_hash)
    other.predict(MODEL, api_name="/model_card")
    job_id = _finished_job(visitor)
    image = tmp_path / "a.png"
    image.write_bytes(hostile.png_bytes())
    for attack in reaches_out(ground, other_workspace):
        _refused(lambda: visitor.predict(attack, api_name="/load_model"), "Refused (403)")
        _refused(lambda: visitor.predict(job_id, attack, api_name="/train_save"), "Refused (403)")
        _refused(lambda: visitor.predict(attack, api_name="/download_folder"), "Refused (403)")
        for source in ("folder", "idx"):
            _refused(lambda: visitor.predict(f"{source}:{attack}", "digits-vae-2d", 3, 8, 1e-3, 0,
                                             api_name="/train_start"), "Refused (403)")
            _refused(lambda: visitor.predict(MODEL, f"{source}:{attack}", 10, api_name="/scatter"), "Refused (403)")
        _refused(lambda: visitor.predict([handle_file(str(image))], attack, api_name="/upload_data"),
                 "Refused (403)", "one word")
    for spec in ("hf:owner/name", "hf:../../outside", "shapes:/etc/passwd"):
        _refused(lambda: visitor.predict(spec, "digits-vae-2d", 3, 8, 1e-3, 0, api_name="/train_start"),
                 "not offered in this hosted studio")
    _refused(lambda: visitor.predict("owner/name", api_name="/load_model"), "not a model folder")


def test_a_symlink_in_a_workspace_is_not_followed_out(visitor, ground):
    visitor.predict(MODEL, api_name="/model_card")
    home = _workspace(ground, visitor)
    home.mkdir(parents=True, exist_ok=True)
    (home / "escape").symlink_to(ground.outside)
    try:
        _refused(lambda: visitor.predict("escape/model", api_name="/load_model"), "Refused (403)")
        _refused(lambda: visitor.predict("escape", api_name="/download_folder"), "Refused (403)")
        _refused(lambda: visitor.predict(MODEL, "folder:escape/data", 10, api_name="/scatter"), "Refused (403)")
    finally:
        (home / "escape").unlink()


def _raw_call(url: str, api_name: str, data: list) -> str:
    """POST /gradio_api/call/NAME, then the event stream's text (errors included)."""
    request = urllib.request.Request(f"{url}gradio_api/call/{api_name}", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            event_id = json.load(response)["event_id"]
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code} {error.read().decode(errors='replace')}"
    with urllib.request.urlopen(f"{url}gradio_api/call/{api_name}/{event_id}", timeout=60) as response:
        return response.read().decode(errors="replace")


def test_server_paths_passed_as_files_are_refused(visitor, hosted_url, ground):
    def server_file(path):
        return {"path": str(path), "meta": {"_type": "gradio.FileData"}}

    canary, picture = ground.outside / "canary.txt", ground.outside / "data" / "0.png"
    for path in (canary, picture, "../../outside/data/0.png", "/etc/passwd"):
        calls = {
            "encode": [MODEL, server_file(path), ""],
            "interpolate": [MODEL, server_file(path), server_file(path), 4, "linear"],
            "inpaint": [MODEL, {"background": server_file(path), "layers": [], "composite": None}, "", 1, 0],
            "upload_data": [[server_file(path)], "stolen"],
            "code_maps": [MODEL, server_file(path)],
        }
        for api_name, data in calls.items():
            answer = _raw_call(hosted_url, api_name, data)
            assert "event: complete" not in answer and CANARY not in answer, (api_name, path, answer[:300])
    assert not list(ground.root.rglob("stolen"))


@pytest.mark.parametrize("route", ["gradio_api/file=", "file=", "gradio_api/file/"])
def test_gradio_file_routes_serve_nothing_outside(route, visitor, hosted_url, ground):
    canary = ground.outside / "canary.txt"
    relative = os.path.relpath(canary, os.getcwd())
    quoted = urllib.parse.quote(str(canary), safe="")
    variants = [str(canary), quoted, relative, relative.replace("..", "%2e%2e"), relative.replace("/", "%2f"),
                urllib.parse.quote(quoted, safe=""), "/etc/passwd", "../../../../../../etc/passwd",
                "%2e%2e/" * 12 + "etc/passwd", str(ground.root), str(ground.outside / "data" / "0.png")]
    for variant in variants:
        status, body = http_get(hosted_url + route + variant)
        assert status != 200 or (CANARY.encode() not in body and b"root:" not in body and not body.startswith(
            b"\x89PNG")), (route + variant, status, body[:200])


# --------------------------------------------------------------------------- uploads


def test_zip_slip_bombs_and_oversize_uploads_are_refused_and_a_good_folder_lands(visitor, ground, tmp_path):
    for name in hostile.ESCAPE_NAMES:
        upload = hostile.zip_slip(tmp_path / "slip.zip", name)
        _refused(lambda: visitor.predict([handle_file(str(upload))], "slip", api_name="/upload_data"),
                 "outside its folder")
    _refused(lambda: visitor.predict([handle_file(str(hostile.symlink_entry(tmp_path / "link.zip")))], "link",
                                     api_name="/upload_data"), "link or special file")
    _refused(lambda: visitor.predict([handle_file(str(hostile.ratio_bomb(tmp_path / "bomb.zip")))], "bomb",
                                     api_name="/upload_data"), "zip bomb")
    _refused(lambda: visitor.predict([handle_file(str(hostile.lying_header(tmp_path / "liar.zip")))], "liar",
                                     api_name="/upload_data"), "damaged", "more than")
    oversize = tmp_path / "oversize.zip"
    with zipfile.ZipFile(oversize, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("noise.png", os.urandom(11 * 1024**2))
    with pytest.raises(Exception) as refusal:  # Gradio's own size cap answers 413 before the handler
        visitor.predict([handle_file(str(oversize))], "big", api_name="/upload_data")
    assert any(word in str(refusal.value).lower() for word in ("413", "large", "size")), str(refusal.value)
    assert not (_workspace(ground, visitor) / "uploads").exists() or not any(
        (_workspace(ground, visitor) / "uploads").iterdir()), "refused uploads leave nothing"
    note, data = visitor.predict([handle_file(str(hostile.good_folder_zip(tmp_path / "cats.zip")))], "cats",
                                 api_name="/upload_data")
    assert "Uploaded 4 files" in note and "1 other" in note and data == "folder:uploads/cats"
    assert (_workspace(ground, visitor) / "uploads" / "cats" / "cats" / "metadata.jsonl").is_file()
    _refused(lambda: visitor.predict([handle_file(str(tmp_path / "cats.zip"))], "cats", api_name="/upload_data"),
             "already exists")
    assert visitor.predict(data, "digits-vae-2d", 3, 8, 1e-3, 0, api_name="/train_start")


# --------------------------------------------------------------------------- visitors apart


def test_two_visitors_cannot_see_each_others_workspaces_or_runs(visitor, hosted_url, ground, tmp_path):
    stranger = Client(hosted_url, verbose=False)
    job_id = _finished_job(visitor)
    assert "runs/mine" in visitor.predict(job_id, "runs/mine", api_name="/train_save")
    packed = visitor.predict("runs/mine", api_name="/download_folder")
    with zipfile.ZipFile(packed) as archive:
        assert "config.json" in archive.namelist()
    assert "Loaded" in visitor.predict("runs/mine", api_name="/load_model")
    mine = _workspace(ground, visitor).name
    message = _refused(lambda: stranger.predict("runs/mine", api_name="/load_model"), "not a model folder")
    assert str(ground.base) not in message and "runs/mine" in message, "the server's layout stays private"
    _refused(lambda: stranger.predict(MODEL, "folder:", 10, api_name="/scatter"), "Refused (403)")
    _refused(lambda: stranger.predict("runs/mine", api_name="/download_folder"), "no folder")
    _refused(lambda: stranger.predict(f"../{mine}/runs/mine", api_name="/load_model"), "Refused (403)")
    for api_name in ("/train_poll", "/train_stop", "/train_load"):
        _refused(lambda: stranger.predict(job_id, api_name=api_name), "no training job")
    _refused(lambda: stranger.predict(job_id, "runs/theirs", api_name="/train_save"), "no training job")
    assert not (_workspace(ground, stranger) / "runs").exists()


# --------------------------------------------------------------------------- a training flood


def test_a_training_flood_ends_in_clean_refusals_and_time_limited_runs(visitor, hosted_url):
    clients = [Client(hosted_url, verbose=False) for _ in range(10)]
    outcomes, lock = [], threading.Lock()

    def start(client):
        try:
            job_id = client.predict("digits", "digits-vae-2d", 400, 8, 1e-3, 0, api_name="/train_start")
            result = ("started", client, job_id)
        except AppError as error:
            result = ("refused", client, str(error))
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=start, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    started = [outcome for outcome in outcomes if outcome[0] == "started"]
    refused = [outcome for outcome in outcomes if outcome[0] == "refused"]
    assert len(outcomes) == 10 and len(started) == LIMITS.max_trainings, outcomes
    assert all("All 2 training slots" in message for _, _, message in refused), refused
    _, runner, job_id = started[0]
    _refused(lambda: runner.predict("digits", "digits-vae-2d", 10, 8, 1e-3, 0, api_name="/train_start"),
             "already have a training run")
    _refused(lambda: visitor.predict("digits", "digits-vae-2d", 401, 8, 1e-3, 0, api_name="/train_start"),
             "at most 400 steps")
    _refused(lambda: visitor.predict("digits", "digits-vae-2d", 10, 65, 1e-3, 0, api_name="/train_start"),
             "at most 64")
    deadline = time.monotonic() + 30
    status = ""
    while time.monotonic() < deadline and "stopped" not in status:
        status, _, _ = runner.predict(job_id, api_name="/train_poll")
        time.sleep(0.2)
    assert "limit of 2 s" in status, status
    for _, client, other_job in started[1:]:
        client.predict(other_job, api_name="/train_stop")
    assert refused[0][1].predict("digits", "digits-vae-2d", 5, 8, 1e-3, 0, api_name="/train_start"), \
        "a slot frees when runs end"
    gallery, _ = visitor.predict("fake-shapes-vqvae", "a red circle", 1, 0, 1.0, 0, 1, api_name="/text_to_image")
    assert len(gallery) == 1


@pytest.fixture(scope="module")
def upload_corpus(tmp_path_factory):
    from tests.studio.support import upload_cases

    return upload_cases(tmp_path_factory.mktemp("awkward-uploads"))


def test_the_bad_image_corpus_in_hosted_mode(upload_corpus, visitor, tmp_path):
    """The awkward-upload corpus of tests/studio/test_uploads.py, sent to the hosted server: each upload is
    encoded or refused with a clear message, the server keeps serving, and (the `visitor` fixture) nothing
    outside the workspace root was read or written."""
    from tests.studio.support import plain_image

    for name, case in upload_corpus.items():
        if case.accepted:
            outputs = visitor.predict(MODEL, handle_file(str(case.path)), api_name="/encode")
            assert outputs[1] is not None, f"{name} was accepted but nothing was encoded"
        else:
            with pytest.raises(Exception) as refusal:
                visitor.predict(MODEL, handle_file(str(case.path)), api_name="/encode")
            message = str(refusal.value).lower()
            assert any(word in message for word in case.error_words), f"unclear message for {name}: {message}"
    good = visitor.predict(MODEL, handle_file(str(plain_image(tmp_path / "good.png"))), api_name="/encode")
    assert good[1] is not None, "a good upload after the corpus is served"
