"""GatedPixelCNN and PixelCNNPrior: causality, the sampler layout, likelihood, sampling, checkpoints."""

from __future__ import annotations

import math

import pytest
import torch

from vaestudio.checkpoints import load_model, save_model
from vaestudio.common.batch import Batch, RegionalCondition
from vaestudio.models.pixelcnn import GatedPixelCNN, PixelCNNPrior, PixelCNNPriorConfig
from vaestudio.ops.reference import pixelcnn_logits_reference


def _config(**overrides) -> PixelCNNPriorConfig:
    values = {"num_codes": 12, "channels": 8, "num_layers": 3, "kernel_size": 3, "head_channels": 16}
    values.update(overrides)
    return PixelCNNPriorConfig(**values)


def _prior(seed=0, dtype=torch.float64, **overrides) -> PixelCNNPrior:
    torch.manual_seed(seed)
    return PixelCNNPrior(_config(**overrides)).to(dtype)


@pytest.mark.parametrize("kernel_size, num_layers", [(3, 3), (5, 2), (3, 5)])
def test_causality_of_every_output(kernel_size, num_layers):
    """d logits(i, j) / d input(p) is exactly zero for every p at or after (i, j) in raster order."""
    torch.manual_seed(0)
    network = GatedPixelCNN(10, 6, num_layers, kernel_size, 8).double()
    height, width = 5, 6
    embedded = torch.randn(1, 6, height, width, dtype=torch.float64, requires_grad=True)  # (1, C, H, W)
    condition_bias = torch.randn(1, num_layers, 24, dtype=torch.float64)
    logits = network.forward_embedded(embedded, condition_bias)  # (1, K, H, W)
    for row in range(height):
        for column in range(width):
            (gradient,) = torch.autograd.grad(logits[0, :, row, column].sum(), embedded, retain_graph=True)
            influence = gradient.abs().sum(dim=(0, 1)).flatten()  # (H * W,) in raster order
            position = row * width + column
            assert torch.all(influence[position:] == 0), f"output ({row}, {column}) sees its own or later inputs"
            if column > 0:
                assert influence[position - 1] > 0, f"output ({row}, {column}) ignores its left neighbour"
            if row > 0:  # above, and above to the right: no blind spot
                assert influence[position - width] > 0, f"output ({row}, {column}) ignores the position above"
                assert influence[(row - 1) * width + min(column + 1, width - 1)] > 0


def test_no_blind_spot_over_the_receptive_field():
    """With enough layers, the output sees every earlier position of a small map."""
    torch.manual_seed(1)
    network = GatedPixelCNN(10, 6, 6, 3, 8).double()
    embedded = torch.randn(1, 6, 4, 4, dtype=torch.float64, requires_grad=True)
    logits = network.forward_embedded(embedded)
    (gradient,) = torch.autograd.grad(logits[0, :, 3, 1].sum(), embedded)
    influence = gradient.abs().sum(dim=(0, 1)).flatten()  # (16,)
    assert torch.all(influence[: 3 * 4 + 1] > 0)
    assert torch.all(influence[3 * 4 + 1:] == 0)


def test_module_forward_matches_the_sampler_layout():
    prior = _prior()
    network = prior.network
    parameters = network.sampler_parameters()
    assert len(parameters) == 8 * network.num_layers + 5
    codes = torch.randint(12, (3, 4, 5))
    condition_bias = torch.randn(3, network.num_layers, network.condition_size, dtype=torch.float64)
    torch.testing.assert_close(
        network(codes, condition_bias), pixelcnn_logits_reference(parameters, condition_bias, codes, 3)
    )


def test_training_loss_and_log_prob():
    prior = _prior(condition="class", num_classes=3)
    codes = torch.randint(12, (4, 3, 3))
    labels = torch.tensor([0, 1, 2, 1])
    output = prior.training_loss(Batch(images=torch.zeros(4, 1, 6, 6), labels=labels, codes=codes))
    assert output.loss.ndim == 0 and torch.isfinite(output.loss)
    assert output.logs["bits_per_code"] == pytest.approx(output.logs["loss"] / math.log(2))
    log_prob = prior.log_prob(codes, labels)  # (B,)
    assert log_prob.shape == (4,)
    torch.testing.assert_close(-log_prob.sum() / codes.numel(), output.loss)
    # the probabilities of every code at a position sum to one
    logits = prior.logits(codes, labels)  # (B, K, h, w)
    torch.testing.assert_close(logits.softmax(1).sum(1), torch.ones(4, 3, 3, dtype=torch.float64))


def test_training_lowers_the_loss():
    prior = _prior(dtype=torch.float32)
    codes = torch.arange(16).remainder(12).view(1, 4, 4).repeat(8, 1, 1)  # one repeated map: easy to learn
    batch = Batch(images=torch.zeros(8, 1, 4, 4), codes=codes)
    optimizer = torch.optim.Adam(prior.parameters(), lr=1e-2)
    first = prior.training_loss(batch).loss.item()
    for _ in range(60):
        optimizer.zero_grad()
        prior.training_loss(batch).loss.backward()
        optimizer.step()
    assert prior.training_loss(batch).loss.item() < 0.5 * first


def test_training_step_under_bf16_autocast():
    """The trainer's precision = "bf16" wraps the loss in autocast: the prior's masked convolutions
    then see bf16 activations and fp32 weights (this failed on a GPU), and the loss stays close to fp32's."""
    prior = _prior(dtype=torch.float32, condition="class", num_classes=3)
    codes = torch.randint(12, (4, 5, 5), generator=torch.Generator().manual_seed(1))
    batch = Batch(images=torch.zeros(4, 1, 10, 10), labels=torch.tensor([0, 1, 2, 1]), codes=codes)
    full_precision = prior.training_loss(batch).loss
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = prior.training_loss(batch).loss
    loss.backward()
    assert torch.isfinite(loss) and abs(loss.item() - full_precision.item()) < 0.05 * full_precision.item()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in prior.parameters() if p.requires_grad)


def test_training_loss_needs_codes():
    with pytest.raises(ValueError, match="batch.codes"):
        _prior().training_loss(Batch(images=torch.zeros(1, 1, 4, 4)))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_sample_matches_naive_sample(dtype):
    prior = _prior(dtype=dtype, condition="class", num_classes=4)
    labels = torch.tensor([3, 0, 2])
    codes = prior.sample(labels, height=4, width=5, temperature=0.8, top_k=5, seed=7)
    assert codes.shape == (3, 4, 5) and codes.dtype == torch.int64
    assert int(codes.min()) >= 0 and int(codes.max()) < 12
    assert torch.equal(codes, prior.naive_sample(labels, height=4, width=5, temperature=0.8, top_k=5, seed=7))


def test_sample_is_reproducible_by_seed():
    prior = _prior()
    first = prior.sample(3, height=4, width=4, seed=11)
    assert torch.equal(first, prior.sample(3, height=4, width=4, seed=11))
    assert not torch.equal(first, prior.sample(3, height=4, width=4, seed=12))


def test_inpainting_keeps_the_fixed_codes():
    prior = _prior()
    fixed_codes = torch.randint(12, (2, 5, 5))
    resample_mask = torch.zeros(2, 5, 5, dtype=torch.bool)
    resample_mask[:, 1:4, 2:5] = True  # a painted region
    codes = prior.sample(2, height=5, width=5, seed=3, fixed_codes=fixed_codes, resample_mask=resample_mask)
    assert torch.equal(codes[~resample_mask], fixed_codes[~resample_mask])
    naive = prior.naive_sample(2, height=5, width=5, seed=3, fixed_codes=fixed_codes, resample_mask=resample_mask)
    assert torch.equal(codes, naive)


def test_sample_rows_streams_the_same_result():
    prior = _prior()
    fixed_codes = torch.randint(12, (2, 4, 3))
    resample_mask = torch.rand(2, 4, 3) < 0.7
    rows = list(prior.sample_rows(2, height=4, width=3, seed=5, fixed_codes=fixed_codes, resample_mask=resample_mask))
    assert len(rows) == 4
    final = prior.sample(2, height=4, width=3, seed=5, fixed_codes=fixed_codes, resample_mask=resample_mask)
    assert torch.equal(rows[-1], final)
    for index, partial in enumerate(rows):  # rows done so far are final; the rest still hold the fixed codes
        assert torch.equal(partial[:, : index + 1], final[:, : index + 1])
        assert torch.equal(partial[:, index + 1:], fixed_codes[:, index + 1:])


def test_conditioning_changes_samples():
    prior = _prior(condition="class", num_classes=2)
    with torch.no_grad():
        prior.condition_projection.weight.mul_(20)
    first = prior.sample(torch.zeros(4, dtype=torch.int64), height=4, width=4, seed=1)
    second = prior.sample(torch.ones(4, dtype=torch.int64), height=4, width=4, seed=1)
    assert not torch.equal(first, second)


def test_condition_errors():
    with pytest.raises(ValueError, match="conditioned on a class"):
        _prior(condition="class", num_classes=2).sample(3, height=2, width=2)
    with pytest.raises(ValueError, match="unconditional"):
        _prior().condition_bias(torch.tensor([1]), 1)
    with pytest.raises(ValueError, match="labels must lie"):
        _prior(condition="class", num_classes=2).sample(torch.tensor([5]), height=2, width=2)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        PixelCNNPriorConfig(kernel_size=4)
    with pytest.raises(ValueError, match="condition must be one of"):
        PixelCNNPriorConfig(condition="image")


def test_text_conditioned_prior():
    text = pytest.importorskip("vaestudio.models.text")
    captions = ["a red circle", "a blue square", "a green triangle"]
    prior = _prior(
        condition="text", text_encoder={"vocabulary": text.build_vocabulary(captions), "embedding_dim": 16,
                                        "num_layers": 1, "num_heads": 2, "max_tokens": 8},
    )
    codes = torch.randint(12, (3, 3, 3))
    output = prior.training_loss(Batch(images=torch.zeros(3, 1, 6, 6), captions=captions, codes=codes))
    output.loss.backward()
    assert prior.text_encoder.token_embedding.weight.grad is not None  # the encoder trains with the prior
    sampled = prior.sample(captions, height=3, width=3, seed=2)
    assert torch.equal(sampled, prior.naive_sample(captions, height=3, width=3, seed=2))


def test_checkpoint_round_trip(tmp_path):
    prior = _prior(dtype=torch.float32, condition="class", num_classes=3)
    save_model(prior, str(tmp_path))
    loaded = load_model(str(tmp_path))
    assert isinstance(loaded, PixelCNNPrior) and loaded.config == prior.config
    labels = torch.tensor([0, 2])
    assert torch.equal(loaded.sample(labels, height=3, width=3, seed=4), prior.sample(labels, height=3, width=3, seed=4))


def test_sample_rows_in_blocks_ends_on_the_one_shot_sample():
    from vaestudio.models.pixelcnn import PixelCNNPrior, PixelCNNPriorConfig

    torch.manual_seed(0)
    prior = PixelCNNPrior(PixelCNNPriorConfig(num_codes=7, channels=8, num_layers=2, kernel_size=3,
                                              head_channels=8, condition="none")).eval()
    one_shot = prior.sample(3, 5, 4, seed=11)
    frames = list(prior.sample_rows(3, 5, 4, seed=11, rows_per_step=2))
    assert len(frames) == 3  # rows 0-1, 2-3, 4
    assert torch.equal(frames[-1], one_shot)
    assert torch.equal(frames[0][:, :2], one_shot[:, :2])


def _spatial_text_prior(seed=0, dtype=torch.float64, height=4, width=5):
    """A text prior with a per-position condition map, its map's output made non-zero (it starts at zero)."""
    from vaestudio.models.text import build_vocabulary

    captions = ["a red circle in the top left", "a blue square at the bottom", "a green star on the right"]
    prior = _prior(
        seed, dtype, condition="text", text_encoder={"vocabulary": build_vocabulary(captions), "embedding_dim": 16,
                                                     "num_layers": 1, "num_heads": 2, "max_tokens": 12},
        spatial_condition=True,
        code_map_size=[height, width], spatial_options={"hidden_channels": 16, "rank": 8, "num_heads": 2},
    )
    with torch.no_grad():
        prior.condition_map.expand.weight.normal_(0.0, 2.0)
        prior.condition_map.position.normal_(0.0, 1.0)
    return prior, captions


def test_spatial_condition_varies_over_positions_and_with_the_prompt():
    prior, captions = _spatial_text_prior()
    bias = prior.condition_bias(captions, 3)  # (B, L, 4C, h, w)
    assert bias.shape == (3, 3, 4 * 8, 4, 5)
    assert bias.std(dim=(-2, -1)).min() > 0  # differs between positions, for every sample, layer and channel
    assert not torch.allclose(bias[0], bias[1])  # and between prompts
    # the position-independent part is the plain per-layer projection of the pooled text
    pooled = prior.text_encoder(captions)
    constant = prior.condition_projection(pooled).view(3, 3, 32)
    assert torch.allclose(bias - prior.condition_map(pooled, prior.text_encoder.token_features(captions)),
                          constant[..., None, None].expand_as(bias))


def test_spatial_prior_is_causal_and_samples_like_the_naive_loop():
    prior, captions = _spatial_text_prior()
    codes = torch.randint(12, (3, 4, 5))
    bias = prior.condition_bias(captions, 3).detach()
    embedded = prior.network.embedding(codes).permute(0, 3, 1, 2).detach().requires_grad_(True)  # (B, C, h, w)
    logits = prior.network.forward_embedded(embedded, bias)  # (B, K, h, w)
    for row, column in [(0, 0), (1, 3), (3, 4)]:
        (gradient,) = torch.autograd.grad(logits[:, :, row, column].sum(), embedded, retain_graph=True)
        later = torch.ones(4, 5, dtype=torch.bool).flatten()
        later[: row * 5 + column] = False
        assert gradient.flatten(2)[:, :, later].abs().max() == 0  # nothing at or after (row, column) leaks in
    # the module's forward is the sampler's reference network, spatial bias included
    reference = pixelcnn_logits_reference(prior.network.sampler_parameters(), bias, codes, 3)
    assert torch.allclose(prior.network(codes, bias), reference)
    sampled = prior.sample(captions, height=4, width=5, seed=7)
    assert torch.equal(sampled, prior.naive_sample(captions, height=4, width=5, seed=7))
    frames = list(prior.sample_rows(captions, height=4, width=5, seed=7, rows_per_step=3))
    assert torch.equal(frames[-1], sampled)
    mask = torch.zeros(3, 4, 5, dtype=torch.bool)
    mask[:, 1:3, 2:] = True
    inpainted = prior.sample(captions, height=4, width=5, seed=8, fixed_codes=sampled, resample_mask=mask)
    assert torch.equal(inpainted[~mask], sampled[~mask])
    assert torch.equal(inpainted, prior.naive_sample(captions, height=4, width=5, seed=8, fixed_codes=sampled,
                                                     resample_mask=mask))


def test_guided_sampling_of_a_spatial_text_prior_matches_the_naive_loop():
    prior, captions = _spatial_text_prior()
    negatives = ["a shape"] * len(captions)
    guided = prior.sample(captions, height=4, width=5, seed=3, negative_condition=negatives, guidance_scale=2.5)
    assert torch.equal(guided, prior.naive_sample(captions, height=4, width=5, seed=3, negative_condition=negatives,
                                                  guidance_scale=2.5))
    frames = list(prior.sample_rows(captions, height=4, width=5, seed=3, rows_per_step=2,
                                    negative_condition=negatives, guidance_scale=2.5))
    assert torch.equal(frames[-1], guided)
    assert not torch.equal(guided, prior.sample(captions, height=4, width=5, seed=3))
    with pytest.raises(ValueError, match="got 1 conditions for 3 code maps"):
        prior.sample(captions, height=4, width=5, negative_condition=["a shape"], guidance_scale=2.0)
    with pytest.raises(ValueError, match="no negative condition"):
        _prior().sample(2, height=3, width=3, negative_condition=[0, 1], guidance_scale=2.0)


def test_spatial_prior_round_trip_and_errors(tmp_path):
    prior, captions = _spatial_text_prior(dtype=torch.float32)
    save_model(prior, str(tmp_path))
    loaded = load_model(str(tmp_path))
    assert loaded.config == prior.config
    assert torch.equal(loaded.sample(captions, 4, 5, seed=3), prior.sample(captions, 4, 5, seed=3))
    with pytest.raises(ValueError, match=r"position-dependent condition is for \(4, 5\) code maps"):
        prior.sample(captions, height=4, width=6)
    with pytest.raises(ValueError, match="spatial_condition needs code_map_size"):
        PixelCNNPriorConfig(condition="class", num_classes=2, spatial_condition=True)
    with pytest.raises(ValueError, match="spatial_condition needs a condition"):
        PixelCNNPriorConfig(spatial_condition=True, code_map_size=[4, 4])


@pytest.mark.parametrize("spatial", [True, False])
def test_only_a_spatial_prior_learns_where_each_class_goes(spatial):
    # class 0: code 1 in columns 0-6, class 1: code 1 in columns 7-11, code 0 elsewhere. On the first row the
    # boundary at column 7 is beyond the border's reach and there is no row above to copy it from: only a prior
    # that knows the position draws it right (the position-independent prior is the control).
    torch.manual_seed(0)
    extra = {"spatial_condition": True, "code_map_size": [2, 12], "spatial_options": {"hidden_channels": 16, "rank": 8}}
    prior = PixelCNNPrior(_config(num_codes=2, condition="class", num_classes=2, **(extra if spatial else {})))
    labels = torch.tensor([0, 1] * 8)
    codes = torch.zeros(16, 2, 12, dtype=torch.int64)
    codes[labels == 0, :, :7] = 1
    codes[labels == 1, :, 7:] = 1
    optimizer = torch.optim.Adam(prior.parameters(), lr=1e-2)
    for _ in range(150):
        loss = prior.training_loss(Batch(images=torch.zeros(16, 1, 2, 12), labels=labels, codes=codes)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    sampled = prior.sample(torch.tensor([0, 1] * 32), height=2, width=12, seed=0)  # (64, 2, 12)
    first_rows_right = (sampled[:, 0] == codes[:2, 0].repeat(32, 1)).all(dim=1).float().mean()
    assert (first_rows_right > 0.95) if spatial else (first_rows_right < 0.5)


def test_a_regional_condition_gives_each_region_its_caption_s_bias():

    prior, captions = _spatial_text_prior()
    weights = torch.zeros(2, 4, 5)
    weights[0, :, :2] = 1.0  # columns 0-1: the first caption
    weights[1, :, 2:] = 0.75  # columns 2-4: a mix, mostly the second
    weights[0, :, 2:] = 0.25
    bias = prior.condition_bias(RegionalCondition(captions[:2], weights, 3), 3)  # (B, L, 4C, h, w)
    first, second = prior.condition_bias([captions[0]] * 3, 3), prior.condition_bias([captions[1]] * 3, 3)
    assert bias.shape == first.shape
    torch.testing.assert_close(bias[..., :2], first[..., :2], rtol=0, atol=0)
    torch.testing.assert_close(bias[..., 2:], 0.25 * first[..., 2:] + 0.75 * second[..., 2:])
    # all the weight on one caption: the same samples as that caption everywhere
    only_first = torch.zeros(2, 4, 5)
    only_first[0] = 1.0
    regional = RegionalCondition(captions[:2], only_first, 3)
    assert torch.equal(prior.sample(regional, height=4, width=5, seed=4),
                       prior.sample([captions[0]] * 3, height=4, width=5, seed=4))
    # a real mix samples like the naive loop, guided too, and streams to the same maps
    mixed = RegionalCondition(captions[:2], weights, 3)
    negatives = ["a shape"] * 3
    guided = prior.sample(mixed, height=4, width=5, seed=6, negative_condition=negatives, guidance_scale=1.5)
    assert torch.equal(guided, prior.naive_sample(mixed, height=4, width=5, seed=6, negative_condition=negatives,
                                                  guidance_scale=1.5))
    assert torch.equal(list(prior.sample_rows(mixed, height=4, width=5, seed=6, negative_condition=negatives,
                                              guidance_scale=1.5))[-1], guided)


def test_regional_conditions_on_a_plain_text_prior_and_their_errors():
    from vaestudio.models.text import build_vocabulary

    captions = ["a red circle", "a blue square"]
    prior = _prior(0, torch.float64, condition="text", text_encoder={
        "vocabulary": build_vocabulary(captions), "embedding_dim": 8, "num_layers": 1, "num_heads": 2, "max_tokens": 8})
    weights = torch.zeros(2, 3, 4)
    weights[0, :, :2], weights[1, :, 2:] = 1.0, 1.0
    bias = prior.condition_bias(RegionalCondition(captions, weights, 2), 2)  # (B, L, 4C, h, w)
    assert bias.shape[-2:] == (3, 4)
    torch.testing.assert_close(bias[..., 0, 0], prior.condition_bias([captions[0]] * 2, 2))
    torch.testing.assert_close(bias[..., 2, 3], prior.condition_bias([captions[1]] * 2, 2))
    codes = prior.sample(RegionalCondition(captions, weights, 2), height=3, width=4, seed=1)
    assert torch.equal(codes, prior.naive_sample(RegionalCondition(captions, weights, 2), height=3, width=4, seed=1))
    with pytest.raises(ValueError, match="must be non-negative and sum to 1"):
        RegionalCondition(captions, torch.full((2, 3, 4), 0.7), 2)
    with pytest.raises(ValueError, match="one \\(h, w\\) weight map per caption"):
        RegionalCondition(captions, torch.ones(1, 3, 4), 2)
    with pytest.raises(ValueError, match="got 2 conditions for 3 code maps"):
        prior.condition_bias(RegionalCondition(captions, weights, 2), 3)
    with pytest.raises(ValueError, match="conditioned on a class"):
        _prior(condition="class", num_classes=2).condition_bias(RegionalCondition(captions, weights, 2), 2)
    spatial, _ = _spatial_text_prior()
    with pytest.raises(ValueError, match=r"regional weights of size \(3, 4\) for a prior of \(4, 5\) code maps"):
        spatial.condition_bias(RegionalCondition(captions, weights, 2), 2)


def test_per_map_conditions_mix_captions_and_regional_conditions():
    """Training with regions: one condition per map, each map's bias exactly what its condition alone gives,
    and the loss differentiable through every caption's encoder."""

    prior, captions = _spatial_text_prior()
    weights = torch.zeros(2, 4, 5)
    weights[0, :2], weights[1, 2:] = 1.0, 1.0  # rows 0-1 the first caption, rows 2-3 the second
    regional = RegionalCondition(captions[:2], weights, 1)
    conditions = [captions[2], regional, captions[0]]
    bias = prior.condition_bias(conditions, 3)  # (B, L, 4C, h, w)
    torch.testing.assert_close(bias[0], prior.condition_bias([captions[2]], 1)[0])  # float64: batch rounding only
    torch.testing.assert_close(bias[1], prior.condition_bias(regional, 1)[0])  # float64: batch rounding only
    torch.testing.assert_close(bias[2], prior.condition_bias([captions[0]], 1)[0])  # float64: batch rounding only
    codes = torch.randint(0, 8, (3, 4, 5))
    loss = prior.training_loss(Batch(torch.zeros(3, 3, 16, 20), captions=conditions, codes=codes)).loss
    loss.backward()
    assert prior.text_encoder.token_embedding.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="got 2 conditions for 3 code maps"):
        prior.condition_bias([regional, captions[0]], 3)
    with pytest.raises(TypeError, match="caption strings or RegionalConditions"):
        prior.condition_bias([regional, 3, captions[0]], 3)
