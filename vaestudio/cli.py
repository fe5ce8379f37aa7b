"""`vaestudio train | sample | eval | bench | info`."""

from __future__ import annotations

import argparse
import sys


def _info(arguments: argparse.Namespace) -> int:
    import torch

    from vaestudio import __version__
    from vaestudio.ops import backend

    active = backend()
    print(f"vaestudio {__version__}, torch {torch.__version__}")
    print(f"operators: {active.name} (CUDA kernels: {'yes' if active.cuda else 'no'})")
    print(f"why: {active.reason}")
    print(f"CUDA device: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}")
    print(f"CPU threads: {torch.get_num_threads()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vaestudio", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="which operator backend is active, and why")
    info.set_defaults(handler=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    return arguments.handler(arguments)


if __name__ == "__main__":
    sys.exit(main())
