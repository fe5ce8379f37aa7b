"""Text to image on tiny untrained models: determinism, shapes, ranking, bad prompts, streaming."""

import pytest
import torch
from PIL import Image

from tests.pipelines.conftest import TINY_SIZE
from vaestudio.checkpoints import Bundle
from vaestudio.pipelines.prompts import MAX_PROMPT_CHARACTERS
from vaestudio.pipelines.text_to_image import GeneratedImage, TextToImage


@pytest.fixture(scope="module")
def pipeline(tiny_bundle):
    return TextToImage(tiny_bundle)


def codes_of(result):
    return torch.stack([item.codes for item in result])


def test_output_shapes_and_ranking(pipeline):
    result = pipeline("a red circle on the left", num_images=3, rerank=8, seed=1)
    assert len(result) == 3
    for item in result:
        assert isinstance(item, GeneratedImage)
        assert item.image.size == (TINY_SIZE, TINY_SIZE) and item.image.mode == "RGB"
        assert item.codes.shape == (4, 4) and item.codes.dtype == torch.int64
    scores = [item.score for item in result]
    assert scores == sorted(scores, reverse=True)
    assert result.warnings == []


def test_same_seed_same_images_other_seed_other_images(pipeline):
    first = pipeline("a blue star", num_images=4, rerank=4, seed=7)
    again = pipeline("a blue star", num_images=4, rerank=4, seed=7)
    other = pipeline("a blue star", num_images=4, rerank=4, seed=8)
    assert torch.equal(codes_of(first), codes_of(again))
    assert [item.image.tobytes() for item in first] == [item.image.tobytes() for item in again]
    assert not torch.equal(codes_of(first), codes_of(other))


def test_reranking_picks_the_best_scored_candidates(pipeline, tiny_bundle):
    best = pipeline("a small green heart", num_images=2, rerank=6, seed=3)
    everything = pipeline("a small green heart", num_images=6, rerank=6, seed=3)
    assert [item.score for item in best] == [item.score for item in everything][:2]


def code_rows(codes: torch.Tensor) -> list[tuple]:
    """(R, h, w) code maps as a sorted list (ranking reorders candidates)."""
    return sorted(tuple(row) for row in codes.flatten(1).tolist())


def test_guidance_samples_from_the_mixed_logits(pipeline, tiny_bundle):
    prompt = "a red circle on the left"
    guided = pipeline(prompt, num_images=3, rerank=3, seed=2, guidance_scale=3.0)
    naive = tiny_bundle["prior"].naive_sample([prompt] * 3, 4, 4, seed=2, negative_condition=["a shape"] * 3,
                                              guidance_scale=3.0)  # negative: the neutral prompt
    assert code_rows(codes_of(guided)) == code_rows(naive)
    plain = pipeline(prompt, num_images=3, rerank=3, seed=2)
    assert code_rows(codes_of(plain)) != code_rows(codes_of(guided))
    assert torch.equal(codes_of(pipeline(prompt, num_images=3, rerank=3, seed=2, guidance_scale=1.0)), codes_of(plain))
    frames = list(pipeline.stream(prompt, num_images=3, rerank=3, seed=2, guidance_scale=3.0))
    assert torch.equal(torch.stack([item.codes for item in frames[-1]]), codes_of(guided))


def test_a_layout_conditions_each_object_s_region_on_its_own_caption(tiny_bundle):
    import copy

    from vaestudio.worlds.shapes.layout import shapes_layout

    components = dict(tiny_bundle.components, prior=copy.deepcopy(tiny_bundle["prior"]))
    with torch.no_grad():  # an untrained prior barely listens to its prompt: make the words matter
        components["prior"].condition_projection.weight.mul_(30.0)
    tiny_bundle = Bundle("text_to_image", components, options={"neutral_prompt": "a shape"})
    options = {"neutral_prompt": "a shape", "layout": "shapes", "layout_softness": 0.5}
    pipeline = TextToImage(Bundle("text_to_image", components, options=options))
    prompt = "a red circle in the top left and a blue star in the bottom right"
    regional = pipeline(prompt, num_images=3, rerank=3, seed=5)
    expected = tiny_bundle["prior"].naive_sample(shapes_layout(prompt, (4, 4), 3, softness=0.5), 4, 4, seed=5)
    assert code_rows(codes_of(regional)) == code_rows(expected)
    whole = pipeline(prompt, num_images=3, rerank=3, seed=5, regions=False)
    assert torch.equal(codes_of(whole), codes_of(TextToImage(tiny_bundle)(prompt, num_images=3, rerank=3, seed=5)))
    assert code_rows(codes_of(whole)) != code_rows(codes_of(regional))
    assert regional.prompt == prompt  # the scorer ranked against the whole prompt
    frames = list(pipeline.stream(prompt, num_images=3, rerank=3, seed=5))
    assert torch.equal(torch.stack([item.codes for item in frames[-1]]), codes_of(regional))
    one_object = pipeline("a red circle in the top left", num_images=2, rerank=2, seed=5)  # nothing to split
    assert torch.equal(codes_of(one_object), codes_of(TextToImage(tiny_bundle)("a red circle in the top left",
                                                                               num_images=2, rerank=2, seed=5)))
    with pytest.raises(ValueError, match="unknown layout 'nowhere'"):
        TextToImage(Bundle("text_to_image", tiny_bundle.components, options={"layout": "nowhere"}))


def test_the_bundle_sets_the_default_guidance_and_negative_prompt(tiny_bundle):
    options = {"neutral_prompt": "a shape", "guidance_scale": 2.5, "negative_prompt": "a blue star"}
    pipeline = TextToImage(Bundle("text_to_image", tiny_bundle.components, options=options))
    result = pipeline("a red circle", num_images=2, rerank=2, seed=4)
    naive = tiny_bundle["prior"].naive_sample(["a red circle"] * 2, 4, 4, seed=4,
                                              negative_condition=["a blue star"] * 2, guidance_scale=2.5)
    assert code_rows(codes_of(result)) == code_rows(naive)
    unguided = pipeline("a red circle", num_images=2, rerank=2, seed=4, guidance_scale=1.0)
    assert code_rows(codes_of(unguided)) == code_rows(tiny_bundle["prior"].sample(["a red circle"] * 2, 4, 4, seed=4))


def test_the_bundle_sets_the_default_temperature_and_a_request_overrides_it(tiny_bundle):
    from vaestudio.pipelines.inpainting import Inpainter

    options = {"neutral_prompt": "a shape", "temperature": 0.3}
    pipeline = TextToImage(Bundle("text_to_image", tiny_bundle.components, options=options))
    prior = tiny_bundle["prior"]
    cool = prior.sample(["a red circle"] * 3, 4, 4, 0.3, 0, 5)  # (3, h, w) at the bundle's temperature
    assert code_rows(codes_of(pipeline("a red circle", num_images=3, rerank=3, seed=5))) == code_rows(cool)
    frames = list(pipeline.stream("a red circle", num_images=3, rerank=3, seed=5))
    assert code_rows(codes_of(frames[-1])) == code_rows(cool)
    hot = pipeline("a red circle", num_images=3, rerank=3, seed=5, temperature=1.0)
    assert code_rows(codes_of(hot)) == code_rows(prior.sample(["a red circle"] * 3, 4, 4, 1.0, 0, 5))
    assert code_rows(codes_of(hot)) != code_rows(cool)
    assert TextToImage(tiny_bundle).temperature == 1.0  # no option: plain sampling
    inpainter = Inpainter(tiny_bundle["vqvae"], prior, tiny_bundle["scorer"], "a shape", options)
    image = Image.new("RGB", (TINY_SIZE, TINY_SIZE), (200, 30, 30))
    mask = Image.new("L", (TINY_SIZE, TINY_SIZE), 255)
    default = inpainter(image, mask, "a red circle", num_candidates=2, seed=1)
    explicit = inpainter(image, mask, "a red circle", num_candidates=2, seed=1, temperature=0.3)
    hotter = inpainter(image, mask, "a red circle", num_candidates=2, seed=1, temperature=2.0)
    assert [item.codes.tolist() for item in default] == [item.codes.tolist() for item in explicit]
    assert [item.codes.tolist() for item in default] != [item.codes.tolist() for item in hotter]
    for value in (0.0, -1.0, "hot", True):
        with pytest.raises(ValueError, match="temperature must be positive"):
            TextToImage(Bundle("text_to_image", tiny_bundle.components, options={"temperature": value}))


@pytest.mark.parametrize("value", [-1.0, 25.0, float("nan"), "2", True])
def test_bad_guidance_is_refused_clearly(pipeline, tiny_bundle, value):
    with pytest.raises(ValueError, match=r"guidance_scale must be a number in \[0, 20\]"):
        pipeline("a red circle", num_images=1, rerank=1, guidance_scale=value)
    with pytest.raises(ValueError, match="guidance_scale must be a number"):
        TextToImage(Bundle("text_to_image", tiny_bundle.components, options={"guidance_scale": value}))


def test_empty_prompt_samples_from_the_neutral_prompt(pipeline):
    result = pipeline("   ", num_images=2, rerank=2, seed=0)
    assert len(result) == 2 and result.prompt == "a shape"
    assert any("empty prompt" in warning for warning in result.warnings)
    assert torch.equal(codes_of(result), codes_of(pipeline("a shape", num_images=2, rerank=2, seed=0)))


def test_very_long_prompt_is_truncated_with_a_note(pipeline):
    result = pipeline("a red circle " * 800, num_images=1, rerank=1)
    assert len(result) == 1 and len(result.prompt) <= MAX_PROMPT_CHARACTERS
    assert any("truncated" in warning for warning in result.warnings)


def test_unknown_words_give_a_result_and_a_warning(pipeline):
    result = pipeline("a red zeppelin über the moon 🚀", num_images=1, rerank=2)
    assert len(result) == 1
    warning = next(warning for warning in result.warnings if "unknown words" in warning)
    for word in ("zeppelin", "über", "moon", "🚀"):
        assert word in warning


@pytest.mark.parametrize("arguments", [{"num_images": 0}, {"rerank": 0}, {"temperature": 0.0},
                                       {"top_k": -1}, {"num_images": 10_000}])
def test_bad_arguments_are_clear_errors(pipeline, arguments):
    with pytest.raises(ValueError):
        pipeline("a red circle", **arguments)


def test_a_non_text_prompt_is_a_clear_error(pipeline):
    with pytest.raises(TypeError, match="text"):
        pipeline(42)


def test_stream_yields_every_row_then_the_final_result(pipeline):
    frames = list(pipeline.stream("a pink square", num_images=2, rerank=5, seed=4))
    assert [frame.rows_done for frame in frames] == [1, 2, 3, 4]
    assert frames[-1].done and not frames[0].done
    assert all(len(frame) == 2 for frame in frames)
    final = pipeline("a pink square", num_images=2, rerank=5, seed=4)
    assert torch.equal(codes_of(frames[-1]), codes_of(final))
    assert [item.score for item in frames[-1]] == [item.score for item in final]
    # a partial frame agrees with the final maps on the rows it has sampled (same candidates)
    unranked = pipeline("a pink square", num_images=5, rerank=5, seed=4)
    candidates = {tuple(item.codes[:1].reshape(-1).tolist()) for item in unranked}
    assert all(tuple(item.codes[:1].reshape(-1).tolist()) in candidates for item in frames[0])


def test_bundle_without_prior_is_a_clear_error(tiny_bundle):
    with pytest.raises(ValueError, match="prior"):
        TextToImage(tiny_bundle["vqvae"])
