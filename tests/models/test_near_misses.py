"""Near misses: rounded corners (a disk median), wobbly edges (a smooth warp), the random mix of both."""

import pytest
import torch

from vaestudio.models.near_misses import near_misses, round_corners, wobble

BACKGROUND, INK = 0.0, 1.0


def square_image(size: int = 24, top: int = 6, side: int = 12, channels: int = 3) -> torch.Tensor:
    """A flat square of INK on BACKGROUND: (1, C, size, size)."""
    image = torch.full((1, channels, size, size), BACKGROUND)
    image[..., top : top + side, top : top + side] = INK
    return image


def reference_disk_median(image: torch.Tensor, diameter: int) -> torch.Tensor:
    """Pixel by pixel: the lower median over the disk, with the border replicated."""
    radius = diameter // 2
    height, width = image.shape[-2:]
    result = torch.empty_like(image)
    for row in range(height):
        for column in range(width):
            values = []
            for dy in range(-radius, radius + 1):
                for dx in range(-radius, radius + 1):
                    if dy * dy + dx * dx <= radius * radius:
                        y = min(max(row + dy, 0), height - 1)
                        x = min(max(column + dx, 0), width - 1)
                        values.append(image[0, :, y, x])
            stacked = torch.stack(values)  # (n, C)
            result[0, :, row, column] = stacked.sort(dim=0).values[(len(values) - 1) // 2]
    return result


@pytest.mark.parametrize("diameter", [3, 5, 7])
def test_round_corners_is_the_disk_median(diameter):
    torch.manual_seed(0)
    image = torch.rand(1, 2, 9, 11)  # odd sizes, not a multiple of the disk
    torch.testing.assert_close(round_corners(image, diameter), reference_disk_median(image, diameter))


def test_round_corners_rounds_a_square_and_keeps_its_sides():
    image = square_image()
    rounded = round_corners(image, 7)
    assert rounded[0, 0, 6, 6] == BACKGROUND  # the corner is cut off
    assert rounded[0, 0, 12, 12] == INK  # the middle stays
    assert rounded[0, 0, 6, 12] == INK and rounded[0, 0, 12, 6] == INK  # mid-side pixels of the edge stay
    assert rounded[0, 0].sum() < image[0, 0].sum()  # less fill: nearer a circle


def test_round_corners_leaves_flat_images_and_diameter_one_alone_and_refuses_even_diameters():
    flat = torch.full((2, 3, 8, 8), 0.4)
    torch.testing.assert_close(round_corners(flat, 9), flat)
    image = torch.rand(1, 3, 5, 5)
    torch.testing.assert_close(round_corners(image, 1), image)
    assert round_corners(torch.empty(0, 3, 8, 8), 5).shape == (0, 3, 8, 8)
    with pytest.raises(ValueError, match="odd diameter"):
        round_corners(image, 4)


def test_wobble_bends_edges_repeats_by_seed_and_is_the_identity_at_zero():
    image = square_image(32, 8, 16)
    torch.testing.assert_close(wobble(image, 0.0), image, atol=1e-5, rtol=0)
    first = wobble(image, 2.0, torch.Generator().manual_seed(1))
    again = wobble(image, 2.0, torch.Generator().manual_seed(1))
    other = wobble(image, 2.0, torch.Generator().manual_seed(2))
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, other)
    changed = (first - image).abs().amax(dim=1)[0]  # (H, W)
    assert changed[8:24, 8:24].sum() > 0  # the square's edges moved
    assert changed[:3, :3].max() < 1e-5 and changed[-3:, -3:].max() < 1e-5  # far from the square: background
    assert first.min() >= BACKGROUND - 1e-6 and first.max() <= INK + 1e-6  # no new colours beyond the two


def test_near_misses_keep_shapes_change_every_image_and_repeat_by_seed():
    images = torch.cat([square_image(32, 4 + 2 * index, 12) for index in range(6)])  # (6, 3, 32, 32)
    first = near_misses(images, torch.Generator().manual_seed(0))
    assert first.shape == images.shape and first.dtype == images.dtype
    torch.testing.assert_close(first, near_misses(images, torch.Generator().manual_seed(0)))
    differences = (first - images).abs().flatten(1).amax(1)  # (6,)
    assert torch.all(differences > 0.05)
    assert near_misses(images[:0]).shape == (0, 3, 32, 32)
