"""`python -m studio [--host HOST] [--port PORT] [--share] [--models DIR] [--fake] [--public]`: the studio, offline.

Hosted mode (--public, or on by itself on a Hugging Face Space): each visitor works in a workspace of their
own under VAESTUDIO_WORKSPACES, with capped training runs; see studio/hosting.py."""

from __future__ import annotations

import argparse
import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studio", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also open a public Gradio share link (needs network)")
    parser.add_argument("--models", default=None, help="folder of model folders (default: pretrained/)")
    parser.add_argument("--fake", action="store_true", help="serve the FakeEngine's drawings (UI work, no models)")
    parser.add_argument("--public", action="store_true",
                        help="hosted mode: confine visitors to workspaces, cap training (on by itself on a Space)")
    return parser


def main(argv: list[str] | None = None) -> None:
    arguments = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from studio import serving
    from studio.app import build_demo
    from studio.hosting import Hosting, detect_hosted

    hosting = Hosting(hosted=detect_hosted(public=arguments.public))
    trainings = hosting.engine_options()
    if arguments.fake:
        from studio.fake_engine import FakeEngine

        engine = FakeEngine(step_delay=0.05, **trainings)
    else:
        from studio.engine import Engine

        engine = Engine(models_dir=arguments.models, **trainings)
    logging.getLogger("studio").info("%s mode", "hosted" if hosting.hosted else "local")
    serving.launch(build_demo(engine, hosting), host=arguments.host, port=arguments.port, share=arguments.share)


if __name__ == "__main__":
    main()
