"""PixelCNNBottomPrior: causal over the bottom map, conditioned on the whole top map (and a class), cached
sampling equal to the naive loop, checkpoints."""

from __future__ import annotations

import pytest
import torch

from vaestudio.checkpoints import load_model, save_model
from vaestudio.common.batch import Batch
from vaestudio.models.bottom_prior import PixelCNNBottomPrior, PixelCNNBottomPriorConfig, TopCondition, prior_inputs
from vaestudio.models.outputs import Hierarchy
from vaestudio.models.pixelcnn import PixelCNNPrior, PixelCNNPriorConfig

TOP, BOTTOM = (3, 3), (6, 6)  # top_downsample_factor 2


def _prior(seed: int = 0, **overrides) -> PixelCNNBottomPrior:
    values = {"num_codes": 12, "channels": 8, "num_layers": 3, "head_channels": 16, "top_num_codes": 10,
              "top_channels": 8, "top_downsample_factor": 2}
    values.update(overrides)
    torch.manual_seed(seed)
    return PixelCNNBottomPrior(PixelCNNBottomPriorConfig(**values)).double().eval()


def _top_codes(batch: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 10, (batch, *TOP), generator=torch.Generator().manual_seed(seed))  # (B, 3, 3)


def test_the_output_at_a_position_depends_on_no_bottom_code_at_or_after_it():
    prior = _prior()
    top = TopCondition(_top_codes(1))
    bias = prior.condition_bias(top, 1)  # (1, L, 4C, 6, 6)
    embedded = torch.randn(1, 8, *BOTTOM, dtype=torch.float64, requires_grad=True)  # (1, C, 6, 6)
    logits = prior.network.forward_embedded(embedded, bias)  # (1, K, 6, 6)
    height, width = BOTTOM
    for row in range(height):
        for column in range(width):
            (gradient,) = torch.autograd.grad(logits[0, :, row, column].sum(), embedded, retain_graph=True)
            influence = gradient.abs().sum(dim=(0, 1)).flatten()  # (h * w,) raster order
            position = row * width + column
            assert torch.all(influence[position:] == 0), f"output ({row}, {column}) sees a later bottom code"
            if position > 0:
                assert influence[position - 1] > 0 or column == 0


def test_every_output_sees_the_whole_top_map_around_it():
    """The top codes are all known: a top cell changes the logits under it, before it and after it."""
    prior = _prior()
    bottom = torch.randint(0, 12, (1, *BOTTOM), generator=torch.Generator().manual_seed(2))
    top = _top_codes(1)
    changed = top.clone()
    changed[0, 2, 2] = (changed[0, 2, 2] + 1) % 10  # the last top cell: bottom rows 4-5, columns 4-5
    before = prior.logits(bottom, TopCondition(top))  # (1, K, 6, 6)
    after = prior.logits(bottom, TopCondition(changed))
    difference = (before - after).abs().sum(dim=1)[0]  # (6, 6)
    assert difference[4:, 4:].min() > 0  # the positions under the changed cell
    assert difference[:4].sum() > 0  # and rows above it: a top code conditions earlier bottom positions too


def test_cached_sampling_equals_the_naive_loop_and_keeps_fixed_codes():
    prior = _prior().float()
    condition = TopCondition(_top_codes(3))
    fixed = torch.randint(0, 12, (3, *BOTTOM), generator=torch.Generator().manual_seed(3))
    mask = torch.zeros(3, *BOTTOM, dtype=torch.bool)
    mask[:, 2:5, 1:4] = True
    cached = prior.sample(condition, *BOTTOM, seed=4, fixed_codes=fixed, resample_mask=mask)  # (3, 6, 6)
    naive = prior.naive_sample(condition, *BOTTOM, seed=4, fixed_codes=fixed, resample_mask=mask)
    assert cached.shape == (3, *BOTTOM) and torch.equal(cached, naive)
    assert torch.equal(cached[~mask], fixed[~mask])
    streamed = list(prior.sample_rows(condition, *BOTTOM, seed=4, fixed_codes=fixed, resample_mask=mask))[-1]
    assert torch.equal(streamed, cached)


def test_a_class_conditional_bottom_prior_reads_its_labels():
    prior = _prior(condition="class", num_classes=4, condition_dim=6)
    bottom = torch.randint(0, 12, (2, *BOTTOM), generator=torch.Generator().manual_seed(5))
    top = _top_codes(2)
    first = prior.log_prob(bottom, TopCondition(top, torch.tensor([0, 1])))  # (2,)
    second = prior.log_prob(bottom, TopCondition(top, torch.tensor([2, 3])))
    assert first.shape == (2,) and not torch.allclose(first, second)
    with pytest.raises(ValueError, match="class-conditional"):
        prior.log_prob(bottom, TopCondition(top))
    with pytest.raises(ValueError, match="top codes only"):
        _prior().log_prob(bottom, TopCondition(top, torch.tensor([0, 1])))
    with pytest.raises(TypeError, match="TopCondition"):
        prior.log_prob(bottom, torch.tensor([0, 1]))


def test_training_loss_needs_the_top_codes_and_learns_from_them():
    prior = _prior().float().train()
    bottom = torch.randint(0, 12, (4, *BOTTOM), generator=torch.Generator().manual_seed(6))
    with pytest.raises(ValueError, match="top_codes"):
        prior.training_loss(Batch(torch.zeros(4, 1, 12, 12), codes=bottom))
    output = prior.training_loss(Batch(torch.zeros(4, 1, 12, 12), codes=bottom, top_codes=_top_codes(4)))
    output.loss.backward()
    assert output.logs["bits_per_code"] > 0
    assert prior.top_embedding.weight.grad.abs().sum() > 0  # the top codes get a gradient: they condition


def test_config_rejects_text_and_spatial_conditions():
    with pytest.raises(ValueError, match="'none' or 'class'"):
        PixelCNNBottomPriorConfig(condition="text", text_encoder={"vocabulary": ["a"]})
    with pytest.raises(ValueError, match="spatial_condition"):
        PixelCNNBottomPriorConfig(condition="class", num_classes=2, spatial_condition=True, code_map_size=[4, 4])
    with pytest.raises(ValueError, match="power of two"):
        PixelCNNBottomPriorConfig(top_downsample_factor=3)


def test_save_and_load_give_the_same_likelihoods(tmp_path):
    prior = _prior().float()
    save_model(prior, str(tmp_path / "bottom"))
    loaded = load_model(str(tmp_path / "bottom"))
    assert isinstance(loaded, PixelCNNBottomPrior) and loaded.config == prior.config
    bottom = torch.randint(0, 12, (2, *BOTTOM), generator=torch.Generator().manual_seed(7))
    condition = TopCondition(_top_codes(2))
    assert torch.equal(loaded.eval().log_prob(bottom, condition), prior.log_prob(bottom, condition))


def test_prior_inputs_pick_the_level_each_prior_models():
    top_prior = PixelCNNPrior(PixelCNNPriorConfig(num_codes=10, channels=4, num_layers=1, head_channels=4))
    bottom_prior = _prior()
    codes = Hierarchy(_top_codes(2), torch.zeros(2, *BOTTOM, dtype=torch.int64))
    modelled, condition = prior_inputs(top_prior, codes)
    assert modelled is codes.top and condition is None
    modelled, condition = prior_inputs(bottom_prior, codes)
    assert modelled is codes.bottom and condition.top_codes is codes.top
    assert prior_inputs(top_prior, codes.bottom)[0] is codes.bottom  # a one-level VQ-VAE's map
    with pytest.raises(ValueError, match="two-level"):
        prior_inputs(bottom_prior, codes.bottom)
