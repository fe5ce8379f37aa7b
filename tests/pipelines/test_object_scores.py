"""Object-by-object reranking: regions, blanking, and the shipped scorer's verdict on each object alone."""

import pytest
import torch

from vaestudio import hub
from vaestudio.checkpoints import Bundle
from vaestudio.common.batch import RegionalCondition
from vaestudio.pipelines.object_scores import (
    border_colour,
    combined_scores,
    object_similarities,
    region_masks,
)
from vaestudio.pipelines.text_to_image import TextToImage
from vaestudio.worlds.shapes.layout import shapes_layout
from vaestudio.worlds.shapes.render import render
from vaestudio.worlds.shapes.world import CELL_CENTERS, Scene, ShapeObject

PROMPT = "a large red circle in the top left and a small blue star in the bottom right on a white background"


def test_border_colour_is_the_median_of_the_frame_not_the_middle():
    images = torch.zeros(2, 3, 10, 12)  # (B, C, H, W)
    images[0, :] = torch.tensor([0.2, 0.4, 0.6])[:, None, None]
    images[0, :, 3:7, 3:9] = 1.0  # an object in the middle
    images[0, :, 0, 0] = 0.9  # one odd border pixel
    images[1, 1] = 0.5
    colours = border_colour(images)  # (2, 3, 1, 1)
    assert colours.shape == (2, 3, 1, 1)
    assert torch.allclose(colours[0].flatten(), torch.tensor([0.2, 0.4, 0.6]))
    assert torch.allclose(colours[1].flatten(), torch.tensor([0.0, 0.5, 0.0]))


def test_region_masks_give_each_pixel_to_the_heaviest_object_at_its_code_position():
    condition = shapes_layout(PROMPT, (16, 16), 1)
    masks = region_masks(condition, (64, 64))  # (2, 64, 64)
    assert masks.shape == (2, 64, 64)
    assert torch.equal(masks.sum(0), torch.ones(64, 64))  # a partition of the picture
    owner = condition.weights.argmax(0)  # (16, 16)
    for y, x in [(0, 0), (63, 63), (5, 60), (33, 17), (47, 2)]:
        assert masks[owner[y // 4, x // 4], y, x] == 1.0
    assert masks[0, CELL_CENTERS[0], CELL_CENTERS[0]] == 1.0  # top left belongs to the circle
    assert masks[1, CELL_CENTERS[2], CELL_CENTERS[2]] == 1.0  # bottom right to the star


class RecordingScorer:
    """Scores a picture by its mean brightness and keeps what each call was shown."""

    def __init__(self):
        self.pictures, self.captions = [], []

    def score(self, images, captions):
        self.pictures.append(images.clone())
        self.captions.append(captions)
        return images.mean(dim=(1, 2, 3))


def test_each_object_is_shown_in_its_region_with_the_rest_painted_in_the_background():
    weights = torch.zeros(2, 2, 2)  # (R, h, w): object 0 owns the left column, object 1 the right one
    weights[0, :, 0] = weights[1, :, 1] = 1.0
    condition = RegionalCondition(["left caption", "right caption"], weights, 3)
    images = torch.rand(3, 3, 8, 8)  # (B, C, H, W)
    images[:, :, 0] = images[:, :, -1] = 0.25  # border rows
    images[:, :, :, 0] = images[:, :, :, -1] = 0.25  # border columns
    scorer = RecordingScorer()
    similarities = object_similarities(scorer, images, condition)  # (3, 2)
    assert similarities.shape == (3, 2)
    assert scorer.captions == ["left caption", "right caption"]  # each caption once, against every candidate
    pictures = torch.stack(scorer.pictures, dim=1)  # (B, R, C, H, W)
    assert torch.equal(pictures[:, 0, :, :, :4], images[:, :, :, :4])  # the left object's own pixels kept
    assert torch.all(pictures[:, 0, :, :, 4:] == 0.25)  # the other region blanked
    assert torch.equal(pictures[:, 1, :, :, 4:], images[:, :, :, 4:])
    assert torch.all(pictures[:, 1, :, :, :4] == 0.25)
    assert torch.allclose(similarities, pictures.mean(dim=(2, 3, 4)))


def test_the_worst_object_decides_between_candidates():
    whole = torch.tensor([0.9, 0.7, 0.8])
    objects = torch.tensor([[0.9, 0.1], [0.7, 0.6], [0.2, 0.95]])  # (B, R)
    assert torch.equal(combined_scores(whole, objects, 0.0), whole)
    assert torch.equal(combined_scores(whole, None, 2.0), whole)
    combined = combined_scores(whole, objects, 2.0)
    assert torch.allclose(combined, torch.tensor([(0.9 + 0.2) / 3, (0.7 + 1.2) / 3, (0.8 + 0.4) / 3]))
    assert int(combined.argmax()) == 1  # no badly drawn object, though not the best whole-prompt score
    assert bool((combined.abs() <= 1).all())


def shapes_scene(second_shape: str) -> torch.Tensor:
    objects = (ShapeObject("circle", "red", "large", "top", "left", CELL_CENTERS[0], CELL_CENTERS[0], 26.0),
               ShapeObject(second_shape, "blue", "small", "bottom", "right", CELL_CENTERS[2], CELL_CENTERS[2], 14.0))
    pixels = render(Scene(objects, "white"))  # (64, 64, 3) uint8
    return torch.tensor(pixels).permute(2, 0, 1).float() / 255.0  # (3, 64, 64)


def test_the_shipped_scorer_finds_the_wrong_object_when_it_is_shown_alone():
    pipeline = TextToImage(hub.load("shapes"))
    condition = pipeline.condition(PROMPT, 3)
    assert isinstance(condition, RegionalCondition)
    images = torch.stack([shapes_scene("star"), shapes_scene("square"), shapes_scene("heart")])  # (3, 3, 64, 64)
    similarities = object_similarities(pipeline.scorer, images, condition)  # (3, 2)
    assert bool((similarities[0, 1] > similarities[1:, 1]).all())  # the star's caption prefers the star
    assert torch.allclose(similarities[:, 0], similarities[0, 0].expand(3), atol=0.05)  # the same circle alone
    ranking = combined_scores(pipeline.scorer.score(images, PROMPT), similarities, pipeline.object_score_weight)
    assert int(ranking.argmax()) == 0


def test_the_bundle_weight_reranks_regional_prompts_only(tiny_bundle):
    plain = TextToImage(Bundle("text_to_image", tiny_bundle.components, options={"layout": "shapes"}))
    options = {"layout": "shapes", "object_score_weight": 3.0}
    weighted = TextToImage(Bundle("text_to_image", tiny_bundle.components, options=options))
    prompt = "a red circle in the top left and a blue star in the bottom right"
    everything = weighted(prompt, num_images=6, rerank=6, seed=2)
    codes = torch.stack([item.codes for item in everything])  # (6, 4, 4)
    images = tiny_bundle["vqvae"].decode_codes(codes)  # (6, 3, 16, 16)
    condition = weighted.condition(prompt, 6)
    expected = combined_scores(weighted.scorer.score(images, prompt),
                               object_similarities(weighted.scorer, images, condition), 3.0)  # (6,)
    assert [item.score for item in everything] == pytest.approx(expected.tolist(), abs=1e-5)
    assert [item.score for item in everything] == sorted(item.score for item in everything)[::-1]
    unweighted = plain(prompt, num_images=6, rerank=6, seed=2)
    assert sorted(item.score for item in unweighted) != pytest.approx(sorted(expected.tolist()), abs=1e-5)
    best = weighted(prompt, num_images=2, rerank=6, seed=2)
    assert [item.codes.tolist() for item in best] == [item.codes.tolist() for item in everything][:2]
    frames = list(weighted.stream(prompt, num_images=2, rerank=6, seed=2))
    assert [item.codes.tolist() for item in frames[-1]] == [item.codes.tolist() for item in best]
    one_object = "a red circle in the top left"  # no regions: the whole prompt alone ranks
    assert ([item.score for item in weighted(one_object, num_images=3, rerank=3, seed=2)]
            == [item.score for item in plain(one_object, num_images=3, rerank=3, seed=2)])


@pytest.mark.parametrize("value", [-0.5, 101.0, "2", True, float("nan")])
def test_a_bad_object_score_weight_is_refused_clearly(tiny_bundle, value):
    with pytest.raises(ValueError, match="object_score_weight must be between 0 and 100"):
        TextToImage(Bundle("text_to_image", tiny_bundle.components, options={"object_score_weight": value}))
