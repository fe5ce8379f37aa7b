"""The one conditioning module: what condition a model takes from data, with clear errors when data lacks it."""

from __future__ import annotations

import pytest
import torch

from vaestudio.models import VAE, VAEConfig
from vaestudio.models.conditioning import CONDITIONS, condition_from_data, condition_kind

LABELS, CAPTIONS = torch.tensor([1, 2]), ["a red circle", "a blue square"]


@pytest.mark.parametrize("kind, expected", [("class", LABELS), ("text", CAPTIONS), ("none", None)])
def test_each_kind_takes_its_part_of_the_data(kind, expected):
    assert condition_from_data(kind, LABELS, CAPTIONS) is expected


@pytest.mark.parametrize("kind, missing", [("class", "labels"), ("text", "captions")])
def test_data_without_what_the_kind_needs_is_a_clear_error(kind, missing):
    with pytest.raises(ValueError, match=f"the prior is {kind}-conditional: it needs data with {missing}"):
        condition_from_data(kind, None, None, "the prior")


def test_unknown_kinds_and_model_kinds():
    with pytest.raises(ValueError, match="condition must be one of"):
        condition_from_data("colour", LABELS, CAPTIONS)
    assert CONDITIONS == ("none", "class", "text")
    model = VAE(VAEConfig(image_size=8, latent_dim=2, hidden_sizes=(8,), condition="class", num_classes=3))
    assert condition_kind(model) == condition_kind(model.config) == "class"
    assert condition_kind(object()) == "none"
