"""Pure-PyTorch references of every operator: the test oracle and the fallback.

Each ``<op>_reference`` has the same signature and the same results (up to
floating-point summation order) as the compiled ``torch.ops.vaestudio.<op>``.
They favour clarity over memory: ``nearest_code_reference`` builds the full
N x K distance matrix, which the compiled kernels never do.
"""

from __future__ import annotations

import torch


def nearest_code_reference(x: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared-norm expansion ||x||^2 - 2 x.c + ||c||^2, then argmin (ties: lowest index).

    fp16 / bf16 / fp32 are computed in fp32, float64 in float64; the distance is returned as float32.
    """
    compute_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    xc = x.to(compute_dtype)  # (N, D)
    codes = codebook.to(compute_dtype)  # (K, D)
    if xc.shape[0] == 0:
        return torch.empty(0, dtype=torch.int64, device=x.device), torch.empty(0, device=x.device)
    distances = xc.pow(2).sum(1, keepdim=True) - 2 * xc @ codes.t() + codes.pow(2).sum(1)[None, :]  # (N, K)
    indices = distances.argmin(dim=1)  # (N,) torch.argmin returns the first minimum
    sqdist = (xc - codes[indices]).pow(2).sum(1).float()  # (N,) exact distance to the chosen code
    return indices, sqdist


def code_stats_reference(
    x: torch.Tensor, indices: torch.Tensor, num_codes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """counts (K,) = bincount(indices); sums (K, D) = index_add of the rows of x."""
    x32 = x.float()  # (N, D)
    counts = torch.zeros(num_codes, dtype=torch.float32, device=x.device)  # (K,)
    counts.index_add_(0, indices, torch.ones_like(indices, dtype=torch.float32))
    sums = torch.zeros(num_codes, x.shape[1], dtype=torch.float32, device=x.device)  # (K, D)
    sums.index_add_(0, indices, x32)
    return counts, sums


def ema_update_reference_(
    codebook: torch.Tensor,
    cluster_size: torch.Tensor,
    embed_sum: torch.Tensor,
    counts: torch.Tensor,
    sums: torch.Tensor,
    decay: float,
    eps: float,
) -> None:
    """cluster_size, embed_sum <- EMA with ``decay``; Laplace-smoothed sizes; codebook = embed_sum / size.

    When the total cluster size is 0 (nothing ever assigned, or all mass decayed to exactly 0) the
    smoothed sizes would all be 0 and the division 0 / 0, so the codebook is left unchanged; the EMA
    state is still updated. The compiled kernels do the same.
    """
    with torch.no_grad():
        cluster_size.mul_(decay).add_(counts.to(cluster_size.dtype), alpha=1 - decay)  # (K,)
        embed_sum.mul_(decay).add_(sums.to(embed_sum.dtype), alpha=1 - decay)  # (K, D)
        total = cluster_size.sum()
        if not bool(total > 0):
            return
        num_codes = cluster_size.shape[0]
        smoothed = (cluster_size + eps) / (total + num_codes * eps) * total  # (K,)
        codebook.copy_((embed_sum / smoothed[:, None]).to(codebook.dtype))


# -- PixelCNN: masked convolution and autoregressive sampling ---------------------------------------

MASK_TYPES = ("A", "B", "vertical_A", "vertical_B")


def masked_conv_mask(
    kernel_height: int, kernel_width: int, mask_type: str, device=None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """(kh, kw) of ones on the taps ``mask_type`` keeps, zeros elsewhere; the centre is (kh // 2, kw // 2).

    "A": rows above the centre, and the centre row left of the centre. "B": as "A" plus the centre.
    "vertical_A": rows above the centre. "vertical_B": rows above and the whole centre row.
    """
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be one of {MASK_TYPES}, got {mask_type!r}")
    centre_row, centre_column = kernel_height // 2, kernel_width // 2
    mask = torch.zeros(kernel_height, kernel_width, device=device, dtype=dtype)
    mask[:centre_row] = 1
    if mask_type == "A":
        mask[centre_row, :centre_column] = 1
    elif mask_type == "B":
        mask[centre_row, : centre_column + 1] = 1
    elif mask_type == "vertical_B":
        mask[centre_row] = 1
    return mask


def masked_conv2d_reference(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, mask_type: str
) -> torch.Tensor:
    """F.conv2d with the masked weight, stride 1, 'same' padding: x (B, Cin, H, W) -> (B, Cout, H, W)."""
    kernel_height, kernel_width = weight.shape[2], weight.shape[3]
    mask = masked_conv_mask(kernel_height, kernel_width, mask_type, weight.device, weight.dtype)  # (kh, kw)
    return torch.nn.functional.conv2d(x, weight * mask, bias, padding=(kernel_height // 2, kernel_width // 2))


def sample_codes_reference(
    logits: torch.Tensor, uniforms: torch.Tensor, temperature: float, top_k: int
) -> torch.Tensor:
    """The sampling rule of ``pixelcnn_sample`` (see vaestudio/models/pixelcnn.py): (N, K), (N,) -> (N,) int64.

    float64 logits * (1 / temperature); keep values >= the top_k-th largest (top_k = 0: all);
    w = exp(s - max); the first index whose running sum exceeds u * total, else the last w > 0.
    """
    scaled = logits.double() * (1.0 / temperature)  # (N, K)
    num_codes = scaled.shape[1]
    if 0 < top_k < num_codes:
        threshold = scaled.topk(top_k, dim=1).values[:, -1:]  # (N, 1)
        scaled = scaled.masked_fill(scaled < threshold, float("-inf"))
    weights = torch.exp(scaled - scaled.max(dim=1, keepdim=True).values)  # (N, K)
    cumulative = weights.cumsum(dim=1)  # (N, K) sequential float64 sums
    exceeds = cumulative > uniforms.double()[:, None] * cumulative[:, -1:]  # (N, K)
    first_exceeding = exceeds.to(torch.int8).argmax(dim=1)  # (N,) argmax returns the first maximum
    last_positive = num_codes - 1 - (weights > 0).flip(1).to(torch.int8).argmax(dim=1)  # (N,)
    return torch.where(exceeds.any(dim=1), first_exceeding, last_positive)


def naive_autoregressive_sample(
    logits_function, uniforms: torch.Tensor, fixed_codes: torch.Tensor, resample_mask: torch.Tensor,
    temperature: float, top_k: int,
) -> torch.Tensor:
    """The naive loop: in raster order, one full forward ``logits_function(codes) -> (B, K, H, W)``
    per position that has something to resample, then ``sample_codes_reference`` there."""
    codes = fixed_codes.clone()  # (B, H, W)
    _, height, width = codes.shape
    for row in range(height):
        for column in range(width):
            selected = resample_mask[:, row, column]  # (B,) bool
            if not bool(selected.any()):
                continue
            logits = logits_function(codes)[:, :, row, column]  # (B, K)
            codes[selected, row, column] = sample_codes_reference(
                logits[selected], uniforms[selected, row, column], temperature, top_k
            )
    return codes


def _gate_reference(pre_activation: torch.Tensor) -> torch.Tensor:
    value, gate_logits = pre_activation.chunk(2, dim=1)
    return torch.tanh(value) * torch.sigmoid(gate_logits)


def pixelcnn_logits_reference(
    parameters: list[torch.Tensor], condition_bias: torch.Tensor, codes: torch.Tensor, kernel_size: int
) -> torch.Tensor:
    """The gated PixelCNN over the flat parameter list (layout: vaestudio/models/pixelcnn.py).

    codes (B, H, W) int64, condition_bias (B, L, 4C) or (B, L, 4C, H, W) -> logits (B, K, H, W).
    """
    if condition_bias.dim() == 3:
        condition_bias = condition_bias[..., None, None]  # (B, L, 4C, 1, 1): the same at every position
    num_layers = (len(parameters) - 5) // 8
    embedded = parameters[0][codes].permute(0, 3, 1, 2)  # (B, C, H, W)
    vertical = horizontal = embedded
    for layer in range(num_layers):
        (vertical_weight, vertical_bias, horizontal_weight, horizontal_bias,
         link_weight, link_bias, output_weight, output_bias) = parameters[1 + 8 * layer: 9 + 8 * layer]
        first = layer == 0
        vertical_condition, horizontal_condition = condition_bias[:, layer].chunk(2, dim=1)  # (B, 2C, H|1, W|1)
        vertical_pre = masked_conv2d_reference(
            vertical, vertical_weight, vertical_bias, "vertical_A" if first else "vertical_B"
        ) + vertical_condition  # (B, 2C, H, W)
        horizontal_pre = (
            masked_conv2d_reference(horizontal, horizontal_weight, horizontal_bias, "A" if first else "B")
            + torch.einsum("oi,bihw->bohw", link_weight, vertical_pre)
            + link_bias[:, None, None] + horizontal_condition
        )  # (B, 2C, H, W)
        update = torch.einsum("oi,bihw->bohw", output_weight, _gate_reference(horizontal_pre))
        update = update + output_bias[:, None, None]  # (B, C, H, W)
        horizontal = update if first else horizontal + update
        vertical = _gate_reference(vertical_pre)
    hidden_weight, hidden_bias, output_weight, output_bias = parameters[1 + 8 * num_layers:]
    hidden = torch.relu(torch.relu(horizontal).permute(0, 2, 3, 1) @ hidden_weight.t() + hidden_bias)  # (B,H,W,Hd)
    return (hidden @ output_weight.t() + output_bias).permute(0, 3, 1, 2)  # (B, K, H, W)


def pixelcnn_sample_reference(
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
    """The naive loop over ``pixelcnn_logits_reference``: a full forward per sampled position
    (two, conditioned and negative, when ``condition_bias`` holds 2B rows: classifier-free guidance)."""
    with torch.no_grad():
        return naive_autoregressive_sample(
            guided_logits_function(
                lambda codes, bias: pixelcnn_logits_reference(parameters, bias, codes, kernel_size),
                condition_bias, uniforms.shape[0], guidance_scale,
            ),
            uniforms, fixed_codes, resample_mask, temperature, top_k,
        )


def guided_logits_function(logits_function, condition_bias: torch.Tensor, batch_size: int, guidance_scale: float):
    """codes (B, H, W) -> logits (B, K, H, W) from ``logits_function(codes, bias)``: plain for B biases;
    for 2B (conditions, then negative conditions) ``negative + guidance_scale * (conditioned - negative)``."""
    if condition_bias.shape[0] == batch_size:
        return lambda codes: logits_function(codes, condition_bias)

    def guided(codes: torch.Tensor) -> torch.Tensor:
        both = logits_function(torch.cat([codes, codes]), condition_bias)  # (2B, K, H, W)
        conditioned, negative = both[:batch_size], both[batch_size:]
        return negative + guidance_scale * (conditioned - negative)

    return guided
