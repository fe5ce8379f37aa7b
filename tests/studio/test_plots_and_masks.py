"""The clickable scatter maps pixels back to latents; painted layers become a binary mask."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from studio.engine_api import InputError, LatentScatter
from studio.masks import mask_from_layers
from studio.plots import draw_scatter


def test_a_click_on_a_drawn_point_gives_back_its_coordinates():
    scatter = LatentScatter([-2.0, 0.5, 3.0], [1.0, -1.5, 0.0], ["a", "b", "a"], "z1", "z2", state=None)
    picture, frame = draw_scatter(scatter)
    for x, y in zip(scatter.x, scatter.y):
        pixel = frame.to_pixel(x, y)
        assert picture.getpixel(tuple(round(v) for v in pixel)) != (255, 255, 255)  # a point is drawn there
        assert frame.to_data(*pixel) == pytest.approx((x, y))


def _layer_bytes(box, size=(40, 40)) -> bytes:
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    layer.paste((0, 0, 0, 255), box)
    buffer = io.BytesIO()
    layer.save(buffer, "PNG")
    return buffer.getvalue()


def test_layers_union_into_a_mask_of_the_image_size():
    mask = mask_from_layers([_layer_bytes((0, 0, 10, 10)), _layer_bytes((30, 30, 40, 40))], (20, 20), 10_000)
    assert mask.mode == "L" and mask.size == (20, 20)
    assert mask.getpixel((1, 1)) == 255 and mask.getpixel((19, 19)) == 255 and mask.getpixel((10, 10)) == 0


def test_no_paint_and_oversized_layers_are_refused():
    with pytest.raises(InputError, match="Paint"):
        mask_from_layers([], (8, 8), 10_000)
    with pytest.raises(InputError, match="empty"):
        mask_from_layers([_layer_bytes((0, 0, 0, 0))], (8, 8), 10_000)
    with pytest.raises(InputError, match="smaller"):
        mask_from_layers([_layer_bytes((0, 0, 5, 5))], (8, 8), 100)
