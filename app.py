"""Hugging Face Space entry: the studio on the shipped models (pretrained/), with the real engine.

On a Space (SPACE_ID set) the studio is in hosted mode: visitors work in workspaces of their own."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from studio import serving
from studio.app import build_demo
from studio.engine import Engine
from studio.hosting import Hosting, detect_hosted

hosting = Hosting(hosted=detect_hosted())
demo = build_demo(Engine(**hosting.engine_options()), hosting)

if __name__ == "__main__":
    serving.launch(demo, host="0.0.0.0", port=int(os.environ.get("PORT", "7860")))
