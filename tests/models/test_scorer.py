"""Contrastive scorer: InfoNCE overfitting, score semantics, duplicate captions, CPU speed for reranking."""

import time

import pytest
import torch

from tests.models.test_vae import overfit
from vaestudio.common.batch import Batch
from vaestudio.models.scorer import ContrastiveScorer, ContrastiveScorerConfig
from vaestudio.models.text import build_vocabulary

CAPTIONS = ["red circle", "blue square", "green triangle", "yellow star"]


def tiny_scorer(vocabulary: list[str] | None = None, text_encoder: dict | None = None,
                **overrides) -> ContrastiveScorer:
    torch.manual_seed(0)
    text = {"vocabulary": vocabulary or build_vocabulary(CAPTIONS), "embedding_dim": 16, "num_layers": 1,
            "num_heads": 2, "max_tokens": 8, **(text_encoder or {})}
    values = {"image_size": 16, "hidden_sizes": (8, 16), "embedding_dim": 16, "text_encoder": text}
    values.update(overrides)
    return ContrastiveScorer(ContrastiveScorerConfig(**values))


def coloured_images() -> torch.Tensor:
    """One flat colour per caption: (4, 3, 16, 16)."""
    colours = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    return colours[:, :, None, None].expand(4, 3, 16, 16).clone()


def test_overfits_one_batch_and_ranks_the_right_caption_first():
    model = tiny_scorer()
    batch = Batch(coloured_images(), captions=CAPTIONS)
    first, last = overfit(model, batch, steps=60, learning_rate=3e-3)
    assert last < 0.5 * first, (first, last)
    model.eval()
    similarities = torch.stack(
        [model.score(batch.images, caption) for caption in CAPTIONS], dim=1
    )  # (image, caption)
    assert torch.equal(similarities.argmax(1), torch.arange(4))
    assert model.training_loss(batch).logs["accuracy"] == 1.0


def test_score_is_a_cosine_and_broadcasts_one_caption():
    model = tiny_scorer().eval()
    images = coloured_images()
    scores = model.score(images, CAPTIONS)
    assert scores.shape == (4,) and torch.all(scores.abs() <= 1 + 1e-6)
    torch.testing.assert_close(model.score(images, "red circle"), model.score(images, ["red circle"] * 4))
    torch.testing.assert_close(model.score(images, ["red circle"]), model.score(images, "red circle"))
    with pytest.raises(ValueError, match="captions"):
        model.score(images, CAPTIONS[:2])


def test_repeated_captions_count_as_positives():
    model = tiny_scorer()
    images = coloured_images()[[0, 0, 1, 1]]
    output = model.training_loss(
        Batch(images, captions=["red circle", "red circle", "blue square", "blue square"])
    )
    assert torch.isfinite(output.loss)
    with pytest.raises(ValueError, match="captions"):
        model.training_loss(Batch(images))


def test_reranking_sixteen_candidates_is_fast_on_cpu():
    model = tiny_scorer(
        image_size=64,
        hidden_sizes=(32, 64, 128),
        embedding_dim=128,
        text_encoder={"embedding_dim": 128, "num_heads": 4, "num_layers": 2},
    ).eval()
    candidates = torch.rand(16, 3, 64, 64)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.score(candidates, "red circle")  # warm-up
        start = time.perf_counter()
        model.score(candidates, "red circle")
        elapsed = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    assert elapsed < 0.5, elapsed  # about 0.05 s on one idle core


def test_temperature_is_learned_and_clipped():
    model = tiny_scorer(initial_temperature=0.07, max_logit_scale=10.0)
    assert float(model.logit_scale().detach()) == pytest.approx(10.0)  # 1 / 0.07 > 10: clipped
    assert model.log_logit_scale.requires_grad


POSITION_CAPTIONS = ["red left", "red right", "blue left", "blue right"]
GROUPS = [["red", "blue"], ["left", "right"]]


def half_images() -> torch.Tensor:
    """A red or blue block in the left or right half of a black 16x16 image, in POSITION_CAPTIONS' order."""
    images = torch.zeros(4, 3, 16, 16)
    for index, caption in enumerate(POSITION_CAPTIONS):
        colour, side = caption.split()
        columns = slice(0, 8) if side == "left" else slice(8, 16)
        images[index, 0 if colour == "red" else 2, 4:12, columns] = 1.0
    return images


def test_swap_one_word_changes_one_grouped_word():
    from vaestudio.models.scorer import swap_one_word

    generator = torch.Generator().manual_seed(0)
    swapped = {swap_one_word("a Red circle on the left", GROUPS, generator) for _ in range(40)}
    assert swapped == {"a blue circle on the left", "a Red circle on the right"}
    assert swap_one_word("a circle", GROUPS) is None


def test_hard_negatives_enter_the_image_to_text_loss():
    plain = tiny_scorer(vocabulary=build_vocabulary(POSITION_CAPTIONS))
    with_negatives = tiny_scorer(vocabulary=build_vocabulary(POSITION_CAPTIONS), negative_word_groups=GROUPS)
    with_negatives.load_state_dict(plain.state_dict())
    batch = Batch(half_images()[:2], captions=POSITION_CAPTIONS[:2])  # swaps: "blue left", "red left", ...
    # more candidates in the image-to-text softmax: the same weights give a larger loss
    assert with_negatives.training_loss(batch).loss > plain.training_loss(batch).loss


def test_flatten_pooling_with_hard_negatives_tells_left_from_right():
    model = tiny_scorer(vocabulary=build_vocabulary(POSITION_CAPTIONS), pooling="flatten", negative_word_groups=GROUPS)
    batch = Batch(half_images(), captions=POSITION_CAPTIONS)
    first, last = overfit(model, batch, steps=80, learning_rate=3e-3)
    assert last < 0.5 * first, (first, last)
    model.eval()
    similarities = torch.stack([model.score(batch.images, caption) for caption in POSITION_CAPTIONS], dim=1)
    assert torch.equal(similarities.argmax(1), torch.arange(4))  # colour and side both read right
    with pytest.raises(ValueError, match="reads 16x16 images"):
        model.score(torch.rand(2, 3, 32, 32), "red left")
    with pytest.raises(ValueError, match="pooling must be one of"):
        tiny_scorer(pooling="max")


def shapes_images() -> torch.Tensor:
    """A flat square of each caption's colour on black: (4, 3, 16, 16) (near misses need edges)."""
    images = torch.zeros(4, 3, 16, 16)
    images[:, :, 4:12, 4:12] = coloured_images()[:, :, 4:12, 4:12]
    return images


def test_deeper_image_encoder_adds_a_stem_and_convs_and_keeps_the_plain_names():
    plain, deep = tiny_scorer(), tiny_scorer(stem_channels=4, convs_per_stage=2)
    plain_names = set(plain.state_dict())
    assert not any(name.startswith("image_encoder.stem") for name in plain_names)  # shipped weights still load
    assert {"image_encoder.stages.0.weight", "image_encoder.mix.weight"} <= plain_names
    deep_names = set(deep.state_dict())
    assert "image_encoder.stem.0.weight" in deep_names
    assert deep.image_encoder.stem[0].weight.shape == (4, 3, 3, 3)
    assert deep.image_encoder.stages[0].weight.shape == (8, 4, 4, 4)  # the stages read the stem
    three_by_three = [layer for layer in deep.image_encoder.stages if isinstance(layer, torch.nn.Conv2d)
                      and layer.kernel_size == (3, 3)]
    assert len(three_by_three) == 2 * 2  # two per stage, two stages
    assert deep.embed_images(shapes_images()).shape == plain.embed_images(shapes_images()).shape == (4, 16)
    for field, value in [("stem_channels", -1), ("convs_per_stage", 1.5), ("near_miss_weight", -0.1),
                         ("near_miss_weight", True)]:
        with pytest.raises(ValueError, match=field):
            tiny_scorer(**{field: value})


def test_near_miss_loss_ranks_each_half_caption_over_its_images_and_their_copies():
    from vaestudio.models.near_misses import near_misses

    plain = tiny_scorer()
    model = tiny_scorer(near_miss_weight=0.5)
    model.load_state_dict(plain.state_dict())
    batch = Batch(shapes_images(), captions=CAPTIONS)
    torch.manual_seed(7)
    output = model.training_loss(batch)
    torch.manual_seed(7)
    copies = near_misses(batch.images[:2])  # the same draws: (2, 3, 16, 16)
    texts = model.embed_text(CAPTIONS[:2])  # (2, E)
    pictures = model.embed_images(torch.cat([batch.images[:2], copies]))  # (4, E)
    logits = model.logit_scale() * texts @ pictures.t()  # (2, 4)
    expected = torch.nn.functional.cross_entropy(logits, torch.arange(2))  # captions are distinct
    torch.testing.assert_close(output.logs["near_miss_loss"], float(expected.detach()), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(output.loss, plain.training_loss(batch).loss + 0.5 * expected, rtol=1e-5, atol=1e-6)
    beaten = float((logits[[0, 1], [0, 1]] > logits[[0, 1], [2, 3]]).float().mean())
    assert output.logs["near_miss_accuracy"] == beaten
    output.loss.backward()
    assert model.image_encoder.stages[0].weight.grad.abs().sum() > 0
    assert "near_miss_loss" not in plain.training_loss(batch).logs


def test_near_miss_training_teaches_crisp_over_wobbly():
    model = tiny_scorer(near_miss_weight=1.0, stem_channels=8, convs_per_stage=1)
    batch = Batch(shapes_images(), captions=CAPTIONS)
    torch.manual_seed(0)
    before = sum(model.training_loss(batch).logs["near_miss_loss"] for _ in range(8)) / 8
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(80):
        loss = model.training_loss(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = sum(model.training_loss(batch).logs["near_miss_loss"] for _ in range(8)) / 8
    assert after < 0.5 * before, (before, after)
