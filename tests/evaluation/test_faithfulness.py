"""The shapes attribute checker and the text-to-image faithfulness evaluation."""

import json

import numpy as np

from vaestudio.evaluation import faithfulness
from vaestudio.worlds.shapes.checker import attribute_agreement, check_description, read_image
from vaestudio.worlds.shapes.render import render
from vaestudio.worlds.shapes.source import ShapesSource
from vaestudio.worlds.shapes.world import Scene, ShapeObject

# Measured: 0.9975 of 2,000 test images read right on every attribute (shape 0.9975, the rest 1.0),
# `python -m vaestudio.evaluation.faithfulness --num-prompts 0 --checker-images 2000`.
CHECKER_THRESHOLD = 0.99


def scene(*objects, background="white"):
    return Scene(tuple(ShapeObject(**values) for values in objects), background)


def test_checker_reads_a_known_scene():
    picture = render(scene({"shape": "star", "color": "purple", "size": "large", "row": "top", "column": "left", "x": 16, "y": 16,
                                "diameter": 26},
                           {"shape": "heart", "color": "yellow", "size": "small", "row": "bottom", "column": "right", "x": 48,
                                "y": 48, "diameter": 14}, background="gray"))
    reading = read_image(picture)
    assert reading.background == "gray"
    found = [(item.shape, item.color, item.size, item.position) for item in reading.objects]
    assert found == [("star", "purple", "large", "in the top left"), ("heart", "yellow", "small", "in the bottom right")]


def test_checker_accepts_pil_arrays_and_tensors_of_other_sizes():
    import torch
    from PIL import Image

    picture = render(scene({"shape": "square", "color": "cyan", "size": "large", "row": "middle", "column": "center", "x": 32,
                                "y": 32, "diameter": 26}, background="black"))
    for form in (Image.fromarray(picture).resize((128, 128)), picture,
                 torch.from_numpy(picture.copy()).permute(2, 0, 1).float() / 255):
        reading = read_image(form)
        assert reading.background == "black" and [item.shape for item in reading.objects] == ["square"]


def test_checker_on_real_test_images_is_above_the_measured_threshold():
    report = faithfulness.checker_accuracy(num_images=300)
    assert report["images"] == 300
    assert report["all_attributes"] >= CHECKER_THRESHOLD
    assert all(rate >= CHECKER_THRESHOLD for rate in report["per_attribute"].values())


def test_description_matching_is_order_free_and_partial():
    picture = render(scene({"shape": "circle", "color": "red", "size": "small", "row": "top", "column": "right", "x": 48, "y": 16,
                                "diameter": 14},
                           {"shape": "triangle", "color": "green", "size": "large", "row": "bottom", "column": "left", "x": 16,
                                "y": 48, "diameter": 26}))
    reading = read_image(picture)
    assert check_description(reading, [{"shape": "triangle"}, {"color": "red", "position": "in the top right"}], None)
    assert not check_description(reading, [{"shape": "triangle"}], None)  # wrong count
    assert not check_description(reading, [{"shape": "triangle"}, {"shape": "star"}], "white")
    agreement = attribute_agreement(reading, [{"shape": "triangle", "color": "blue"}, {"shape": "circle"}], "black")
    assert agreement["shape"] and agreement["count"] and not agreement["color"]
    assert not agreement["background"] and not agreement["all"]


def test_test_prompts_mark_held_out_pairs():
    cases = faithfulness.test_prompts(60)
    source = ShapesSource("test", num_images=60, cache=False)
    assert [case.prompt for case in cases] == [source[index].caption for index in range(60)]
    held_out = [case for case in cases if case.held_out]
    assert held_out and len(held_out) < len(cases)
    pairs = {("green", "triangle"), ("purple", "star"), ("orange", "circle"), ("cyan", "square"), ("yellow", "heart")}
    for case in held_out:
        assert any((item["color"], item["shape"]) in pairs for item in case.objects)


class RenderingPipeline:
    """A perfect 'model': renders the prompt's own scene (so faithfulness must be ~1). ``scored_last``: the
    right image is the worst-scored candidate, the others show the next prompt's scene."""

    guidance_scale = 1.0
    temperature = 0.7  # the bundle's default, reported when a run gives none
    layout = None
    object_score_weight = 0.5  # reported as the settings' reranking weight

    def __init__(self, cases, scored_last=False):
        self.scenes = {case.prompt: index for index, case in enumerate(cases)}
        self.scored_last = scored_last

    def __call__(self, prompt, num_images, rerank, seed, temperature, top_k, guidance_scale, regions):
        from types import SimpleNamespace

        from PIL import Image

        source = ShapesSource("test", num_images=len(self.scenes) + 1, cache=False)
        index = self.scenes[prompt]
        right = SimpleNamespace(image=Image.fromarray(source.pixels(index)))
        if not self.scored_last:
            return [right] * num_images
        return [SimpleNamespace(image=Image.fromarray(source.pixels(index + 1)))] * (num_images - 1) + [right]


def test_faithfulness_of_a_perfect_model_and_report_layout():
    cases = faithfulness.test_prompts(40)
    report = faithfulness.faithfulness(RenderingPipeline(cases), cases, num_images=2)
    assert report["all_prompts"]["images"] == 80
    assert report["all_prompts"]["all_attributes"] >= 0.97
    held = sum(case.held_out for case in cases)
    assert report["held_out_pairs"]["images"] == 2 * held
    assert report["seen_pairs"]["images"] == 2 * (40 - held)
    single = sum(len(case.objects) == 1 for case in cases)
    assert 0 < single < 40 and report["one_object"]["images"] == 2 * single
    assert report["two_objects"]["images"] == 2 * (40 - single)
    assert report["candidates"]["prompts_with_a_right_candidate"] >= 0.97
    assert report["settings"]["temperature"] == 0.7
    assert report["settings"]["object_score_weight"] == 0.5
    assert faithfulness.faithfulness(RenderingPipeline(cases[:2]), cases[:2], temperature=1.5)["settings"][
        "temperature"] == 1.5


def test_candidates_tell_the_prior_s_misses_from_the_scorer_s():
    cases = faithfulness.test_prompts(30)
    report = faithfulness.faithfulness(RenderingPipeline(cases, scored_last=True), cases, num_images=1, rerank=4)
    assert report["all_prompts"]["images"] == 30
    assert report["all_prompts"]["all_attributes"] <= 0.1  # the best-scored image shows another scene
    assert report["candidates"]["prompts_with_a_right_candidate"] >= 0.95  # yet one candidate was right
    assert 0.2 <= report["candidates"]["sampled_images_right"] <= 0.3  # one of four

def test_faithfulness_of_an_untrained_bundle_runs():
    from tests.pipelines.conftest import make_tiny_bundle
    from vaestudio.pipelines.text_to_image import TextToImage

    bundle = make_tiny_bundle(["<pad>", "<unk>", "a", "red", "circle"])
    report = faithfulness.faithfulness(TextToImage(bundle), faithfulness.test_prompts(3), rerank=2)
    assert report["all_prompts"]["images"] == 3
    assert 0.0 <= report["all_prompts"]["all_attributes"] <= 1.0


def test_cli_prints_json(capsys):
    assert faithfulness.main(["--num-prompts", "0", "--checker-images", "20"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checker_on_real_images"]["images"] == 20
    assert np.isclose(report["checker_on_real_images"]["per_attribute"]["color"], 1.0)


def test_reconstruction_ceiling_of_an_untrained_vqvae():
    from vaestudio.models.vqvae import VQVAE, VQVAEConfig

    vqvae = VQVAE(VQVAEConfig(hidden_channels=8, residual_channels=4, num_residual_blocks=1, num_codes=8,
                              code_dim=4, kmeans_init=False)).eval()
    report = faithfulness.reconstruction_ceiling(vqvae, num_images=12)
    assert report["images"] == 12 and 0.0 <= report["all_attributes"] <= 1.0
