"""Rendering the emoji packages into one cached array: every (emoji, style) pair with a CLDR entry.

PNGs (Noto, Twemoji: 64 x 64 RGBA) are composited on white and resized (LANCZOS) to the image size.
OpenMoji SVGs are rasterised by resvg (the ``resvg-py`` package, ``pip install resvg-py``) at
``image_size * OPENMOJI_ZOOM`` on white and centre-cropped to the image size: OpenMoji draws on a 72-unit
grid with a wide margin, which the crop trims so its emoji fill the frame like the other two styles.

The result, cached under ``<cache>/emoji/<key>/`` (the key names the tarballs' checksums, the size and
this code), is ``images.npy`` (N, S, S, 3) uint8 and ``records.json``: one record per image with the
emoji key, style, CLDR name, keywords, group, subgroup and base emoji, sorted by (key, style).
"""

from __future__ import annotations

import io
import json
import os
import sys

import numpy as np
import PIL
from PIL import Image

from vaestudio.data import emoji_catalogue
from vaestudio.data.cache import cached_array, code_fingerprint, key_folder
from vaestudio.data.emoji_packages import STYLES, tarball_path

OPENMOJI_ZOOM = 1.2  # render larger, crop the centre: OpenMoji's margin is about a tenth of each side


class SvgRendererMissingError(ImportError):
    """resvg-py is not installed; the message says how to install it."""


def png_on_white(data: bytes, image_size: int) -> np.ndarray:
    """uint8 (S, S, 3): a PNG (with or without alpha) composited on white and resized."""
    image = Image.open(io.BytesIO(data)).convert("RGBA")
    canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
    canvas.alpha_composite(image)
    resized = canvas.convert("RGB").resize((image_size, image_size), Image.Resampling.LANCZOS)
    return np.asarray(resized)


def svg_on_white(data: bytes, image_size: int, zoom: float = OPENMOJI_ZOOM) -> np.ndarray:
    """uint8 (S, S, 3): an SVG rendered by resvg at ``image_size * zoom`` on white, centre-cropped."""
    try:
        import resvg_py
    except ImportError as error:
        raise SvgRendererMissingError(
            "the emoji source rasterises OpenMoji's SVGs with resvg: pip install resvg-py "
            "(or pip install 'vaestudio[emoji]')"
        ) from error
    size = round(image_size * zoom)
    png = resvg_py.svg_to_bytes(svg_string=data.decode("utf-8"), width=size, height=size, background="#ffffff")
    rendered = png_on_white(bytes(png), size)  # (size, size, 3)
    start = (size - image_size) // 2
    return np.ascontiguousarray(rendered[start:start + image_size, start:start + image_size])


def style_images(folder: str, package: str) -> dict[str, str]:
    """key -> tarball member for one style's package."""
    path = tarball_path(folder, package)
    if package in emoji_catalogue.DATASOURCE_SETS:
        return emoji_catalogue.datasource_images(path, package)
    return emoji_catalogue.openmoji_images(path)


def build_records(folder: str) -> list[dict]:
    """One record per (emoji with a CLDR entry, style that draws it), sorted by (key, style)."""
    cldr = emoji_catalogue.read_cldr(tarball_path(folder, "emojibase-data"))
    records = []
    for style in STYLES:
        for key, member in style_images(folder, style.package).items():
            entry = cldr.get(key)
            if entry is None:
                continue
            records.append({
                "key": key, "style": style.name, "name": entry.name, "keywords": list(entry.keywords),
                "group": entry.group, "subgroup": entry.subgroup, "base": entry.base, "member": member,
            })
    style_order = {style.name: index for index, style in enumerate(STYLES)}
    return sorted(records, key=lambda record: (record["key"], style_order[record["style"]]))


def render_records(folder: str, records: list[dict], image_size: int) -> np.ndarray:
    """uint8 (N, S, S, 3): the image of every record, each package's tarball read once."""
    images = np.zeros((len(records), image_size, image_size, 3), dtype=np.uint8)  # (N, S, S, 3)
    for style in STYLES:
        positions = [index for index, record in enumerate(records) if record["style"] == style.name]
        if not positions:
            continue
        data = emoji_catalogue.read_members(tarball_path(folder, style.package),
                                            {records[index]["member"] for index in positions})
        draw = svg_on_white if records[positions[0]]["member"].endswith(".svg") else png_on_white
        for index in positions:
            images[index] = draw(data[records[index]["member"]], image_size)
    return images


def _cache_key(image_size: int, checksums: list[str]) -> dict:
    return {
        "code": code_fingerprint(sys.modules[__name__], emoji_catalogue),
        "packages": list(checksums),
        "size": image_size,
        "pillow": PIL.__version__,
    }


def rendered_emoji(folder: str, image_size: int, checksums: list[str],
                   cache_dir: str | None = None) -> tuple[np.ndarray, list[dict]]:
    """(images (N, S, S, 3) uint8, records): from the cache, else built from the tarballs in ``folder``
    (whose SHA-256 ``checksums`` are part of the cache key)."""
    cache = key_folder("emoji", _cache_key(image_size, checksums), cache_dir)
    records_path = os.path.join(cache, "records.json")
    if os.path.exists(records_path):
        with open(records_path, encoding="utf-8") as stream:
            records = json.load(stream)
    else:
        records = build_records(folder)
    images = cached_array(os.path.join(cache, "images.npy"), lambda: render_records(folder, records, image_size))
    if not os.path.exists(records_path):
        temporary = records_path + ".partial"
        with open(temporary, "w", encoding="utf-8") as stream:
            json.dump(records, stream)
        os.replace(temporary, records_path)
    return images, records
