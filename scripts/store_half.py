"""Stores the weights of shipped model folders (or every folder of a bundle) in float16.

    python scripts/store_half.py pretrained/shapes

Measure the model again afterwards and say so in its card (vaestudio/checkpoints/half_precision.py).
"""

from __future__ import annotations

import argparse

from vaestudio.checkpoints.half_precision import model_folders_under, store_in_half_precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="model folders or bundle folders")
    for path in parser.parse_args().paths:
        for folder in model_folders_under(path):
            before, after = store_in_half_precision(folder)
            print(f"{folder}: {before / 1e6:.2f} MB -> {after / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
