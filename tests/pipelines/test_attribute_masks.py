"""Which attributes a data sample offers: caption keywords first (most frequent first), then labels, each only when
enough images have it and enough lack it."""

from __future__ import annotations

import torch

from vaestudio.pipelines.attributes import MIN_EXAMPLES, attribute_masks, attribute_vectors


def test_labels_alone_follow_the_label_order():
    labels = ["cat"] * 10 + ["dog"] * 12 + ["fish"] * 3
    masks = attribute_masks(labels, None, ["dog", "cat", "fish"])
    assert list(masks) == ["dog", "cat"]  # fish: fewer than MIN_EXAMPLES images
    assert masks["cat"].tolist() == [True] * 10 + [False] * 15


def test_keywords_come_before_labels_and_words_everyone_has_are_left_out():
    captions = (["smiling cat face in noto style"] * 9 + ["grinning face in openmoji style"] * 9
                + ["red heart in noto style"] * 9)
    labels = ["face-smiling"] * 18 + ["heart-symbol"] * 9
    masks = attribute_masks(labels, captions, ["face-smiling", "heart-symbol"])
    assert list(masks)[:4] == ["face", "noto", "cat", "grinning"]  # by count, then alphabetically
    assert "style" not in masks and "in" not in masks  # every image has it / a stop word
    assert list(masks)[-2:] == ["face-smiling", "heart-symbol"]
    assert masks["cat"].tolist() == [True] * 9 + [False] * 18


def test_a_keyword_that_is_also_a_label_is_one_attribute_the_keyword():
    captions = ["heart"] * MIN_EXAMPLES + ["star"] * MIN_EXAMPLES
    labels = ["heart"] * MIN_EXAMPLES + ["other"] * MIN_EXAMPLES
    masks = attribute_masks(labels, captions)
    assert sorted(masks) == ["heart", "other", "star"]


def test_a_vector_points_from_the_images_without_to_the_images_with():
    latents = torch.tensor([[1.0, 0.0]] * 8 + [[0.0, 2.0]] * 8)  # (16, 2)
    masks = attribute_masks(None, ["cat"] * 8 + ["dog"] * 8)
    vectors = attribute_vectors(latents, masks)
    assert torch.allclose(vectors["cat"], torch.tensor([1.0, -2.0]))
    assert torch.allclose(vectors["dog"], torch.tensor([-1.0, 2.0]))
