"""The one error decorator: known failures keep their message, unknown ones become a generic one."""

from __future__ import annotations

import inspect
import logging

import gradio as gr
import pytest

from studio.engine_api import InputError
from studio.errors import user_facing


def test_a_studio_error_becomes_a_gradio_error_with_its_message():
    @user_facing
    def handler():
        raise InputError("Type a prompt first.")

    with pytest.raises(gr.Error, match="Type a prompt first."):
        handler()


def test_an_unexpected_failure_is_logged_and_shown_generically(caplog):
    @user_facing
    def handler():
        raise ZeroDivisionError("secret internals")

    with caplog.at_level(logging.ERROR, logger="studio"), pytest.raises(gr.Error) as raised:
        handler()
    assert "ZeroDivisionError" in str(raised.value) and "still running" in str(raised.value)
    assert "secret internals" not in str(raised.value)
    assert "secret internals" in caplog.text  # the traceback is in the server log


def test_generators_stay_generators_and_fail_cleanly_mid_stream():
    @user_facing
    def stream(count):
        yield from range(count)
        raise InputError("stopped on purpose")

    assert inspect.isgeneratorfunction(stream)
    results = []
    with pytest.raises(gr.Error, match="stopped on purpose"):
        results.extend(stream(2))
    assert results == [0, 1]


def test_the_signature_is_kept_so_gradio_finds_progress_and_event_data():
    @user_facing
    def handler(job_id, progress=gr.Progress()):  # noqa: B008 - how Gradio injects progress
        return job_id

    parameters = inspect.signature(handler).parameters
    assert list(parameters) == ["job_id", "progress"]
    assert isinstance(parameters["progress"].default, gr.Progress)
