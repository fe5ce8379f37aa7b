"""Tiny stand-ins for the four emoji npm tarballs, written by the tests (nothing reaches the network).

Five emoji: grinning face (face-smiling), cat face (animal-mammal), waving hand with one skin tone
(hand-fingers-open), the red heart written with FE0F in the data sets and without in emojibase
(heart), and a light skin tone swatch in the component group (left out). Noto and Twemoji draw all but
the cat face in Twemoji; OpenMoji draws them all plus an extra outside Unicode (left out). Each image is
a flat colour square whose colour says the emoji and the style.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tarfile

from PIL import Image

from vaestudio.data.emoji_packages import EMOJI, PACKAGE_BY_NAME
from vaestudio.data.packaged import DatasetFile, PackagedDataset

CLDR = [
    {"label": "grinning face", "hexcode": "1F600", "tags": ["face", "grin", "smile"], "group": 0, "subgroup": 0},
    {"label": "cat face", "hexcode": "1F431", "tags": ["cat", "face", "pet"], "group": 1, "subgroup": 2},
    {"label": "waving hand", "hexcode": "1F44B", "tags": ["hand", "wave"], "group": 2, "subgroup": 3,
     "skins": [{"label": "waving hand: light skin tone", "hexcode": "1F44B-1F3FB", "group": 2, "subgroup": 3}]},
    {"label": "red heart", "hexcode": "2764", "tags": ["heart", "love"], "group": 0, "subgroup": 1},
    {"label": "light skin tone", "hexcode": "1F3FB", "tags": ["skin"], "group": 3, "subgroup": 4},
    {"label": "regional indicator A", "hexcode": "1F1E6"},
]
GROUPS = {
    "groups": {"0": "smileys-emotion", "1": "animals-nature", "2": "people-body", "3": "component"},
    "subgroups": {"0": "face-smiling", "1": "heart", "2": "animal-mammal", "3": "hand-fingers-open",
                  "4": "skin-tone"},
}
# key -> RGB of the flat square each style draws (the red channel says the emoji, green the style)
EMOJI_RED = {"1F600": 40, "1F431": 80, "1F44B": 120, "1F44B-1F3FB": 160, "2764": 200}
STYLE_GREEN = {"noto": 30, "twemoji": 130, "openmoji": 230}


def colour(key: str, style: str) -> tuple[int, int, int]:
    return EMOJI_RED[key], STYLE_GREEN[style], 90


def _png(rgb: tuple[int, int, int]) -> bytes:
    stream = io.BytesIO()
    Image.new("RGBA", (64, 64), (*rgb, 255)).save(stream, format="PNG")
    return stream.getvalue()


def _svg(rgb: tuple[int, int, int]) -> bytes:
    fill = "#{:02x}{:02x}{:02x}".format(*rgb)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 72 72">'
            f'<rect x="0" y="0" width="72" height="72" fill="{fill}"/></svg>').encode()


def _write_tarball(path: str, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def _datasource(image_set: str, style: str, drawn: set[str]) -> dict[str, bytes]:
    def entry(key: str, unified: str) -> dict:
        return {"unified": unified, "image": f"{unified.lower()}.png", f"has_img_{image_set}": key in drawn}

    rows = [entry("1F600", "1F600"), entry("1F431", "1F431"), entry("2764", "2764-FE0F")]
    waving = entry("1F44B", "1F44B")
    waving["skin_variations"] = {"1F3FB": entry("1F44B-1F3FB", "1F44B-1F3FB")}
    rows.append(waving)
    members = {"package/emoji.json": json.dumps(rows).encode()}
    for row in [*rows, waving["skin_variations"]["1F3FB"]]:
        if row[f"has_img_{image_set}"]:
            key = row["unified"].replace("-FE0F", "")
            members[f"package/img/{image_set}/64/{row['image']}"] = _png(colour(key, style))
    return members


def write_fake_packages(folder: str) -> PackagedDataset:
    """Writes the four tarballs into ``folder`` under their real names; returns EMOJI with their checksums."""
    os.makedirs(folder, exist_ok=True)
    everything = set(EMOJI_RED)
    contents = {
        "emojibase-data": {"package/en/data.json": json.dumps(CLDR).encode(),
                           "package/meta/groups.json": json.dumps(GROUPS).encode()},
        "emoji-datasource-google": _datasource("google", "noto", everything),
        "emoji-datasource-twitter": _datasource("twitter", "twemoji", everything - {"1F431"}),
        "openmoji": {
            **{f"package/color/svg/{key}.svg": _svg(colour(key, "openmoji")) for key in everything},
            "package/color/svg/E000.svg": _svg((0, 0, 0)),  # an OpenMoji extra: no CLDR entry
            "package/data/openmoji.csv": b"emoji,hexcode\n",
        },
    }
    files = []
    for name, members in contents.items():
        path = os.path.join(folder, PACKAGE_BY_NAME[name].file.name)
        _write_tarball(path, members)
        with open(path, "rb") as stream:
            data = stream.read()
        files.append(DatasetFile(PACKAGE_BY_NAME[name].file.name, len(data), hashlib.sha256(data).hexdigest()))
    order = [entry.name for entry in EMOJI.files]
    files.sort(key=lambda entry: order.index(entry.name))
    return dataclasses.replace(EMOJI, files=tuple(files))
