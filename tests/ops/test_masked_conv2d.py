"""masked_conv2d: the compiled kernel against F.conv2d with a masked weight, gradients, opcheck, errors."""

from __future__ import annotations

import contextlib

import pytest
import torch

from vaestudio import ops
from vaestudio.ops.reference import MASK_TYPES, masked_conv2d_reference, masked_conv_mask

KERNELS = [(1, 3), (3, 3), (5, 5), (7, 7), (3, 1), (1, 1)]


def _inputs(batch, in_channels, out_channels, height, width, kernel, dtype=torch.float32, seed=0, bias=True):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, in_channels, height, width, generator=generator, dtype=torch.float64).to(dtype)
    weight = torch.randn(out_channels, in_channels, *kernel, generator=generator, dtype=torch.float64).to(dtype)
    bias_tensor = torch.randn(out_channels, generator=generator, dtype=torch.float64).to(dtype) if bias else None
    return x, weight, bias_tensor  # (B, Cin, H, W), (Cout, Cin, kh, kw), (Cout,)


def _forward_and_grads(function, x, weight, bias, mask_type, grad_output):
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, weight) + ((bias,) if bias is not None else ())]
    output = function(leaves[0], leaves[1], leaves[2] if bias is not None else None, mask_type)
    grads = torch.autograd.grad(output, leaves, grad_output)
    return output.detach(), grads


def _tolerance(dtype):
    return {torch.float64: 1e-10, torch.float32: 1e-4, torch.bfloat16: 5e-2}[dtype]


@pytest.mark.parametrize("mask_type", MASK_TYPES)
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_reference_forward_and_backward(compiled_ops, mask_type, kernel, dtype):
    x, weight, bias = _inputs(2, 5, 6, 7, 9, kernel, dtype)
    grad_output = torch.randn(2, 6, 7, 9, dtype=dtype)
    output, grads = _forward_and_grads(ops.masked_conv2d, x, weight, bias, mask_type, grad_output)
    expected, expected_grads = _forward_and_grads(masked_conv2d_reference, x, weight, bias, mask_type, grad_output)
    tolerance = _tolerance(dtype)
    torch.testing.assert_close(output, expected, rtol=tolerance, atol=tolerance)
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize(
    "shape",
    [
        (1, 1, 1, 1, 1),  # batch 1, one channel, a 1x1 image
        (3, 7, 13, 1, 1),  # 1x1 images
        (1, 3, 5, 2, 11),  # channels not multiples of any tile, a flat image
        (0, 4, 4, 5, 5),  # an empty batch
    ],
)
@pytest.mark.parametrize("mask_type", MASK_TYPES)
def test_odd_shapes(compiled_ops, shape, mask_type):
    batch, in_channels, out_channels, height, width = shape
    x, weight, bias = _inputs(batch, in_channels, out_channels, height, width, (5, 5), torch.float64)
    grad_output = torch.randn(batch, out_channels, height, width, dtype=torch.float64)
    output, grads = _forward_and_grads(ops.masked_conv2d, x, weight, bias, mask_type, grad_output)
    expected, expected_grads = _forward_and_grads(masked_conv2d_reference, x, weight, bias, mask_type, grad_output)
    torch.testing.assert_close(output, expected)
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad)


def test_non_contiguous_input_and_no_bias(compiled_ops):
    x, weight, _ = _inputs(2, 4, 3, 6, 8, (3, 3), torch.float64, bias=False)
    transposed = x.transpose(2, 3)  # (2, 4, 8, 6), not contiguous
    assert not transposed.is_contiguous()
    for mask_type in MASK_TYPES:
        torch.testing.assert_close(
            ops.masked_conv2d(transposed, weight, None, mask_type),
            masked_conv2d_reference(transposed, weight, None, mask_type),
        )


def test_bfloat16(compiled_ops):
    x, weight, bias = _inputs(2, 8, 8, 6, 6, (3, 3), torch.bfloat16)
    for mask_type in MASK_TYPES:
        output = ops.masked_conv2d(x, weight, bias, mask_type)
        assert output.dtype == torch.bfloat16
        expected = masked_conv2d_reference(x.double(), weight.double(), bias.double(), mask_type)
        torch.testing.assert_close(output.double(), expected, rtol=5e-2, atol=1e-1)


@pytest.mark.parametrize("use_reference", [False, True], ids=["compiled", "reference"])
def test_runs_in_the_autocast_dtype_like_conv2d(compiled_ops, use_reference):
    """A bf16 autocast training step feeds bf16 activations to fp32 weights (the shapes prior's
    training step failed so on a GPU): the op casts like F.conv2d and gradients reach fp32 leaves."""
    x, weight, bias = _inputs(2, 5, 6, 7, 9, (3, 3))
    x = x.to(torch.bfloat16).requires_grad_(True)  # an activation already in bf16
    weight.requires_grad_(True)
    with ops.reference_operators() if use_reference else contextlib.nullcontext():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            output = ops.masked_conv2d(x, weight, bias, "B")
            expected = masked_conv2d_reference(x, weight, bias, "B")  # F.conv2d under the same autocast
    assert output.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(output, expected, rtol=2e-2, atol=5e-2)
    output.float().sum().backward()
    assert weight.grad is not None and weight.grad.dtype == torch.float32 and bool(weight.grad.abs().sum() > 0)
    assert x.grad is not None and x.grad.dtype == torch.bfloat16
    with pytest.raises(TypeError, match="cast one to the other"):  # outside autocast a mix is still an error
        ops.masked_conv2d(x.detach(), weight.detach(), bias, "B")


@pytest.mark.parametrize("mask_type", MASK_TYPES)
@pytest.mark.parametrize("kernel", [(1, 3), (3, 3), (5, 5)])
def test_gradcheck_float64(compiled_ops, mask_type, kernel):
    x, weight, bias = _inputs(2, 3, 2, 4, 5, kernel, torch.float64, seed=3)
    inputs = tuple(t.requires_grad_(True) for t in (x, weight, bias))
    assert torch.autograd.gradcheck(lambda a, b, c: ops.masked_conv2d(a, b, c, mask_type), inputs)


@pytest.mark.parametrize("mask_type", MASK_TYPES)
def test_masked_taps_get_zero_gradient(compiled_ops, mask_type):
    x, weight, bias = _inputs(2, 3, 4, 6, 6, (5, 5), torch.float64)
    weight.requires_grad_(True)
    ops.masked_conv2d(x, weight, bias, mask_type).square().sum().backward()
    mask = masked_conv_mask(5, 5, mask_type, dtype=torch.float64)  # (kh, kw)
    assert torch.all(weight.grad[:, :, mask == 0] == 0)
    assert torch.all(weight.grad[:, :, mask == 1] != 0)


@pytest.mark.parametrize("mask_type", MASK_TYPES)
def test_masked_taps_do_not_change_the_output(compiled_ops, mask_type):
    x, weight, bias = _inputs(1, 3, 4, 6, 6, (3, 3), torch.float64)
    mask = masked_conv_mask(3, 3, mask_type, dtype=torch.float64)
    noisy = weight + torch.randn_like(weight) * (1 - mask)  # only the masked taps change
    torch.testing.assert_close(ops.masked_conv2d(x, noisy, bias, mask_type), ops.masked_conv2d(x, weight, bias, mask_type))


def test_mask_shapes():
    assert masked_conv_mask(3, 3, "A").tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert masked_conv_mask(3, 3, "B").tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    assert masked_conv_mask(3, 3, "vertical_A").tolist() == [[1, 1, 1], [0, 0, 0], [0, 0, 0]]
    assert masked_conv_mask(3, 3, "vertical_B").tolist() == [[1, 1, 1], [1, 1, 1], [0, 0, 0]]
    assert masked_conv_mask(1, 5, "A").tolist() == [[1, 1, 0, 0, 0]]


@pytest.mark.parametrize("mask_type", MASK_TYPES)
def test_opcheck(compiled_ops, mask_type):
    for kernel, bias in [((3, 3), True), ((1, 5), False), ((1, 1), True)]:
        x, weight, bias_tensor = _inputs(2, 3, 4, 5, 6, kernel, torch.float64, bias=bias)
        x.requires_grad_(True)
        weight.requires_grad_(True)
        torch.library.opcheck(compiled_ops.masked_conv2d, (x, weight, bias_tensor, mask_type))


@pytest.mark.parametrize(
    "arguments, error, words",
    [
        ((torch.randn(2, 3, 4), torch.randn(4, 3, 3, 3), None, "B"), ValueError, "x must have 4 dimensions"),
        ((torch.randn(1, 3, 4, 4), torch.randn(4, 3, 3), None, "B"), ValueError, "weight must have 4 dimensions"),
        ((torch.randn(1, 3, 4, 4), torch.randn(4, 3, 2, 3), None, "B"), ValueError, "odd"),
        ((torch.randn(1, 3, 4, 4), torch.randn(4, 2, 3, 3), None, "B"), ValueError, "Cin"),
        ((torch.randn(1, 3, 4, 4), torch.randn(4, 3, 3, 3), torch.randn(5), "B"), ValueError, "bias"),
        ((torch.randn(1, 3, 4, 4), torch.randn(4, 3, 3, 3), None, "C"), ValueError, "mask_type"),
        ((torch.randn(1, 3, 4, 4).double(), torch.randn(4, 3, 3, 3), None, "B"), TypeError, "x is torch.float64"),
        ((torch.ones(1, 3, 4, 4, dtype=torch.int64), torch.randn(4, 3, 3, 3), None, "B"), TypeError, "x must be"),
    ],
)
def test_bad_arguments_name_the_argument(arguments, error, words):
    with pytest.raises(error, match=words):
        ops.masked_conv2d(*arguments)
