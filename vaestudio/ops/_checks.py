"""Argument checks shared by the compiled and the reference paths.

Every message names the argument and says what was expected, so a wrong call
fails the same clear way whichever backend runs it. The C++ kernels repeat the
essential checks (TORCH_CHECK) for callers of ``torch.ops.vaestudio.*``.
"""

from __future__ import annotations

import math

import torch

FLOAT_TYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _tensor(name: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def _rank(name: str, tensor: torch.Tensor, rank: int, shape_doc: str) -> None:
    if tensor.dim() != rank:
        raise ValueError(f"{name} must have {rank} dimensions {shape_doc}, got shape {tuple(tensor.shape)}")


def _floating(name: str, tensor: torch.Tensor) -> None:
    if tensor.dtype not in FLOAT_TYPES:
        raise TypeError(f"{name} must be float16, bfloat16, float32 or float64, got {tensor.dtype}")


def _same_device(**tensors: torch.Tensor) -> None:
    devices = {name: t.device for name, t in tensors.items()}
    if len(set(devices.values())) > 1:
        listed = ", ".join(f"{name} on {device}" for name, device in devices.items())
        raise ValueError(f"all tensors must be on one device, got {listed}; move them with .to(device)")


def _finite(name: str, tensor: torch.Tensor) -> None:
    # Fast path, one sum: an inf or NaN anywhere makes any sum of the values inf or NaN, so a finite
    # sum proves them all finite (~4x cheaper than aminmax on CPU). A non-finite sum (a bad value, or
    # finite values whose sum overflows) gets the exact test: min and max propagate NaN and expose
    # +-inf, in one pass with no N-sized temporary (torch.isfinite(t).all() is ~40x slower on CPU: it
    # materialises several boolean tensors). float16 goes straight to the exact test: its sums
    # overflow (65504) too easily for the fast path to pay.
    if not tensor.numel() or not tensor.is_floating_point():
        return
    if tensor.dtype != torch.float16 and math.isfinite(float(tensor.sum())):
        return
    if not all(math.isfinite(float(bound)) for bound in torch.aminmax(tensor)):
        raise ValueError(f"{name} contains NaN or infinite values; check the model for divergence")


def check_nearest_code(x, codebook) -> None:
    x, codebook = _tensor("x", x), _tensor("codebook", codebook)
    _rank("x", x, 2, "(N, D)")
    _rank("codebook", codebook, 2, "(K, D)")
    _floating("x", x)
    _floating("codebook", codebook)
    _same_device(x=x, codebook=codebook)
    if codebook.shape[0] == 0:
        raise ValueError("codebook is empty (K = 0): a codebook needs at least one code")
    if x.shape[1] != codebook.shape[1]:
        raise ValueError(
            f"x has D = {x.shape[1]} features but codebook rows have D = {codebook.shape[1]}; they must match"
        )
    if x.dtype != codebook.dtype:
        raise TypeError(f"x is {x.dtype} but codebook is {codebook.dtype}; cast one to the other")
    _finite("x", x)
    _finite("codebook", codebook)


def check_code_stats(x, indices, num_codes) -> None:
    x, indices = _tensor("x", x), _tensor("indices", indices)
    _rank("x", x, 2, "(N, D)")
    _rank("indices", indices, 1, "(N,)")
    _floating("x", x)
    _same_device(x=x, indices=indices)
    if indices.dtype != torch.int64:
        raise TypeError(f"indices must be int64, got {indices.dtype}")
    if not isinstance(num_codes, int) or num_codes <= 0:
        raise ValueError(f"num_codes must be a positive int, got {num_codes!r}")
    if indices.shape[0] != x.shape[0]:
        raise ValueError(f"indices has {indices.shape[0]} entries but x has {x.shape[0]} rows; they must match")
    if indices.numel():
        low, high = (int(bound) for bound in torch.aminmax(indices))  # one pass
        if low < 0 or high >= num_codes:
            raise ValueError(f"indices must lie in [0, num_codes = {num_codes}), found values in [{low}, {high}]")


def check_ema_update(codebook, cluster_size, embed_sum, counts, sums, decay, eps) -> None:
    for name, t in {"codebook": codebook, "cluster_size": cluster_size, "embed_sum": embed_sum, "counts": counts,
                        "sums": sums}.items():
        _tensor(name, t)
        _floating(name, t)
    _rank("codebook", codebook, 2, "(K, D)")
    _rank("embed_sum", embed_sum, 2, "(K, D)")
    _rank("sums", sums, 2, "(K, D)")
    _rank("cluster_size", cluster_size, 1, "(K,)")
    _rank("counts", counts, 1, "(K,)")
    _same_device(codebook=codebook, cluster_size=cluster_size, embed_sum=embed_sum, counts=counts, sums=sums)
    if codebook.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"codebook must be float32 or float64 for the EMA update, got {codebook.dtype}")
    state = {"cluster_size": cluster_size, "embed_sum": embed_sum, "counts": counts, "sums": sums}
    for name, t in state.items():
        if t.dtype != codebook.dtype:
            raise TypeError(
                f"{name} is {t.dtype} but codebook is {codebook.dtype}; the EMA state and the statistics "
                "must share the codebook's dtype"
            )
    num_codes, dim = codebook.shape
    if num_codes == 0:
        raise ValueError("codebook is empty (K = 0): a codebook needs at least one code")
    for name, t in {"embed_sum": embed_sum, "sums": sums}.items():
        if tuple(t.shape) != (num_codes, dim):
            raise ValueError(f"{name} must have the codebook's shape {(num_codes, dim)}, got {tuple(t.shape)}")
    for name, t in {"cluster_size": cluster_size, "counts": counts}.items():
        if tuple(t.shape) != (num_codes,):
            raise ValueError(f"{name} must have shape ({num_codes},), one entry per code, got {tuple(t.shape)}")
    if not 0.0 <= float(decay) < 1.0:
        raise ValueError(f"decay must lie in [0, 1), got {decay}")
    if not float(eps) > 0.0:
        raise ValueError(f"eps must be positive, got {eps}")
    _finite("counts", counts)
    _finite("sums", sums)


# -- PixelCNN ---------------------------------------------------------------------------------------

def _odd_kernel(name: str, height: int, width: int) -> None:
    if height % 2 == 0 or width % 2 == 0:
        raise ValueError(f"{name} must have odd kernel height and width (the centre tap), got {height} x {width}")


def check_masked_conv2d(x, weight, bias, mask_type) -> None:
    from vaestudio.ops.reference import MASK_TYPES

    x, weight = _tensor("x", x), _tensor("weight", weight)
    _rank("x", x, 4, "(B, Cin, H, W)")
    _rank("weight", weight, 4, "(Cout, Cin, kh, kw)")
    _floating("x", x)
    _floating("weight", weight)
    if x.dtype != weight.dtype:
        raise TypeError(f"x is {x.dtype} but weight is {weight.dtype}; cast one to the other")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"x has Cin = {x.shape[1]} channels but weight expects Cin = {weight.shape[1]}")
    _odd_kernel("weight", weight.shape[2], weight.shape[3])
    if bias is not None:
        bias = _tensor("bias", bias)
        _rank("bias", bias, 1, "(Cout,)")
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(f"bias has {bias.shape[0]} entries but weight has Cout = {weight.shape[0]}")
        if bias.dtype != weight.dtype:
            raise TypeError(f"bias is {bias.dtype} but weight is {weight.dtype}; cast one to the other")
        _same_device(x=x, weight=weight, bias=bias)
    else:
        _same_device(x=x, weight=weight)
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be one of {MASK_TYPES}, got {mask_type!r}")


def _pixelcnn_parameter_shapes(num_codes: int, channels: int, head_channels: int, num_layers: int,
                               kernel_size: int) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every sampler parameter, in the order of GatedPixelCNN.sampler_parameters."""
    double = 2 * channels
    shapes = [("embedding", (num_codes, channels))]
    for layer in range(num_layers):
        shapes += [
            (f"layer {layer} vertical_weight", (double, channels, kernel_size, kernel_size)),
            (f"layer {layer} vertical_bias", (double,)),
            (f"layer {layer} horizontal_weight", (double, channels, 1, kernel_size)),
            (f"layer {layer} horizontal_bias", (double,)),
            (f"layer {layer} link_weight", (double, double)),
            (f"layer {layer} link_bias", (double,)),
            (f"layer {layer} output_weight", (channels, channels)),
            (f"layer {layer} output_bias", (channels,)),
        ]
    shapes += [
        ("head_hidden_weight", (head_channels, channels)),
        ("head_hidden_bias", (head_channels,)),
        ("head_output_weight", (num_codes, head_channels)),
        ("head_output_bias", (num_codes,)),
    ]
    return shapes


def check_pixelcnn_sample(parameters, condition_bias, uniforms, fixed_codes, resample_mask, kernel_size,
                          temperature, top_k, guidance_scale=1.0) -> None:
    if not isinstance(parameters, (list, tuple)) or len(parameters) < 13 or (len(parameters) - 5) % 8:
        count = len(parameters) if isinstance(parameters, (list, tuple)) else type(parameters).__name__
        raise ValueError(
            f"parameters must be a list of 8 L + 5 tensors (GatedPixelCNN.sampler_parameters()), got {count}"
        )
    for index, tensor in enumerate(parameters):
        _tensor(f"parameters[{index}]", tensor)
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd positive int, got {kernel_size!r}")
    embedding = parameters[0]
    _rank("parameters[0] (embedding)", embedding, 2, "(K, C)")
    num_codes, channels = embedding.shape
    head_hidden = parameters[-4]
    _rank("parameters[-4] (head_hidden_weight)", head_hidden, 2, "(Hd, C)")
    num_layers = (len(parameters) - 5) // 8
    expected = _pixelcnn_parameter_shapes(num_codes, channels, head_hidden.shape[0], num_layers, kernel_size)
    for index, ((name, shape), tensor) in enumerate(zip(expected, parameters)):
        if tuple(tensor.shape) != shape:
            raise ValueError(
                f"parameters[{index}] ({name}) must have shape {shape} for K = {num_codes}, C = {channels}, "
                f"kernel_size = {kernel_size}, got {tuple(tensor.shape)}"
            )
        if tensor.dtype not in (torch.float32, torch.float64) or tensor.dtype != embedding.dtype:
            raise TypeError(
                f"parameters[{index}] ({name}) is {tensor.dtype}; all parameters must share one dtype, "
                "float32 or float64"
            )
    condition_bias, uniforms = _tensor("condition_bias", condition_bias), _tensor("uniforms", uniforms)
    fixed_codes, resample_mask = _tensor("fixed_codes", fixed_codes), _tensor("resample_mask", resample_mask)
    _rank("uniforms", uniforms, 3, "(B, H, W)")
    _rank("fixed_codes", fixed_codes, 3, "(B, H, W)")
    _rank("resample_mask", resample_mask, 3, "(B, H, W)")
    batch_size, height, width = uniforms.shape
    constant = (batch_size, num_layers, 4 * channels)
    guided = (2 * batch_size, num_layers, 4 * channels)
    if tuple(condition_bias.shape) not in (constant, (*constant, height, width), guided, (*guided, height, width)):
        raise ValueError(
            f"condition_bias must have shape (B, L, 4C) = {constant} (one bias per layer) or (B, L, 4C, H, W) = "
            f"{(*constant, height, width)} (one per layer and position), or 2B rows (conditions then negative "
            f"conditions, for guidance), got {tuple(condition_bias.shape)}"
        )
    if not isinstance(guidance_scale, (int, float)) or isinstance(guidance_scale, bool) \
            or not math.isfinite(guidance_scale):
        raise ValueError(f"guidance_scale must be a finite number, got {guidance_scale!r}")
    if condition_bias.dtype != embedding.dtype:
        raise TypeError(f"condition_bias is {condition_bias.dtype} but the parameters are {embedding.dtype}")
    for name, tensor in {"fixed_codes": fixed_codes, "resample_mask": resample_mask}.items():
        if tuple(tensor.shape) != (batch_size, height, width):
            raise ValueError(f"{name} must have the uniforms' shape {(batch_size, height, width)}, "
                             f"got {tuple(tensor.shape)}")
    if uniforms.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"uniforms must be float32 or float64, got {uniforms.dtype}")
    if fixed_codes.dtype != torch.int64:
        raise TypeError(f"fixed_codes must be int64, got {fixed_codes.dtype}")
    if resample_mask.dtype != torch.bool:
        raise TypeError(f"resample_mask must be bool, got {resample_mask.dtype}")
    _same_device(embedding=embedding, condition_bias=condition_bias, uniforms=uniforms, fixed_codes=fixed_codes,
                 resample_mask=resample_mask)
    if any(tensor.device != embedding.device for tensor in parameters):
        raise ValueError("all parameters must be on one device, the device of the other tensors")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 < temperature < float("inf"):
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ValueError(f"top_k must be an int >= 0 (0 keeps every code), got {top_k!r}")
    if uniforms.numel():
        if not bool(((uniforms >= 0) & (uniforms < 1)).all()):
            raise ValueError("uniforms must lie in [0, 1)")
        low, high = int(fixed_codes.min()), int(fixed_codes.max())
        if low < 0 or high >= num_codes:
            raise ValueError(f"fixed_codes must lie in [0, num_codes = {num_codes}), found values in [{low}, {high}]")
    _finite("condition_bias", condition_bias)
