"""How the studio is served: a bounded queue, a file-size cap, no telemetry, no SSR.

`python -m studio`, the Space's app.py, the tests and the benchmark all launch through here, so
they serve the studio the same way.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # the studio never phones home

import gradio as gr

from studio import limits


def configure(demo: gr.Blocks) -> gr.Blocks:
    """Bounds the queue: at most QUEUE_SIZE waiting, engine calls a few at a time."""
    return demo.queue(default_concurrency_limit=limits.ENGINE_CONCURRENCY, max_size=limits.QUEUE_SIZE)


def launch(
    demo: gr.Blocks,
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
):
    """Launches the configured studio; returns Gradio's (app, local_url, share_url)."""
    configure(demo)
    return demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        max_file_size=limits.MAX_FILE_SIZE,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        ssr_mode=False,
        mcp_server=False,
        footer_links=["api", "settings"],
    )
