"""The ``emoji`` source: emoji in three open styles (Noto, Twemoji, OpenMoji) with CLDR names and keywords.

Get it with ``vaestudio data get emoji`` (four pinned npm tarballs, see emoji_packages.py for the
packages and licences); the images are rendered once into the cache (emoji_render.py). Every emoji of
the packages with a CLDR entry is in, sequences too: ZWJ sequences, skin tones, flags, keycaps (about
3,800 emoji, 11,000 images at 64 x 64).

- Split by emoji, never by image: an emoji is ``test`` when the CRC-32 of its base emoji's key (its code
  points without skin tone, emoji_catalogue.py) is below ``holdout_fraction`` of 2**32 (0.1 by default),
  so a held-out emoji is seen in no style and no skin tone. ``all`` is everything.
- Labels: the CLDR subgroup (``label_names``, about 100, e.g. "face-smiling", "animal-mammal"); the style
  of each image is ``style_ids`` (into ``emoji_packages.STYLE_NAMES``).
- Captions: ``"<name> in <style> style, <keywords>"``, e.g. "cat face in openmoji style, cat face pet".
  For training a text prior: ``caption_dropout`` is the probability that all keywords go, else each
  keyword goes with that probability; the name or the style phrase each go with half of it (never both
  name and keywords); ``caption_blank`` is the
  probability of the blank caption ``BLANK_CAPTION``, "an emoji" (for classifier-free guidance: the
  bundle's neutral and negative prompt). Both are drawn per (epoch, index).
- ``styles``: a subset of the styles (default all three), ``image_size`` (default 64).
"""

from __future__ import annotations

import re
import unicodedata
import zlib

import numpy as np

from vaestudio.data.emoji_packages import EMOJI, STYLE_NAMES
from vaestudio.data.emoji_render import rendered_emoji
from vaestudio.data.images import pixels_to_tensor
from vaestudio.data.packaged import locate
from vaestudio.data.source import Example, ImageSource

DEFAULT_IMAGE_SIZE = 64
BLANK_CAPTION = "an emoji"  # the caption that says nothing about the emoji: the prior's unconditional reading
DEFAULT_HOLDOUT_FRACTION = 0.1
SPLITS = ("train", "test", "all")


def _tokens(text: str) -> list[str]:
    """Case-folded words and punctuation marks, as the text encoder's tokenizer splits them."""
    return re.findall(r"\w+|[^\w\s]", unicodedata.normalize("NFKC", text).casefold())


def is_held_out(base_key: str, fraction: float) -> bool:
    """Whether the emoji whose base key is ``base_key`` is in the test split."""
    return zlib.crc32(base_key.encode("utf-8")) < fraction * 2**32


def full_caption(name: str, style: str, keywords: list[str] | tuple[str, ...]) -> str:
    """The complete caption of one image: name, style phrase, then keywords."""
    caption = f"{name} in {style} style"
    return f"{caption}, {' '.join(keywords)}" if keywords else caption


def prompt(name: str, style: str | None = None) -> str:
    """What a person types for an emoji: "cat face in openmoji style" (or just the name)."""
    return f"{name} in {style} style" if style else name


class EmojiSource(ImageSource):
    num_channels = 3
    has_captions = True
    in_memory = True  # one cached array: any index is as cheap as the first (an even sample spans every group)

    def __init__(
        self,
        split: str = "train",
        image_size: int | None = None,
        styles: list[str] | None = None,
        holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION,
        caption_dropout: float = 0.0,
        caption_blank: float = 0.0,
        caption_seed: int = 0,
        cache_dir: str | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"emoji has splits {list(SPLITS)}, not {split!r}")
        unknown = sorted(set(styles or ()) - set(STYLE_NAMES))
        if unknown:
            raise ValueError(f"emoji has no style(s) {unknown}; its styles are {list(STYLE_NAMES)}")
        for option, value in (("caption_dropout", caption_dropout), ("caption_blank", caption_blank),
                              ("holdout_fraction", holdout_fraction)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{option} is a fraction in [0, 1], got {value}")
        self.spec, self.split = "emoji", split
        self.image_size = image_size or DEFAULT_IMAGE_SIZE
        self.caption_dropout, self.caption_blank, self.caption_seed = caption_dropout, caption_blank, caption_seed
        checksums = [entry.sha256 for entry in EMOJI.files]
        all_images, all_records = rendered_emoji(locate(EMOJI), self.image_size, checksums, cache_dir)
        self.label_names = sorted({record["subgroup"] for record in all_records})
        chosen_styles = set(styles or STYLE_NAMES)
        keep = [
            index for index, record in enumerate(all_records)
            if record["style"] in chosen_styles
            and (split == "all" or is_held_out(record["base"], holdout_fraction) == (split == "test"))
        ]
        self.records = [all_records[index] for index in keep]
        self.images = all_images[np.asarray(keep, dtype=np.int64)] if keep else all_images[:0]  # (N, S, S, 3)
        subgroup_ids = {name: index for index, name in enumerate(self.label_names)}
        self.labels = np.array([subgroup_ids[record["subgroup"]] for record in self.records], dtype=np.int64)
        self.style_ids = np.array([STYLE_NAMES.index(record["style"]) for record in self.records], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.records)

    def name(self, index: int) -> str:
        return self.records[index]["name"]

    def style(self, index: int) -> str:
        return self.records[index]["style"]

    def full_caption(self, index: int) -> str:
        record = self.records[index]
        return full_caption(record["name"], record["style"], record["keywords"])

    def all_captions(self) -> list[str]:
        """Every complete caption (no dropout): what a vocabulary is built from."""
        return [self.full_caption(index) for index in range(len(self))]

    def vocabulary_captions(self) -> list[str]:
        """The complete captions keeping only tokens that name at least two emoji (words of one emoji alone
        cannot carry over to a held-out one) and the style phrase: what a text encoder's vocabulary is
        built from (``vaestudio.training.building.source_captions``)."""
        emoji_per_token: dict[str, set[str]] = {}
        for record in self.records:
            for token in _tokens(f"{record['name']} {' '.join(record['keywords'])}"):
                emoji_per_token.setdefault(token, set()).add(record["base"])
        kept = {token for token, emoji in emoji_per_token.items() if len(emoji) >= 2}
        kept |= set(_tokens(" ".join([BLANK_CAPTION, *(f"in {style} style" for style in STYLE_NAMES)])))
        captions = [" ".join(token for token in _tokens(self.full_caption(index)) if token in kept)
                    for index in range(len(self))]
        return [caption for caption in captions if caption] + [BLANK_CAPTION]

    def caption(self, index: int) -> str:
        """The caption of ``index`` this epoch: complete, or with parts dropped (module docstring)."""
        if self.caption_dropout == 0.0 and self.caption_blank == 0.0:
            return self.full_caption(index)
        record = self.records[index]
        generator = np.random.default_rng([self.caption_seed, self.epoch, index])
        if generator.random() < self.caption_blank:
            return BLANK_CAPTION
        every_keyword_dropped = generator.random() < self.caption_dropout
        keywords = [word for word in record["keywords"]
                    if not every_keyword_dropped and generator.random() >= self.caption_dropout]
        drop_name = bool(keywords) and generator.random() < self.caption_dropout / 2
        drop_style = generator.random() < self.caption_dropout / 2
        parts = [] if drop_name else [record["name"]]
        if not drop_style:
            parts.append(f"in {record['style']} style")
        text = " ".join(parts)
        if keywords:
            text = f"{text}, {' '.join(keywords)}" if text else " ".join(keywords)
        return text

    def read(self, index: int) -> Example:
        return Example(image=pixels_to_tensor(self.images[index]), label=int(self.labels[index]),
                       caption=self.caption(index))
