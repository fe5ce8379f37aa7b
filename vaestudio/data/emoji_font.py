"""The ``emoji-font`` source (the first emoji source; ``emoji`` is now three open styles, see emoji.py): emoji rendered from the Noto Color Emoji font, names as captions.

The font is found at ``$VAESTUDIO_EMOJI_FONT``, else at the usual Debian/Ubuntu/Fedora/macOS paths
(``FONT_SEARCH_PATHS``); on Debian and Ubuntu it comes with ``apt-get install fonts-noto-color-emoji``.

Which emoji: every single code point of the ``EMOJI_BLOCKS`` ranges (Misc Symbols, Dingbats,
Misc Symbols and Pictographs, Emoticons, Transport and Map, Supplemental Symbols and Pictographs,
Symbols and Pictographs Extended-A) that (1) has a name in Python's ``unicodedata``, (2) is not a
skin-tone modifier and (3) has a glyph in the font - in code point order (about 1,300 with Noto
2.042 and Python 3.11). Sequences (flags, ZWJ families, skin tones) are not included.

Rendering: the colour bitmap strike (Noto's only size, 109 pt -> 136 x 128 px) is drawn with
``embedded_color=True``, centred on a 136 x 136 white square and resized (LANCZOS) to ``image_size``
(default 32). Captions are the Unicode names, lower-cased ("grinning face"); no labels.
Split: every tenth emoji of the list (positions 9, 19, ...) is ``test``, the rest ``train``;
``all`` is everything. Renders are cached as ``.npy`` (``$VAESTUDIO_CACHE``, see cache.py).
"""

from __future__ import annotations

import os
import sys
import unicodedata

import numpy as np
import PIL
from PIL import Image, ImageDraw, ImageFont

from vaestudio.data.cache import cached_array, code_fingerprint, key_folder
from vaestudio.data.images import pixels_to_tensor
from vaestudio.data.source import Example, ImageSource

FONT_ENVIRONMENT_VARIABLE = "VAESTUDIO_EMOJI_FONT"
FONT_PACKAGE = "fonts-noto-color-emoji"
FONT_SEARCH_PATHS = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",  # Debian, Ubuntu
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",  # Arch
    "/usr/share/fonts/google-noto-color-emoji-fonts/NotoColorEmoji.ttf",  # Fedora
    "/usr/share/fonts/google-noto-emoji/NotoColorEmoji.ttf",
    os.path.expanduser("~/.local/share/fonts/NotoColorEmoji.ttf"),
    "/Library/Fonts/NotoColorEmoji.ttf",  # macOS, user-installed
)
FONT_SIZE = 109  # the size of Noto Color Emoji's bitmap strike; other sizes fail to load
CANVAS_SIZE = 136
EMOJI_BLOCKS = (
    (0x2600, 0x27BF),
    (0x1F300, 0x1F5FF),
    (0x1F600, 0x1F64F),
    (0x1F680, 0x1F6FF),
    (0x1F900, 0x1F9FF),
    (0x1FA70, 0x1FAFF),
)
SKIN_TONE_MODIFIERS = range(0x1F3FB, 0x1F400)
TEST_EVERY = 10
DEFAULT_IMAGE_SIZE = 32


class EmojiFontMissingError(FileNotFoundError):
    """No Noto Color Emoji font file; the message says how to install or point to one."""


def find_font(font_path: str | None = None) -> str:
    """The font file: ``font_path``, else ``$VAESTUDIO_EMOJI_FONT``, else the first existing search path."""
    explicit = font_path or os.environ.get(FONT_ENVIRONMENT_VARIABLE)
    candidates = [explicit] if explicit else list(FONT_SEARCH_PATHS)
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise EmojiFontMissingError(
        f"the emoji source needs the Noto Color Emoji font, not found at {', '.join(candidates)}. "
        f"Install it (Debian/Ubuntu: apt-get install {FONT_PACKAGE}) or set {FONT_ENVIRONMENT_VARIABLE} "
        "to the path of NotoColorEmoji.ttf"
    )


def _has_glyph(font: ImageFont.FreeTypeFont, character: str) -> bool:
    left, top, right, bottom = font.getbbox(character)
    return right > left and bottom > top


def emoji_in_font(font: ImageFont.FreeTypeFont) -> list[int]:
    """The documented emoji list (module docstring), as code points."""
    code_points = []
    for first, last in EMOJI_BLOCKS:
        for code_point in range(first, last + 1):
            character = chr(code_point)
            if code_point in SKIN_TONE_MODIFIERS or unicodedata.name(character, None) is None:
                continue
            if _has_glyph(font, character):
                code_points.append(code_point)
    return code_points


def render_emoji(font: ImageFont.FreeTypeFont, code_point: int, image_size: int) -> np.ndarray:
    """uint8 (image_size, image_size, 3): one emoji centred on white."""
    character = chr(code_point)
    left, top, right, bottom = font.getbbox(character)
    layer = Image.new("RGBA", (CANVAS_SIZE, CANVAS_SIZE), (255, 255, 255, 0))
    offset = ((CANVAS_SIZE - (right - left)) // 2 - left, (CANVAS_SIZE - (bottom - top)) // 2 - top)
    ImageDraw.Draw(layer).text(offset, character, font=font, embedded_color=True)
    canvas = Image.new("RGBA", (CANVAS_SIZE, CANVAS_SIZE), (255, 255, 255, 255))
    canvas.alpha_composite(layer)
    resized = canvas.convert("RGB").resize((image_size, image_size), Image.Resampling.LANCZOS)
    return np.asarray(resized)


def _font_key(path: str, image_size: int) -> dict:
    status = os.stat(path)
    return {
        "code": code_fingerprint(sys.modules[__name__]),
        "font": os.path.abspath(path),
        "font_bytes": status.st_size,
        "font_mtime": int(status.st_mtime),
        "size": image_size,
        "pillow": PIL.__version__,
        "unicode": unicodedata.unidata_version,
    }


class EmojiFontSource(ImageSource):
    num_channels = 3
    has_captions = True
    label_names = None

    def __init__(
        self,
        split: str = "train",
        image_size: int | None = None,
        font_path: str | None = None,
        cache_dir: str | None = None,
    ) -> None:
        if split not in ("train", "test", "all"):
            raise ValueError(f"emoji-font has splits ['train', 'test', 'all'], not {split!r}")
        self.spec, self.split = "emoji-font", split
        self.image_size = image_size or DEFAULT_IMAGE_SIZE
        path = find_font(font_path)
        folder = key_folder("emoji-font", _font_key(path, self.image_size), cache_dir)
        font = ImageFont.truetype(path, FONT_SIZE)
        all_code_points = cached_array(
            os.path.join(folder, "code_points.npy"), lambda: np.array(emoji_in_font(font), dtype=np.int32)
        )
        all_images = cached_array(
            os.path.join(folder, "images.npy"),
            lambda: np.stack([render_emoji(font, int(point), self.image_size) for point in all_code_points]),
        )
        positions = np.arange(len(all_code_points))
        chosen = {
            "train": positions % TEST_EVERY != TEST_EVERY - 1,
            "test": positions % TEST_EVERY == TEST_EVERY - 1,
        }
        keep = chosen.get(split, np.ones(len(positions), dtype=bool))
        self.code_points = np.asarray(all_code_points)[keep]  # (N,) int32
        self.images = np.asarray(all_images)[keep]  # (N, S, S, 3) uint8

    def __len__(self) -> int:
        return len(self.code_points)

    def name(self, index: int) -> str:
        return unicodedata.name(chr(int(self.code_points[index]))).lower()

    def read(self, index: int) -> Example:
        return Example(image=pixels_to_tensor(self.images[index]), label=None, caption=self.name(index))
