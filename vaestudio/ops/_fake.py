"""Fake (meta) kernels: output shapes and dtypes without computing, for torch.compile and opcheck."""

from __future__ import annotations

import torch


@torch.library.register_fake("vaestudio::nearest_code")
def _nearest_code_fake(x, codebook):
    num_rows = x.shape[0]
    return x.new_empty((num_rows,), dtype=torch.int64), x.new_empty((num_rows,), dtype=torch.float32)


@torch.library.register_fake("vaestudio::code_stats")
def _code_stats_fake(x, indices, num_codes):
    return x.new_empty((num_codes,), dtype=torch.float32), x.new_empty((num_codes, x.shape[1]), dtype=torch.float32)


@torch.library.register_fake("vaestudio::ema_update_")
def _ema_update_fake(codebook, cluster_size, embed_sum, counts, sums, decay, eps):
    return None


@torch.library.register_fake("vaestudio::masked_conv2d")
def _masked_conv2d_fake(x, weight, bias, mask_type):
    return x.new_empty((x.shape[0], weight.shape[0], x.shape[2], x.shape[3]))


@torch.library.register_fake("vaestudio::masked_conv2d_backward")
def _masked_conv2d_backward_fake(grad_output, x, weight, mask_type, output_mask):
    grad_x = torch.empty_like(x) if output_mask[0] else x.new_empty((0,))
    grad_weight = torch.empty_like(weight) if output_mask[1] else weight.new_empty((0,))
    grad_bias = weight.new_empty((weight.shape[0],)) if output_mask[2] else weight.new_empty((0,))
    return grad_x, grad_weight, grad_bias


@torch.library.register_fake("vaestudio::pixelcnn_sample")
def _pixelcnn_sample_fake(parameters, condition_bias, uniforms, fixed_codes, resample_mask, kernel_size,
                          temperature, top_k, guidance_scale=1.0):
    return fixed_codes.new_empty(fixed_codes.shape, dtype=torch.int64)
