"""pixelcnn_sample: the cached compiled sampler returns exactly what the naive loop returns."""

from __future__ import annotations

import math

import pytest
import torch

from vaestudio import ops
from vaestudio.models.pixelcnn import GatedPixelCNN
from vaestudio.ops.reference import pixelcnn_sample_reference, sample_codes_reference


def _network(num_codes=11, channels=6, num_layers=3, kernel_size=3, head_channels=9, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    network = GatedPixelCNN(num_codes, channels, num_layers, kernel_size, head_channels).to(dtype)
    with torch.no_grad():  # larger logits than the default init, so that sampling is far from uniform
        network.head_output.weight.mul_(4.0)
    return [tensor.detach() for tensor in network.sampler_parameters()]


def _sampling_inputs(parameters, batch, height, width, seed=0, resample_fraction=1.0, conditioned=False):
    """conditioned: False (zero bias), True (one bias per sample and layer) or "spatial" (per position too)."""
    generator = torch.Generator().manual_seed(seed)
    num_codes, channels = parameters[0].shape
    num_layers = (len(parameters) - 5) // 8
    dtype = parameters[0].dtype
    condition_bias = torch.zeros(batch, num_layers, 4 * channels, dtype=dtype)  # (B, L, 4C)
    if conditioned:
        spatial = (height, width) if conditioned == "spatial" else ()
        condition_bias = torch.randn(batch, num_layers, 4 * channels, *spatial, generator=generator,
                                     dtype=torch.float64).to(dtype)  # (B, L, 4C[, H, W])
    uniforms = torch.rand(batch, height, width, generator=generator, dtype=torch.float64)  # (B, H, W)
    fixed_codes = torch.randint(num_codes, (batch, height, width), generator=generator)  # (B, H, W)
    resample_mask = torch.rand(batch, height, width, generator=generator) < resample_fraction  # (B, H, W)
    return condition_bias, uniforms, fixed_codes, resample_mask


CASES = [
    # kernel_size, batch, height, width, temperature, top_k, resample_fraction, conditioned
    (3, 2, 5, 6, 1.0, 0, 1.0, False),
    (3, 3, 4, 7, 0.7, 4, 1.0, True),
    (5, 2, 6, 5, 1.3, 0, 0.6, True),
    (1, 2, 3, 4, 1.0, 2, 1.0, False),
    (7, 1, 4, 3, 1.0, 0, 0.5, False),
    (3, 5, 1, 1, 2.0, 1, 1.0, True),
    (3, 3, 5, 7, 1.0, 0, 1.0, "spatial"),
    (5, 2, 6, 5, 0.8, 3, 0.6, "spatial"),
    (1, 2, 3, 1, 1.0, 0, 1.0, "spatial"),
]


@pytest.mark.parametrize("kernel_size, batch, height, width, temperature, top_k, fraction, conditioned", CASES)
def test_matches_the_naive_loop_float64(compiled_ops, kernel_size, batch, height, width, temperature, top_k,
                                        fraction, conditioned):
    parameters = _network(kernel_size=kernel_size)
    condition_bias, uniforms, fixed_codes, resample_mask = _sampling_inputs(
        parameters, batch, height, width, seed=kernel_size, resample_fraction=fraction, conditioned=conditioned
    )
    arguments = (parameters, condition_bias, uniforms, fixed_codes, resample_mask, kernel_size, temperature, top_k)
    codes = ops.pixelcnn_sample(*arguments)
    assert codes.dtype == torch.int64 and codes.shape == (batch, height, width)
    assert torch.equal(codes, pixelcnn_sample_reference(*arguments))
    assert torch.equal(codes[~resample_mask], fixed_codes[~resample_mask])  # fixed positions never change


@pytest.mark.parametrize("seed, conditioned", [(0, True), (1, True), (2, True), (3, "spatial")])
def test_matches_the_naive_loop_float32(compiled_ops, seed, conditioned):
    parameters = _network(num_codes=7, channels=16, num_layers=4, head_channels=16, dtype=torch.float32, seed=seed)
    condition_bias, uniforms, fixed_codes, resample_mask = _sampling_inputs(
        parameters, 4, 5, 5, seed=seed, resample_fraction=0.8, conditioned=conditioned
    )
    arguments = (parameters, condition_bias, uniforms, fixed_codes, resample_mask, 3, 0.9, 0)
    assert torch.equal(ops.pixelcnn_sample(*arguments), pixelcnn_sample_reference(*arguments))


GUIDED_CASES = [
    # kernel_size, batch, height, width, temperature, top_k, resample_fraction, conditioned, guidance_scale, dtype
    (3, 3, 5, 6, 1.0, 0, 1.0, True, 2.5, torch.float64),
    (5, 2, 4, 5, 0.8, 3, 0.6, "spatial", 3.0, torch.float64),
    (3, 1, 1, 1, 1.0, 0, 1.0, True, -1.5, torch.float64),
    (1, 4, 3, 4, 1.2, 0, 0.7, True, 0.5, torch.float64),
    (3, 5, 4, 4, 0.9, 0, 0.8, "spatial", 2.0, torch.float32),
]


def _guided_inputs(parameters, batch, height, width, seed, fraction, conditioned):
    """The sampling inputs with 2B condition biases: B conditions, then B negative ones."""
    condition_bias, uniforms, fixed_codes, resample_mask = _sampling_inputs(
        parameters, batch, height, width, seed=seed, resample_fraction=fraction, conditioned=conditioned
    )
    negative, *_ = _sampling_inputs(parameters, batch, height, width, seed=seed + 100, conditioned=conditioned)
    return torch.cat([condition_bias, negative]), uniforms, fixed_codes, resample_mask  # (2B, L, 4C[, H, W])


@pytest.mark.parametrize("kernel_size, batch, height, width, temperature, top_k, fraction, conditioned, scale, dtype",
                         GUIDED_CASES)
def test_guided_sampling_matches_the_guided_naive_loop(compiled_ops, kernel_size, batch, height, width, temperature,
                                                       top_k, fraction, conditioned, scale, dtype):
    parameters = _network(kernel_size=kernel_size, dtype=dtype)
    condition_bias, uniforms, fixed_codes, resample_mask = _guided_inputs(
        parameters, batch, height, width, kernel_size + batch, fraction, conditioned
    )
    arguments = (parameters, condition_bias, uniforms, fixed_codes, resample_mask, kernel_size, temperature, top_k,
                 scale)
    codes = ops.pixelcnn_sample(*arguments)
    assert codes.shape == (batch, height, width)
    assert torch.equal(codes, pixelcnn_sample_reference(*arguments))
    assert torch.equal(codes[~resample_mask], fixed_codes[~resample_mask])


def test_guidance_mixes_the_two_conditions_logits(compiled_ops):
    """Scale 0 samples under the negative condition alone; scale 1 with a negative equal to the condition is
    plain sampling; and a large scale differs from both (the mix is used, not one side)."""
    parameters = _network()
    condition_bias, uniforms, fixed_codes, resample_mask = _guided_inputs(parameters, 4, 5, 5, 3, 1.0, True)
    conditioned, negative = condition_bias.chunk(2)
    common = (uniforms, fixed_codes, resample_mask, 3, 1.0, 0)
    plain = ops.pixelcnn_sample(parameters, conditioned, *common)
    under_negative = ops.pixelcnn_sample(parameters, negative, *common)
    assert torch.equal(ops.pixelcnn_sample(parameters, condition_bias, *common, 0.0), under_negative)
    assert torch.equal(ops.pixelcnn_sample(parameters, torch.cat([conditioned, conditioned]), *common, 1.0), plain)
    strong = ops.pixelcnn_sample(parameters, condition_bias, *common, 4.0)
    assert not torch.equal(strong, plain) and not torch.equal(strong, under_negative)


def test_spatial_bias_constant_over_space_equals_the_layer_bias(compiled_ops):
    parameters = _network()
    condition_bias, uniforms, fixed_codes, resample_mask = _sampling_inputs(parameters, 3, 4, 5, conditioned=True)
    spatial = condition_bias[..., None, None].expand(-1, -1, -1, 4, 5).contiguous()  # (B, L, 4C, H, W)
    arguments = (uniforms, fixed_codes, resample_mask, 3, 1.0, 0)
    assert torch.equal(ops.pixelcnn_sample(parameters, spatial, *arguments),
                       ops.pixelcnn_sample(parameters, condition_bias, *arguments))


def test_spatial_bias_at_a_position_changes_nothing_before_it(compiled_ops):
    # raster order: the bias at (i, j) may change the code there and after it, never before it
    parameters = _network(num_codes=9)
    height, width = 5, 6
    condition_bias, uniforms, fixed_codes, resample_mask = _sampling_inputs(
        parameters, 4, height, width, conditioned="spatial"
    )
    before = ops.pixelcnn_sample(parameters, condition_bias, uniforms, fixed_codes, resample_mask, 3, 1.0, 0)
    changed_anywhere = False
    for row, column in [(0, 3), (2, 0), (3, 4)]:
        moved = condition_bias.clone()
        moved[:, :, :, row, column] += 25 * torch.randn_like(moved[:, :, :, row, column])
        after = ops.pixelcnn_sample(parameters, moved, uniforms, fixed_codes, resample_mask, 3, 1.0, 0)
        first = row * width + column
        assert torch.equal(after.flatten(1)[:, :first], before.flatten(1)[:, :first])
        changed_anywhere |= not torch.equal(after.flatten(1)[:, first:], before.flatten(1)[:, first:])
    assert changed_anywhere  # the kernel does read the per-position bias


def test_samples_follow_the_uniforms_and_are_deterministic(compiled_ops):
    parameters = _network()
    condition_bias, uniforms, fixed_codes, resample_mask = _sampling_inputs(parameters, 4, 6, 6, seed=9)
    first = ops.pixelcnn_sample(parameters, condition_bias, uniforms, fixed_codes, resample_mask, 3, 1.0, 0)
    again = ops.pixelcnn_sample(parameters, condition_bias, uniforms, fixed_codes, resample_mask, 3, 1.0, 0)
    other = ops.pixelcnn_sample(parameters, condition_bias, 1 - uniforms.clamp(min=1e-9), fixed_codes, resample_mask,
                                3, 1.0, 0)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert len(first.unique()) > 1


def test_nothing_to_resample_returns_the_fixed_codes(compiled_ops):
    parameters = _network()
    condition_bias, uniforms, fixed_codes, resample_mask = _sampling_inputs(parameters, 2, 4, 4, resample_fraction=0.0)
    codes = ops.pixelcnn_sample(parameters, condition_bias, uniforms, fixed_codes, resample_mask, 3, 1.0, 0)
    assert torch.equal(codes, fixed_codes)


def test_top_k_one_is_greedy(compiled_ops):
    parameters = _network()
    condition_bias, uniforms, fixed_codes, resample_mask = _sampling_inputs(parameters, 2, 4, 5, seed=4)
    greedy = ops.pixelcnn_sample(parameters, condition_bias, uniforms, fixed_codes, resample_mask, 3, 1.0, 1)
    assert torch.equal(greedy, ops.pixelcnn_sample(parameters, condition_bias, torch.zeros_like(uniforms), fixed_codes,
                                                   resample_mask, 3, 1.0, 1))


def test_sampling_rule_is_the_inverse_cdf():
    logits = torch.log(torch.tensor([[0.1, 0.2, 0.7]] * 5, dtype=torch.float64))  # (5, 3)
    uniforms = torch.tensor([0.0, 0.05, 0.15, 0.31, 0.999], dtype=torch.float64)
    assert sample_codes_reference(logits, uniforms, 1.0, 0).tolist() == [0, 0, 1, 2, 2]
    # top_k = 2 keeps 0.2 and 0.7: probabilities 2/9 and 7/9
    assert sample_codes_reference(logits, torch.tensor([0.2, 0.25] * 2 + [0.0]), 1.0, 2).tolist() == [1, 2, 1, 2, 1]
    # ties at the threshold are all kept: [1, 1, 0] with top_k = 1 keeps codes 0 and 1 (1/2 each)
    tied = torch.tensor([[1.0, 1.0, 0.0]] * 2, dtype=torch.float64)
    assert sample_codes_reference(tied, torch.tensor([0.25, 0.75]), 1.0, 1).tolist() == [0, 1]
    # temperature: a huge temperature flattens to uniform thirds
    assert sample_codes_reference(logits[:3], torch.tensor([0.3, 0.5, 0.9]), 1e9, 0).tolist() == [0, 1, 2]
    # u * total rounding to total falls back to the last kept code
    assert sample_codes_reference(logits[:1], torch.tensor([math.nextafter(1.0, 0.0)]), 1.0, 2).tolist() == [2]


def _valid_arguments():
    parameters = _network()
    condition_bias, uniforms, fixed_codes, resample_mask = _sampling_inputs(parameters, 2, 3, 3)
    return [parameters, condition_bias, uniforms, fixed_codes, resample_mask, 3, 1.0, 0]


def _replaced(index, value):
    arguments = _valid_arguments()
    arguments[index] = value(arguments[index]) if callable(value) else value
    return arguments


@pytest.mark.parametrize(
    "arguments, error, words",
    [
        (lambda: _replaced(0, lambda p: p[:-1]), ValueError, "parameters must be a list of 8 L"),
        (lambda: _replaced(0, lambda p: [p[0], p[1][:, :, :2]] + p[2:]), ValueError, r"parameters\[1\]"),
        (lambda: _replaced(0, lambda p: p[:3] + [p[3].float()] + p[4:]), TypeError, r"parameters\[3\]"),
        (lambda: _replaced(1, lambda c: c[:, :1]), ValueError, "condition_bias"),
        (lambda: _replaced(1, lambda c: c[..., None, None].expand(-1, -1, -1, 2, 3)), ValueError,
         r"condition_bias must have shape .*\(B, L, 4C, H, W\)"),
        (lambda: _replaced(2, lambda u: u[0]), ValueError, "uniforms must have 3 dimensions"),
        (lambda: _replaced(2, lambda u: u + 1), ValueError, r"uniforms must lie in \[0, 1\)"),
        (lambda: _replaced(3, lambda f: f.int()), TypeError, "fixed_codes must be int64"),
        (lambda: _replaced(3, lambda f: f + 100), ValueError, "fixed_codes must lie in"),
        (lambda: _replaced(3, lambda f: f[:, :2]), ValueError, "fixed_codes must have the uniforms' shape"),
        (lambda: _replaced(4, lambda m: m.int()), TypeError, "resample_mask must be bool"),
        (lambda: _replaced(5, 4), ValueError, "kernel_size must be an odd"),
        (lambda: _replaced(5, 5), ValueError, "kernel_size = 5"),
        (lambda: _replaced(6, 0.0), ValueError, "temperature must be a positive"),
        (lambda: _replaced(6, float("nan")), ValueError, "temperature must be a positive"),
        (lambda: _replaced(7, -1), ValueError, "top_k must be an int >= 0"),
        (lambda: _replaced(1, lambda c: torch.cat([c, c, c])), ValueError, r"or 2B rows \(conditions then negative"),
        (lambda: [*_valid_arguments(), float("inf")], ValueError, "guidance_scale must be a finite number"),
        (lambda: [*_valid_arguments(), "2"], ValueError, "guidance_scale must be a finite number"),
    ],
)
def test_bad_arguments_name_the_argument(arguments, error, words):
    with pytest.raises(error, match=words):
        ops.pixelcnn_sample(*arguments())


def test_compiled_kernel_checks_its_own_arguments(compiled_ops):
    arguments = _valid_arguments()
    arguments[5] = 4
    with pytest.raises(RuntimeError, match="kernel_size must be odd"):
        compiled_ops.pixelcnn_sample(*arguments)


@pytest.mark.parametrize("spatial, guided", [(False, False), (True, False), (False, True), (True, True)])
def test_opcheck(compiled_ops, spatial, guided):
    arguments = _valid_arguments()
    if spatial:
        arguments[1] = torch.randn(*arguments[1].shape, 3, 3, dtype=arguments[1].dtype)  # (B, L, 4C, H, W)
    if guided:
        arguments[1] = torch.cat([arguments[1], torch.randn_like(arguments[1])])  # (2B, L, 4C[, H, W])
        arguments.append(2.0)
    torch.library.opcheck(compiled_ops.pixelcnn_sample, tuple(arguments))


def test_compiled_kernel_checks_the_guidance_arguments(compiled_ops):
    arguments = _valid_arguments()
    with pytest.raises(RuntimeError, match="guidance_scale must be finite"):
        compiled_ops.pixelcnn_sample(*arguments, float("nan"))
    arguments[1] = torch.cat([arguments[1]] * 3)  # 3B rows
    with pytest.raises(RuntimeError, match=r"condition_bias must be \(B or 2B, L, 4C\)"):
        compiled_ops.pixelcnn_sample(*arguments)


def test_compiled_kernel_checks_a_spatial_bias_shape(compiled_ops):
    arguments = _valid_arguments()
    arguments[1] = torch.zeros(*arguments[1].shape, 3, 4, dtype=arguments[1].dtype)  # W = 4 for a 3 x 3 map
    with pytest.raises(RuntimeError, match=r"condition_bias must be \(B or 2B, L, 4C\)"):
        compiled_ops.pixelcnn_sample(*arguments)


@pytest.mark.parametrize("guided", [False, True])
def test_rows_with_nothing_to_resample_are_only_embedded(compiled_ops, guided):
    """Rows kept whole (streaming's finished rows, inpainting's kept rows) skip the horizontal stacks, and the
    rows below still see their codes: equal to the naive loop."""
    parameters = _network(kernel_size=5)
    if guided:
        condition_bias, uniforms, fixed_codes, _ = _guided_inputs(parameters, 3, 6, 5, 9, 1.0, "spatial")
    else:
        condition_bias, uniforms, fixed_codes, _ = _sampling_inputs(parameters, 3, 6, 5, seed=9, conditioned=True)
    resample_mask = torch.zeros(3, 6, 5, dtype=torch.bool)
    resample_mask[:, 2] = True  # one row in the middle
    resample_mask[1, 4, 3] = True  # and one position two rows below, for one sample only
    arguments = (parameters, condition_bias, uniforms, fixed_codes, resample_mask, 5, 1.0, 0, 2.0 if guided else 1.0)
    codes = ops.pixelcnn_sample(*arguments)
    assert torch.equal(codes, pixelcnn_sample_reference(*arguments))
    assert torch.equal(codes[~resample_mask], fixed_codes[~resample_mask])
    assert not torch.equal(codes[:, 2], fixed_codes[:, 2])
