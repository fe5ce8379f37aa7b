"""One decorator for every event handler: engine failures become gr.Error, the server stays up.

Known failures (:class:`studio.engine_api.StudioError`) show their own message, which says what to
do. Anything else is logged with its traceback and shown as a generic message; the next request is
served as usual. Works for plain functions and for generators (streaming handlers).
"""

from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

from studio.engine_api import StudioError

log = logging.getLogger("studio")

UNEXPECTED = (
    "Something went wrong in the engine ({kind}). The studio is still running: try again, try "
    "smaller settings or another model. The server log has the details."
)


def _as_gradio_error(error: Exception, handler_name: str) -> gr.Error:
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, StudioError):
        return gr.Error(str(error))
    log.exception("unexpected failure in %s", handler_name)
    return gr.Error(UNEXPECTED.format(kind=type(error).__name__))


def user_facing(handler):
    """Wraps an event handler (function or generator function) so every failure is a clear gr.Error."""
    name = handler.__qualname__

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def stream(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - every failure must become a gr.Error
                raise _as_gradio_error(error, name) from None

        return stream

    @functools.wraps(handler)
    def call(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - every failure must become a gr.Error
            raise _as_gradio_error(error, name) from None

    return call
