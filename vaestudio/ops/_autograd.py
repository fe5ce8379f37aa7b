"""Autograd for the compiled operators (masked_conv2d's backward is its own operator)."""

from __future__ import annotations

import torch


def _masked_conv2d_setup_context(ctx, inputs, output) -> None:
    x, weight, bias, mask_type = inputs
    ctx.save_for_backward(x, weight)
    ctx.mask_type = mask_type
    ctx.has_bias = bias is not None


def _masked_conv2d_backward(ctx, grad_output):
    x, weight = ctx.saved_tensors
    output_mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.has_bias and ctx.needs_input_grad[2]]
    grad_x, grad_weight, grad_bias = torch.ops.vaestudio.masked_conv2d_backward(
        grad_output, x, weight, ctx.mask_type, output_mask
    )
    return (
        grad_x if output_mask[0] else None,
        grad_weight if output_mask[1] else None,
        grad_bias if output_mask[2] else None,
        None,
    )


torch.library.register_autograd(
    "vaestudio::masked_conv2d", _masked_conv2d_backward, setup_context=_masked_conv2d_setup_context
)
