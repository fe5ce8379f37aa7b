"""The image-loading policy on generated good and bad images."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from vaestudio.data.images import ImageError, ImageTooLargeError, load_image, to_model_input


def encoded(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels and holds no pixel data at all."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(int)


def test_paths_bytes_and_pil_images_all_load_as_rgb(tmp_path):
    original = Image.new("RGB", (5, 4), (10, 20, 30))
    path = tmp_path / "small.png"
    original.save(path)
    for source in (str(path), path, path.read_bytes(), original, io.BytesIO(path.read_bytes())):
        loaded = load_image(source)
        assert loaded.mode == "RGB" and loaded.size == (5, 4)
        assert (pixels(loaded) == (10, 20, 30)).all()


def test_empty_input_is_a_clear_error(tmp_path):
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    empty_file = tmp_path / "empty.png"
    empty_file.write_bytes(b"")
    with pytest.raises(ImageError, match="empty.png.*empty"):
        load_image(empty_file)


def test_a_text_file_is_not_an_image(tmp_path):
    text_file = tmp_path / "notes.png"
    text_file.write_text("these are not pixels\n")
    with pytest.raises(ImageError, match="notes.png is not an image.*PNG, JPEG"):
        load_image(text_file)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "absent.png")


def test_a_truncated_png_is_a_clear_error():
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = encoded(noisy, "PNG")
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(data[: len(data) // 2])


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow warns; we then refuse
def test_a_decompression_bomb_header_is_rejected_before_decoding():
    with pytest.raises(ImageTooLargeError, match="too many pixels|megapixels"):
        load_image(png_header_only(100_000, 100_000))
    # Below Pillow's own guard but above ours: our check fires first. The file holds no pixel data,
    # so a decode would fail with a different error - the type proves the check came before it.
    with pytest.raises(ImageTooLargeError, match="10000 x 10000"):
        load_image(png_header_only(10_000, 10_000))
    with pytest.raises(ImageTooLargeError, match="limit of 100"):
        load_image(Image.new("RGB", (20, 20)), max_pixels=100)


def test_16_bit_greyscale_is_scaled_not_clipped():
    levels = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    sixteen_bit = Image.fromarray(levels)
    assert sixteen_bit.mode.startswith("I;16")
    loaded = load_image(encoded(sixteen_bit, "PNG"))
    assert pixels(loaded)[0, :, 0].tolist() == [0, 1, 128, 255]
    wide = Image.fromarray(levels.astype(np.int32))  # mode "I"
    assert pixels(load_image(wide))[0, :, 1].tolist() == [0, 1, 128, 255]


def test_palette_transparency_is_composited_on_the_background():
    palette_image = Image.new("P", (2, 1))
    palette_image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette_image.putpixel((0, 0), 0)
    palette_image.putpixel((1, 0), 1)
    palette_image.info["transparency"] = 0
    loaded = load_image(encoded(palette_image, "PNG", transparency=0), background=(0, 255, 0))
    assert pixels(loaded)[0].tolist() == [[0, 255, 0], [0, 0, 255]]


def test_rgba_and_la_alpha_are_composited():
    rgba = Image.new("RGBA", (1, 1), (255, 0, 0, 128))
    assert np.abs(pixels(load_image(encoded(rgba, "PNG")))[0, 0] - (255, 127, 127)).max() <= 1
    la = Image.new("LA", (1, 1), (0, 0))
    assert pixels(load_image(encoded(la, "PNG"), background=(9, 8, 7)))[0, 0].tolist() == [9, 8, 7]


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # full magenta and yellow: red
    loaded = load_image(encoded(cmyk, "JPEG", quality=95))
    assert loaded.mode == "RGB"
    assert np.abs(pixels(loaded)[4, 4] - (255, 0, 0)).max() <= 8


def test_exif_orientation_is_applied():
    left_red_right_blue = Image.new("RGB", (40, 20), (255, 0, 0))
    left_red_right_blue.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: rotate 90 degrees clockwise to display
    loaded = load_image(encoded(left_red_right_blue, "JPEG", quality=95, exif=exif))
    assert loaded.size == (20, 40)
    assert np.abs(pixels(loaded)[5, 10] - (255, 0, 0)).max() <= 10  # red now on top
    assert np.abs(pixels(loaded)[35, 10] - (0, 0, 255)).max() <= 10


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (4, 4), color) for color in ((255, 0, 0), (0, 0, 255))]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert pixels(load_image(data))[0, 0].tolist() == [255, 0, 0]


def test_model_input_is_a_centre_crop_resized_to_the_model():
    wide = Image.new("RGB", (30, 20), (255, 0, 0))
    wide.paste((0, 0, 255), (0, 0, 5, 20))  # a blue band that the centre crop removes
    tensor = to_model_input(wide, 16)
    assert tensor.shape == (3, 16, 16) and tensor.dtype.is_floating_point
    assert np.allclose(tensor[:, 8, 8].numpy(), (1, 0, 0), atol=0.01)
    assert tensor[2].max() < 0.05
    assert to_model_input(wide, 16, channels=1).shape == (1, 16, 16)


def test_a_1x1_image_becomes_a_uniform_square():
    tensor = to_model_input(Image.new("RGB", (1, 1), (51, 102, 153)), 8)
    assert tensor.shape == (3, 8, 8)
    assert np.allclose(tensor.numpy(), np.array([0.2, 0.4, 0.6])[:, None, None], atol=1 / 255)


def test_an_8000x1_strip_is_letterboxed_not_cropped_to_a_pixel():
    gradient = np.linspace(0, 255, 8000).astype(np.uint8)[None, :, None].repeat(3, axis=2)  # (1, 8000, 3)
    tensor = to_model_input(Image.fromarray(gradient), 32, background=(0, 0, 0))
    assert tensor.shape == (3, 32, 32)
    strip_rows = np.nonzero(tensor.sum(dim=(0, 2)).numpy() > 0)[0]
    assert strip_rows.tolist() == [15]  # one row of content, centred, the rest background
    row = tensor[0, 15].numpy()
    assert row[0] < 0.1 and row[-1] > 0.9 and np.all(np.diff(row) >= -0.02)  # the whole gradient survives


def test_channels_must_be_1_or_3():
    with pytest.raises(ValueError, match="channels"):
        to_model_input(Image.new("RGB", (4, 4)), 4, channels=2)
