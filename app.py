"""Hugging Face Space entry: the studio on the shipped models (pretrained/), with the real engine."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from studio import serving
from studio.app import build_demo
from studio.engine import Engine

demo = build_demo(Engine())

if __name__ == "__main__":
    serving.launch(demo, host="0.0.0.0", port=int(os.environ.get("PORT", "7860")))
