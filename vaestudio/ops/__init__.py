"""Public operators of VAE Studio.

Models call these functions, never ``torch.ops.vaestudio.*`` directly. Each one
checks its arguments (a clear error naming the argument), then runs the
compiled kernel when the extension is loaded and has one for the tensors'
device, else the pure-PyTorch reference in :mod:`vaestudio.ops.reference`.
"""

from __future__ import annotations

import contextlib

import torch

from vaestudio.ops import _checks, reference
from vaestudio.ops._extension import Backend, load

__all__ = [
    "Backend",
    "backend",
    "code_stats",
    "ema_update_",
    "masked_conv2d",
    "nearest_code",
    "pixelcnn_sample",
    "reference_operators",
]


_python_side_registered = False
_reference_forced = False


@contextlib.contextmanager
def reference_operators():
    """Within this block every operator runs its pure-PyTorch reference (for comparisons and debugging)."""
    global _reference_forced
    previous, _reference_forced = _reference_forced, True
    try:
        yield
    finally:
        _reference_forced = previous


def backend() -> Backend:
    """The active operator backend (prebuilt, jit or reference) and why.

    The first call loads the operators (importing this module does not, so that
    ``import vaestudio`` stays cheap) and registers their fake kernels and autograd.
    """
    global _python_side_registered
    active = load()
    if active.compiled and not _python_side_registered:
        from vaestudio.ops import _autograd, _fake  # noqa: F401  (registration on import)

        _python_side_registered = True
    return active


def _compiled_for(*tensors: torch.Tensor) -> bool:
    active = backend()
    if not active.compiled or _reference_forced:
        return False
    if any(t.is_cuda for t in tensors):
        return active.cuda
    return True


def nearest_code(x: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest codebook row for every row of x, and its squared distance.

    x (N, D), codebook (K, D) -> indices int64 (N,), sqdist float32 (N,). Ties go to the lowest index.
    """
    _checks.check_nearest_code(x, codebook)
    if _compiled_for(x, codebook):
        return torch.ops.vaestudio.nearest_code(x, codebook)
    return reference.nearest_code_reference(x, codebook)


def code_stats(x: torch.Tensor, indices: torch.Tensor, num_codes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-code counts (K,) and sums (K, D), float32, of the rows of x assigned to each code."""
    _checks.check_code_stats(x, indices, num_codes)
    if _compiled_for(x, indices):
        return torch.ops.vaestudio.code_stats(x, indices, num_codes)
    return reference.code_stats_reference(x, indices, num_codes)


def ema_update_(
    codebook: torch.Tensor,
    cluster_size: torch.Tensor,
    embed_sum: torch.Tensor,
    counts: torch.Tensor,
    sums: torch.Tensor,
    decay: float,
    eps: float,
) -> None:
    """EMA codebook update in place (VQ-VAE-2): smoothed cluster sizes, codebook = embed_sum / size."""
    _checks.check_ema_update(codebook, cluster_size, embed_sum, counts, sums, decay, eps)
    if _compiled_for(codebook):
        torch.ops.vaestudio.ema_update_(codebook, cluster_size, embed_sum, counts, sums, float(decay), float(eps))
    else:
        reference.ema_update_reference_(codebook, cluster_size, embed_sum, counts, sums, decay, eps)


def _autocast_convolution_inputs(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Under autocast a convolution runs in the autocast dtype, as F.conv2d does: floating inputs are
    cast to it (a bf16-autocast training step feeds bf16 activations to fp32 weights). Outside
    autocast the inputs are returned as they are, and mixed dtypes stay an error."""
    device_type = x.device.type
    if not torch.is_autocast_enabled(device_type):
        return x, weight, bias
    dtype = torch.get_autocast_dtype(device_type)
    cast = [t.to(dtype) if t is not None and t.is_floating_point() else t for t in (x, weight, bias)]
    return cast[0], cast[1], cast[2]


def masked_conv2d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, mask_type: str = "B"
) -> torch.Tensor:
    """PixelCNN masked convolution (stride 1, 'same' padding) computing only the kept taps.

    x (B, Cin, H, W), weight (Cout, Cin, kh, kw) with odd kh, kw, bias (Cout,) or None.
    mask_type: "A" (centre excluded), "B" (centre kept), "vertical_A" (rows above the
    centre), "vertical_B" (rows above and the centre row). Under autocast it runs in the autocast
    dtype, like F.conv2d.
    """
    x, weight, bias = _autocast_convolution_inputs(x, weight, bias)
    _checks.check_masked_conv2d(x, weight, bias, mask_type)
    # On CUDA, cuDNN's convolution with the masked weight measured faster than the kept-taps kernel at
    # 8 of 9 benchmark shapes (bench/results/masked_conv-cuda.json, H200: 0.58-1.0x forward+backward),
    # so the GPU path is the reference; torch.ops.vaestudio.masked_conv2d stays tested on CUDA.
    if _compiled_for(x, weight) and not x.is_cuda:
        return torch.ops.vaestudio.masked_conv2d(x, weight, bias, mask_type)
    return reference.masked_conv2d_reference(x, weight, bias, mask_type)


def pixelcnn_sample(
    parameters: list[torch.Tensor],
    condition_bias: torch.Tensor,
    uniforms: torch.Tensor,
    fixed_codes: torch.Tensor,
    resample_mask: torch.Tensor,
    kernel_size: int,
    temperature: float,
    top_k: int,
    guidance_scale: float = 1.0,
) -> torch.Tensor:
    """Cached autoregressive sampling of a (B, H, W) code map from the gated PixelCNN prior.

    condition_bias: (B, L, 4C), one ``[cond_v | cond_h]`` per sample and layer, or (B, L, 4C, H, W),
    one per position too (a prior with ``spatial_condition``). Classifier-free guidance: pass 2B
    biases, the B conditions then B negative ones; every draw then uses the logits
    ``negative + guidance_scale * (conditioned - negative)``.

    See :meth:`vaestudio.models.pixelcnn.GatedPixelCNN.sample` for the friendly entry point.
    """
    _checks.check_pixelcnn_sample(
        parameters, condition_bias, uniforms, fixed_codes, resample_mask, kernel_size, temperature, top_k,
        guidance_scale,
    )
    if _compiled_for(uniforms, *parameters):
        return torch.ops.vaestudio.pixelcnn_sample(
            parameters, condition_bias, uniforms, fixed_codes, resample_mask, kernel_size, float(temperature),
            int(top_k), float(guidance_scale),
        )
    return reference.pixelcnn_sample_reference(
        parameters, condition_bias, uniforms, fixed_codes, resample_mask, kernel_size, temperature, top_k,
        guidance_scale,
    )
