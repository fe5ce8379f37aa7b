"""What the emoji packages hold, read in place from their tarballs: CLDR names/keywords/subgroups and each
style's image file per emoji.

Every emoji is keyed by its code points in upper-case hex joined by ``-`` with the variation selector
FE0F left out (``2764-FE0F-200D-1F525`` -> ``2764-200D-1F525``), because the three packages disagree on
where they write it. An emoji with a skin tone (``1F44B-1F3FB``) keeps its own key and CLDR name
("waving hand: light skin tone") and takes the keywords and subgroup of its base emoji (``1F44B``),
which also decides its split, so that no held-out emoji is seen in any style or tone.

- CLDR data: ``emojibase-data`` ``en/data.json`` (label, tags, group, subgroup numbers, skins) and
  ``meta/groups.json`` (numbers to names). Emoji without a group (regional indicator letters) and the
  ``component`` group (skin-tone swatches, hair styles) are left out.
- Noto and Twemoji: ``emoji.json`` of emoji-datasource (``unified``, ``image``, ``has_img_<set>``,
  ``skin_variations``) and the PNGs in ``img/<set>/64/``.
- OpenMoji: every ``color/svg/<HEXCODE>.svg`` (its extras outside Unicode have no CLDR entry and drop out).
"""

from __future__ import annotations

import dataclasses
import json
import tarfile

COMPONENT_GROUP = "component"
VARIATION_SELECTOR = "FE0F"
DATASOURCE_SETS = {"emoji-datasource-google": "google", "emoji-datasource-twitter": "twitter"}
OPENMOJI_SVG_FOLDER = "package/color/svg/"


@dataclasses.dataclass(frozen=True)
class CldrEntry:
    key: str  # normalised hexcode (module docstring)
    name: str  # CLDR short name, e.g. "grinning face"
    keywords: tuple[str, ...]  # CLDR keywords of the base emoji
    group: str  # e.g. "smileys-emotion"
    subgroup: str  # e.g. "face-smiling"
    base: str  # the key of the emoji without skin tone (itself when it has none)


def normalise_hexcode(hexcode: str) -> str:
    """'2764-fe0f-200d-1f525' -> '2764-200D-1F525': upper case, FE0F left out."""
    parts = [part.upper() for part in hexcode.replace("_", "-").split("-") if part]
    return "-".join(part for part in parts if part != VARIATION_SELECTOR)


def _member_bytes(archive: tarfile.TarFile, name: str) -> bytes:
    member = archive.extractfile(name)
    if member is None:
        raise ValueError(f"{archive.name} has no file {name}")
    return member.read()


def read_cldr(emojibase_path: str) -> dict[str, CldrEntry]:
    """Every emoji of ``emojibase-data``'s English data with a group, component group left out."""
    with tarfile.open(emojibase_path) as archive:
        entries = json.loads(_member_bytes(archive, "package/en/data.json"))
        groups = json.loads(_member_bytes(archive, "package/meta/groups.json"))
    group_names, subgroup_names = groups["groups"], groups["subgroups"]
    catalogue: dict[str, CldrEntry] = {}
    for entry in entries:
        if "group" not in entry or "subgroup" not in entry:
            continue
        group = group_names[str(entry["group"])]
        if group == COMPONENT_GROUP:
            continue
        base = normalise_hexcode(entry["hexcode"])
        keywords = tuple(entry.get("tags", ()))
        subgroup = subgroup_names[str(entry["subgroup"])]
        catalogue[base] = CldrEntry(base, entry["label"], keywords, group, subgroup, base)
        for skin in entry.get("skins", ()):
            key = normalise_hexcode(skin["hexcode"])
            catalogue[key] = CldrEntry(key, skin["label"], keywords, group, subgroup, base)
    return catalogue


def datasource_images(tarball_path: str, package: str) -> dict[str, str]:
    """key -> tarball member of the 64 x 64 PNG, for every emoji (and skin tone) the set has an image of."""
    image_set = DATASOURCE_SETS[package]
    with tarfile.open(tarball_path) as archive:
        entries = json.loads(_member_bytes(archive, "package/emoji.json"))
    flag = f"has_img_{image_set}"
    images: dict[str, str] = {}
    for entry in entries:
        variants = [entry, *entry.get("skin_variations", {}).values()]
        for variant in variants:
            if variant.get(flag):
                images[normalise_hexcode(variant["unified"])] = f"package/img/{image_set}/64/{variant['image']}"
    return images


def openmoji_images(tarball_path: str) -> dict[str, str]:
    """key -> tarball member of the colour SVG, for every OpenMoji graphic."""
    with tarfile.open(tarball_path) as archive:
        names = archive.getnames()
    return {
        normalise_hexcode(name[len(OPENMOJI_SVG_FOLDER):-len(".svg")]): name
        for name in names if name.startswith(OPENMOJI_SVG_FOLDER) and name.endswith(".svg")
    }


def read_members(tarball_path: str, names: set[str]) -> dict[str, bytes]:
    """The bytes of the named members, in one pass over the (gzip) tarball."""
    found: dict[str, bytes] = {}
    with tarfile.open(tarball_path, "r:gz") as archive:
        for member in archive:
            if member.name in names:
                found[member.name] = archive.extractfile(member).read()
    missing = sorted(names - set(found))
    if missing:
        raise ValueError(f"{tarball_path} lacks {len(missing)} files it lists, e.g. {missing[:3]}")
    return found
