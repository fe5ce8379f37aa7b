"""The CUDA kernels (csrc/cuda/*.cu) against the references, the CPU kernels and first principles.

Every test here needs a CUDA device and is skipped without one ("needs a CUDA device"). On a GPU
machine the compiled extension must have been built with its CUDA kernels: the ``cuda_ops``
fixture fails (never skips) when it was not, so a CPU-only build cannot pass as skipped tests.

Run on a GPU machine:  python -m pytest -q -m cuda tests/ops/test_cuda_ops.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from vaestudio import ops
from vaestudio.ops import reference

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

FLOAT_TYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
MASK_TYPES = ["A", "B", "vertical_A", "vertical_B"]


@pytest.fixture(autouse=True)
def no_tf32():
    """Full fp32 in cuDNN and cuBLAS: the references and the naive sampling loop must not use TF32."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.fixture
def cuda_ops(compiled_ops):
    """torch.ops.vaestudio with CUDA kernels registered; fails when the build has none."""
    active = ops.backend()
    assert active.cuda, (
        f"the vaestudio extension was built without its CUDA kernels ({active.name}: {active.reason}); "
        "rebuild on this machine: pip install --no-build-isolation -e . && python setup.py build_ext --inplace"
    )
    return compiled_ops


KERNEL_ERROR_CALLS = {
    "cpu": "torch.ops.vaestudio.code_stats(torch.randn(4, 2), torch.tensor([0, 1, 3, 0]), 3)",
    "cuda": "torch.ops.vaestudio.code_stats(torch.randn(4, 2, device='cuda'), torch.tensor([0, 1, 3, 0], device='cuda'), 3)",
}


@pytest.mark.parametrize("device", sorted(KERNEL_ERROR_CALLS))
def test_kernel_errors_raise_after_cuda_is_initialised(cuda_ops, device):
    """A TORCH_CHECK in a kernel must reach Python as a RuntimeError once CUDA is up.

    On the H200 image (torch 2.11.0+cu130, GCC 13.3) every such error crashed the process with a
    segmentation fault; a minimal extension built there raised cleanly before CUDA was initialised.
    Run in a child process, so that a crash is this test's failure, not the end of the test run.
    """
    code = (
        "import torch\nfrom vaestudio import ops\nops.backend()\ntorch.cuda.init()\n"
        f"try:\n    {KERNEL_ERROR_CALLS[device]}\n"
        "except RuntimeError as error:\n    print('raised:', str(error).splitlines()[0])\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=root)
    assert result.returncode == 0 and "raised: " in result.stdout and "indices must lie in" in result.stdout, (
        f"exit status {result.returncode} (negative: killed by that signal); stdout {result.stdout[-500:]!r}; "
        f"stderr {result.stderr[-1500:]!r}"
    )


def on_cuda(value):
    """Tensors (and lists of tensors) moved to the current CUDA device; other values unchanged."""
    if isinstance(value, torch.Tensor):
        return value.detach().cuda().requires_grad_(value.requires_grad)
    if isinstance(value, (list, tuple)):
        return type(value)(on_cuda(item) for item in value)
    return value


def on_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, (list, tuple)):
        return type(value)(on_cpu(item) for item in value)
    return value


# -- nearest_code ---------------------------------------------------------------------------------

# Odd shapes around the kernel's tiles (128 rows x 128 codes x 16 features) and its code splits.
NEAREST_SHAPES = [(1, 1, 1), (1, 5, 1), (3, 67, 1031), (129, 3, 130), (127, 17, 129), (1000, 64, 512),
                  (257, 16, 4099), (5, 64, 70000), (2048, 130, 300)]


def exact_distances(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(N, K) squared distances in float64 of the values the kernel sees (fp16/bf16 -> fp32 is exact)."""
    return torch.cdist(x.double(), codebook.double()).pow(2)  # (N, K)


def rounding_bound(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(N,) generous rounding bound of the squared-norm expansion in the compute type."""
    unit = 1e-12 if x.dtype == torch.float64 else 2e-5
    return unit * (x.double().pow(2).sum(1) + codebook.double().pow(2).sum(1).max() + 1)  # (N,)


def assert_nearest(x, codebook, indices, sqdist):
    assert indices.dtype == torch.int64 and tuple(indices.shape) == (x.shape[0],)
    assert sqdist.dtype == torch.float32 and tuple(sqdist.shape) == (x.shape[0],)
    assert indices.device == x.device and sqdist.device == x.device
    if x.shape[0] == 0:
        return
    exact = exact_distances(x, codebook)  # (N, K)
    chosen = exact.gather(1, indices[:, None]).squeeze(1)  # (N,)
    assert bool((chosen <= exact.min(1).values + rounding_bound(x, codebook)).all()), "a farther code was chosen"
    torch.testing.assert_close(sqdist.double(), chosen, rtol=2e-5, atol=2e-5)


def assert_same_choice(x, codebook, indices, other_indices):
    """Equal indices, except where both choices are equally near within rounding."""
    if x.shape[0] == 0:
        return
    exact = exact_distances(x, codebook)  # (N, K)
    gap = (exact.gather(1, indices[:, None]) - exact.gather(1, other_indices[:, None])).abs().squeeze(1)  # (N,)
    assert bool(((indices == other_indices) | (gap <= rounding_bound(x, codebook))).all())


@pytest.mark.parametrize("dtype", FLOAT_TYPES, ids=str)
@pytest.mark.parametrize("shape", NEAREST_SHAPES, ids=lambda s: "N{}-D{}-K{}".format(*s))
def test_nearest_code_matches_reference_and_cpu(cuda_ops, shape, dtype):
    num_rows, dim, num_codes = shape
    generator = torch.Generator().manual_seed(num_rows * 31 + dim * 7 + num_codes)
    x = torch.randn(num_rows, dim, generator=generator).to(dtype)  # (N, D)
    codebook = torch.randn(num_codes, dim, generator=generator).to(dtype)  # (K, D)
    indices, sqdist = cuda_ops.nearest_code(x.cuda(), codebook.cuda())
    assert_nearest(x.cuda(), codebook.cuda(), indices, sqdist)
    reference_indices, _ = reference.nearest_code_reference(x.cuda(), codebook.cuda())
    assert_same_choice(x.cuda(), codebook.cuda(), indices, reference_indices)
    cpu_indices, _ = cuda_ops.nearest_code(x, codebook)
    assert_same_choice(x, codebook, indices.cpu(), cpu_indices)


def test_nearest_code_empty_and_non_contiguous(cuda_ops):
    codebook = torch.randn(9, 5, device="cuda")
    indices, sqdist = cuda_ops.nearest_code(torch.empty(0, 5, device="cuda"), codebook)
    assert indices.shape == (0,) and sqdist.shape == (0,) and indices.is_cuda
    wide = torch.randn(5, 300, device="cuda")
    x = wide.t()  # (300, 5), non-contiguous
    indices, sqdist = cuda_ops.nearest_code(x, codebook)
    expected_indices, expected_sqdist = cuda_ops.nearest_code(x.contiguous(), codebook)
    assert torch.equal(indices, expected_indices) and torch.equal(sqdist, expected_sqdist)


@pytest.mark.parametrize("dtype", FLOAT_TYPES, ids=str)
def test_nearest_code_ties_go_to_the_lowest_index(cuda_ops, dtype):
    """Duplicate codes (across tiles and code splits) score identically: the lowest index must win."""
    generator = torch.Generator().manual_seed(5)
    base = torch.randn(300, 24, generator=generator).to(dtype)  # (300, D) distinct codes
    codebook = torch.cat([base, base, base])  # (900, D): code k == k + 300 == k + 600
    x = torch.cat([base[::7], torch.randn(64, 24, generator=generator).to(dtype)])  # exact hits and random rows
    indices, sqdist = cuda_ops.nearest_code(x.cuda(), codebook.cuda())
    assert int(indices.max()) < 300, "a duplicate with a higher index won a tie"
    assert torch.equal(sqdist[: base[::7].shape[0]].cpu(), torch.zeros(base[::7].shape[0]))
    # Few rows and many codes: the search is split over blocks, merged by atomicMin.
    many = torch.cat([base] * 40)  # (12000, D)
    indices, _ = cuda_ops.nearest_code(x[:3].cuda(), many.cuda())
    assert int(indices.max()) < 300


def test_nearest_code_allocates_no_n_by_k_buffer(cuda_ops):
    num_rows, dim, num_codes = 65536, 64, 8192
    x = torch.randn(num_rows, dim, device="cuda")
    codebook = torch.randn(num_codes, dim, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    indices, sqdist = cuda_ops.nearest_code(x, codebook)
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - before
    outputs = num_rows * (8 + 4)
    assert extra <= outputs + num_codes * 8 + (1 << 20), f"nearest_code used {extra} bytes beyond its inputs"
    sample = torch.randint(num_rows, (512,), device="cuda")
    assert_nearest(x[sample], codebook, indices[sample], sqdist[sample])


@pytest.mark.slow
def test_nearest_code_throughput_report(cuda_ops):
    """Prints the achieved FP32 rate on the benchmark shape; fails only on a gross regression."""
    num_rows, dim, num_codes = 65536, 64, 8192
    x = torch.randn(num_rows, dim, device="cuda")
    codebook = torch.randn(num_codes, dim, device="cuda")
    for _ in range(3):
        cuda_ops.nearest_code(x, codebook)
    torch.cuda.synchronize()
    repeats = 10
    start = time.perf_counter()
    for _ in range(repeats):
        cuda_ops.nearest_code(x, codebook)
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / repeats
    tflops = 2 * num_rows * num_codes * dim / seconds / 1e12
    print(f"\nnearest_code (65536, 64, 8192) fp32: {seconds * 1e3:.3f} ms, {tflops:.1f} TFLOP/s on "
          f"{torch.cuda.get_device_name()}")
    assert tflops > 2.0


# -- code_stats and ema_update_ -------------------------------------------------------------------

STATS_SHAPES = [(1, 1, 1), (300, 67, 1031), (4097, 64, 512), (50, 5, 7), (20000, 3, 2)]


def brute_force_stats(x, indices, num_codes):
    one_hot = torch.nn.functional.one_hot(indices.cpu(), num_codes).double()  # (N, K)
    return one_hot.sum(0), one_hot.t() @ x.cpu().double()  # (K,), (K, D)


@pytest.mark.parametrize("deterministic", [False, True], ids=["atomic", "sorted"])
@pytest.mark.parametrize("dtype", FLOAT_TYPES, ids=str)
@pytest.mark.parametrize("shape", STATS_SHAPES, ids=lambda s: "N{}-D{}-K{}".format(*s))
def test_code_stats_matches_reference_and_cpu(cuda_ops, shape, dtype, deterministic):
    num_rows, dim, num_codes = shape
    generator = torch.Generator().manual_seed(num_rows + dim + num_codes)
    x = torch.randn(num_rows, dim, generator=generator).to(dtype)  # (N, D)
    indices = torch.randint(num_codes, (num_rows,), generator=generator)  # (N,)
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(deterministic)
    try:
        counts, sums = cuda_ops.code_stats(x.cuda(), indices.cuda(), num_codes)
        again_counts, again_sums = cuda_ops.code_stats(x.cuda(), indices.cuda(), num_codes)
    finally:
        torch.use_deterministic_algorithms(previous)
    assert counts.dtype == torch.float32 and sums.dtype == torch.float32 and counts.is_cuda
    expected_counts, expected_sums = brute_force_stats(x, indices, num_codes)
    assert torch.equal(counts.cpu().double(), expected_counts)  # sums of ones: exact
    # fp32 sums of n standard normals drift by about sqrt(n) ulps of sqrt(n): scale atol with n per code.
    atol = 1e-4 * max(1.0, num_rows / num_codes / 100)
    torch.testing.assert_close(sums.cpu().double(), expected_sums, rtol=1e-5, atol=atol)
    cpu_counts, cpu_sums = cuda_ops.code_stats(x, indices, num_codes)
    assert torch.equal(counts.cpu(), cpu_counts)
    torch.testing.assert_close(sums.cpu(), cpu_sums, rtol=1e-5, atol=atol)
    if deterministic:
        assert torch.equal(sums, again_sums) and torch.equal(counts, again_counts)


def test_code_stats_collapsed_codebook(cuda_ops):
    """Every row on one code: the worst case for both atomics and the sorted segments."""
    x = torch.randn(50000, 32, device="cuda")
    indices = torch.full((50000,), 3, device="cuda", dtype=torch.int64)
    for deterministic in (False, True):
        torch.use_deterministic_algorithms(deterministic)
        try:
            counts, sums = cuda_ops.code_stats(x, indices, 8)
        finally:
            torch.use_deterministic_algorithms(False)
        assert float(counts[3]) == 50000 and float(counts.sum()) == 50000
        torch.testing.assert_close(sums[3], x.double().sum(0).float(), rtol=1e-4, atol=1e-3)


def test_code_stats_rejects_out_of_range_indices(cuda_ops):
    with pytest.raises(RuntimeError, match="indices must lie in"):
        cuda_ops.code_stats(torch.randn(4, 2, device="cuda"), torch.tensor([0, 1, 3, 0], device="cuda"), 3)


def random_ema_state(generator, num_codes, dim, dtype=torch.float32, code_dtype=None):
    codebook = torch.randn(num_codes, dim, generator=generator).to(code_dtype or dtype)  # (K, D)
    cluster_size = (torch.rand(num_codes, generator=generator) * 5).to(dtype)  # (K,)
    embed_sum = torch.randn(num_codes, dim, generator=generator).to(dtype)  # (K, D)
    counts = torch.randint(0, 6, (num_codes,), generator=generator).float()  # (K,)
    sums = torch.randn(num_codes, dim, generator=generator)  # (K, D)
    return [codebook, cluster_size, embed_sum, counts, sums]


@pytest.mark.parametrize("code_dtype", FLOAT_TYPES, ids=str)
@pytest.mark.parametrize("dtype", FLOAT_TYPES, ids=str)
@pytest.mark.parametrize("num_codes, dim", [(1, 1), (37, 67), (8192, 64), (5000, 3)])
def test_ema_update_matches_reference(cuda_ops, num_codes, dim, dtype, code_dtype):
    generator = torch.Generator().manual_seed(num_codes + dim)
    state = random_ema_state(generator, num_codes, dim, dtype, code_dtype)
    compiled = on_cuda([t.clone() for t in state])
    expected = on_cuda([t.clone() for t in state])
    cuda_ops.ema_update_(*compiled, 0.99, 1e-5)
    reference.ema_update_reference_(*expected, 0.99, 1e-5)
    if torch.bfloat16 in (dtype, code_dtype):
        tolerance = {"rtol": 3e-2, "atol": 3e-2}
    elif torch.float16 in (dtype, code_dtype):
        tolerance = {"rtol": 1e-2, "atol": 1e-2}
    else:
        tolerance = {"rtol": 1e-6, "atol": 1e-6}
    for result, wanted in zip(compiled[:3], expected[:3]):
        assert result.dtype == wanted.dtype
        torch.testing.assert_close(result, wanted, **tolerance)
    if dtype == torch.float32 and code_dtype == torch.float32:  # and the CPU kernel on the same state
        cpu_state = [t.clone() for t in state]
        cuda_ops.ema_update_(*cpu_state, 0.99, 1e-5)
        for result, wanted in zip(compiled[:3], cpu_state[:3]):
            torch.testing.assert_close(result.cpu(), wanted, rtol=1e-6, atol=1e-6)


def test_ema_update_zero_total_and_strided_state(cuda_ops):
    codebook = torch.randn(5, 3, device="cuda")
    original = codebook.clone()
    cluster_size, embed_sum = torch.zeros(5, device="cuda"), torch.randn(5, 3, device="cuda")
    expected_embed_sum = embed_sum * 0.5
    cuda_ops.ema_update_(codebook, cluster_size, embed_sum, torch.zeros(5, device="cuda"),
                         torch.zeros(5, 3, device="cuda"), 0.5, 1e-5)
    assert torch.equal(codebook, original) and torch.equal(cluster_size, torch.zeros_like(cluster_size))
    torch.testing.assert_close(embed_sum, expected_embed_sum)

    generator = torch.Generator().manual_seed(9)
    state = on_cuda(random_ema_state(generator, 9, 4))
    strided = torch.zeros(4, 9, device="cuda").t()  # (9, 4) transposed view
    strided.copy_(state[0])
    expected = [t.clone() for t in state]
    cuda_ops.ema_update_(*expected, 0.8, 1e-5)
    cuda_ops.ema_update_(strided, state[1], state[2], state[3], state[4], 0.8, 1e-5)
    assert torch.equal(strided, expected[0]) and torch.equal(state[2], expected[2])


# -- masked_conv2d --------------------------------------------------------------------------------

CONV_CASES = [  # (B, Cin, H, W, Cout, kh, kw)
    (2, 3, 5, 6, 4, 3, 3), (1, 1, 1, 1, 1, 1, 1), (3, 5, 7, 4, 2, 5, 5), (2, 4, 6, 9, 3, 1, 5),
    (2, 4, 9, 3, 3, 5, 1), (1, 16, 8, 8, 32, 7, 7), (2, 3, 1, 7, 2, 3, 3),
]


def conv_tolerance(dtype):
    return {torch.float16: {"rtol": 2e-2, "atol": 2e-2}, torch.bfloat16: {"rtol": 5e-2, "atol": 5e-2},
            torch.float32: {"rtol": 1e-4, "atol": 1e-4}, torch.float64: {"rtol": 1e-10, "atol": 1e-10}}[dtype]


@pytest.mark.parametrize("dtype", FLOAT_TYPES, ids=str)
@pytest.mark.parametrize("mask_type", MASK_TYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "B{}-Ci{}-{}x{}-Co{}-k{}x{}".format(*c))
def test_masked_conv2d_forward_and_backward(cuda_ops, case, mask_type, dtype):
    batch, in_channels, height, width, out_channels, kernel_height, kernel_width = case
    generator = torch.Generator().manual_seed(sum(case))
    x = torch.randn(batch, in_channels, height, width, generator=generator)
    weight = torch.randn(out_channels, in_channels, kernel_height, kernel_width, generator=generator)
    bias = torch.randn(out_channels, generator=generator)
    grad = torch.randn(batch, out_channels, height, width, generator=generator)
    tolerance = conv_tolerance(dtype)

    inputs = [t.to(dtype).cuda().requires_grad_() for t in (x, weight, bias)]
    output = ops.masked_conv2d(*inputs, mask_type)
    output.backward(grad.to(dtype).cuda())
    reference_inputs = [t.double().cuda().requires_grad_() for t in (x.to(dtype), weight.to(dtype), bias.to(dtype))]
    expected = reference.masked_conv2d_reference(*reference_inputs, mask_type)
    expected.backward(grad.to(dtype).double().cuda())
    assert output.dtype == dtype and output.is_cuda
    torch.testing.assert_close(output.double(), expected, **tolerance)
    for result, wanted in zip(inputs, reference_inputs):
        torch.testing.assert_close(result.grad.double(), wanted.grad, **tolerance)
    if dtype in (torch.float32, torch.float64):  # and the CPU kernel
        cpu_output = cuda_ops.masked_conv2d(x.to(dtype), weight.to(dtype), bias.to(dtype), mask_type)
        torch.testing.assert_close(output.detach().cpu(), cpu_output, **tolerance)
        cpu_grads = cuda_ops.masked_conv2d_backward(grad.to(dtype), x.to(dtype), weight.to(dtype), mask_type,
                                                    [True, True, True])
        cuda_grads = cuda_ops.masked_conv2d_backward(grad.to(dtype).cuda(), x.to(dtype).cuda(),
                                                     weight.to(dtype).cuda(), mask_type, [True, True, True])
        for result, wanted in zip(cuda_grads, cpu_grads):
            torch.testing.assert_close(result.cpu(), wanted, **tolerance)


def test_masked_conv2d_backward_output_mask_and_masked_taps(cuda_ops):
    x = torch.randn(2, 3, 5, 5, device="cuda")
    weight = torch.randn(4, 3, 5, 5, device="cuda")
    grad = torch.randn(2, 4, 5, 5, device="cuda")
    grad_x, grad_weight, grad_bias = cuda_ops.masked_conv2d_backward(grad, x, weight, "A", [False, True, False])
    assert grad_x.numel() == 0 and grad_bias.numel() == 0
    mask = reference.masked_conv_mask(5, 5, "A", device="cuda")
    assert torch.equal(grad_weight * (1 - mask), torch.zeros_like(grad_weight)), "a masked tap got a gradient"


def test_masked_conv2d_gradcheck(cuda_ops):
    for mask_type in MASK_TYPES:
        x = torch.randn(2, 2, 4, 5, device="cuda", dtype=torch.float64, requires_grad=True)
        weight = torch.randn(3, 2, 3, 3, device="cuda", dtype=torch.float64, requires_grad=True)
        bias = torch.randn(3, device="cuda", dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda a, w, b, mask=mask_type: ops.masked_conv2d(a, w, b, mask), (x, weight, bias)
        )


# -- pixelcnn_sample ------------------------------------------------------------------------------


def make_sampler_inputs(num_codes=37, channels=8, num_layers=3, kernel_size=3, head_channels=16,
                        batch=3, height=5, width=6, dtype=torch.float64, seed=0, inpaint=True, spatial=False):
    from vaestudio.models.pixelcnn import GatedPixelCNN

    torch.manual_seed(seed)
    network = GatedPixelCNN(num_codes, channels, num_layers, kernel_size, head_channels).to(dtype)
    parameters = [p.detach().clone() for p in network.sampler_parameters()]
    generator = torch.Generator().manual_seed(seed + 1)
    positions = (height, width) if spatial else ()  # spatial: one bias per position too, (B, L, 4C, H, W)
    condition_bias = (0.3 * torch.randn(batch, num_layers, 4 * channels, *positions, generator=generator)).to(dtype)
    uniforms = torch.rand(batch, height, width, generator=generator, dtype=torch.float64)
    fixed_codes = torch.randint(num_codes, (batch, height, width), generator=generator)
    if inpaint:
        resample_mask = torch.rand(batch, height, width, generator=generator) < 0.6
    else:
        resample_mask = torch.ones(batch, height, width, dtype=torch.bool)
    return parameters, condition_bias, uniforms, fixed_codes, resample_mask


SAMPLER_CASES = [  # (kernel_size, temperature, top_k, inpaint)
    (3, 1.0, 0, False), (3, 0.7, 5, True), (1, 1.3, 0, True), (5, 1.0, 1, False), (3, 1.0, 36, True),
    (3, 2.0, 100, False),
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("case", SAMPLER_CASES, ids=lambda c: "k{}-T{}-top{}-inpaint{}".format(*c))
def test_pixelcnn_sample_equals_the_naive_loop(cuda_ops, case, dtype):
    kernel_size, temperature, top_k, inpaint = case
    parameters, condition_bias, uniforms, fixed_codes, resample_mask = make_sampler_inputs(
        kernel_size=kernel_size, dtype=dtype, inpaint=inpaint, seed=kernel_size + top_k
    )
    arguments = on_cuda((parameters, condition_bias, uniforms, fixed_codes, resample_mask))
    codes = cuda_ops.pixelcnn_sample(*arguments, kernel_size, temperature, top_k)
    assert codes.dtype == torch.int64 and codes.is_cuda and codes.shape == fixed_codes.shape
    naive = reference.pixelcnn_sample_reference(*arguments, kernel_size, temperature, top_k)  # on CUDA
    assert torch.equal(codes, naive), f"{int((codes != naive).sum())} positions differ from the naive loop"
    cpu_codes = cuda_ops.pixelcnn_sample(parameters, condition_bias, uniforms, fixed_codes, resample_mask,
                                         kernel_size, temperature, top_k)
    assert torch.equal(codes.cpu(), cpu_codes)
    assert torch.equal(codes.cpu()[~resample_mask], fixed_codes[~resample_mask])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("kernel_size, inpaint", [(3, False), (5, True), (1, True)])
def test_pixelcnn_sample_with_a_spatial_bias_equals_the_naive_loop(cuda_ops, dtype, kernel_size, inpaint):
    parameters, condition_bias, uniforms, fixed_codes, resample_mask = make_sampler_inputs(
        kernel_size=kernel_size, dtype=dtype, inpaint=inpaint, seed=11 + kernel_size, spatial=True
    )
    arguments = on_cuda((parameters, condition_bias, uniforms, fixed_codes, resample_mask))
    codes = cuda_ops.pixelcnn_sample(*arguments, kernel_size, 1.0, 0)
    assert torch.equal(codes, reference.pixelcnn_sample_reference(*arguments, kernel_size, 1.0, 0))
    assert torch.equal(codes.cpu(), cuda_ops.pixelcnn_sample(parameters, condition_bias, uniforms, fixed_codes,
                                                             resample_mask, kernel_size, 1.0, 0))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("spatial, inpaint, top_k", [(False, False, 0), (True, True, 4), (False, True, 0)])
def test_guided_pixelcnn_sample_equals_the_naive_loop(cuda_ops, dtype, spatial, inpaint, top_k):
    """Classifier-free guidance: 2B biases (conditions, then negative ones), on CUDA and CPU alike."""
    parameters, condition_bias, uniforms, fixed_codes, resample_mask = make_sampler_inputs(
        dtype=dtype, inpaint=inpaint, seed=21 + top_k, spatial=spatial
    )
    negative = make_sampler_inputs(dtype=dtype, seed=40 + top_k, spatial=spatial)[1]
    guided_bias = torch.cat([condition_bias, negative])  # (2B, L, 4C[, H, W])
    arguments = on_cuda((parameters, guided_bias, uniforms, fixed_codes, resample_mask))
    codes = cuda_ops.pixelcnn_sample(*arguments, 3, 0.9, top_k, 2.5)
    assert codes.shape == fixed_codes.shape
    assert torch.equal(codes, reference.pixelcnn_sample_reference(*arguments, 3, 0.9, top_k, 2.5))
    assert torch.equal(codes.cpu(), cuda_ops.pixelcnn_sample(parameters, guided_bias, uniforms, fixed_codes,
                                                             resample_mask, 3, 0.9, top_k, 2.5))
    assert torch.equal(codes.cpu()[~resample_mask], fixed_codes[~resample_mask])


def test_pixelcnn_sample_with_many_codes_and_channels(cuda_ops):
    """K doubles beyond shared memory (global work vector), and 2C > the block's 256 threads."""
    for num_codes, channels in [(40000, 4), (300, 160)]:
        parameters, condition_bias, uniforms, fixed_codes, resample_mask = make_sampler_inputs(
            num_codes=num_codes, channels=channels, num_layers=2, head_channels=8, batch=2, height=3, width=3
        )
        arguments = on_cuda((parameters, condition_bias, uniforms, fixed_codes, resample_mask))
        codes = cuda_ops.pixelcnn_sample(*arguments, 3, 1.0, 50)
        naive = reference.pixelcnn_sample_reference(*arguments, 3, 1.0, 50)
        assert torch.equal(codes, naive)
        guided = on_cuda((parameters, torch.cat([condition_bias, -condition_bias]), uniforms, fixed_codes,
                          resample_mask))  # the global work vector with guidance
        assert torch.equal(cuda_ops.pixelcnn_sample(*guided, 3, 1.0, 50, 1.5),
                           reference.pixelcnn_sample_reference(*guided, 3, 1.0, 50, 1.5))


def test_pixelcnn_sample_rejects_out_of_range_fixed_codes(cuda_ops):
    parameters, condition_bias, uniforms, fixed_codes, resample_mask = make_sampler_inputs()
    fixed_codes[0, 0, 0] = 37
    with pytest.raises(RuntimeError, match="fixed_codes must lie in"):
        cuda_ops.pixelcnn_sample(*on_cuda((parameters, condition_bias, uniforms, fixed_codes, resample_mask)),
                                 3, 1.0, 0)


# -- opcheck, torch.compile, streams --------------------------------------------------------------


def op_samples():
    """(op name, args on the CPU) for every operator; tests move them with on_cuda."""
    generator = torch.Generator().manual_seed(11)
    samples = [("nearest_code", (torch.randn(37, 67, generator=generator), torch.randn(131, 67, generator=generator)))]
    samples.append(("nearest_code", (torch.randn(19, 8, generator=generator).half(),
                                     torch.randn(33, 8, generator=generator).half())))
    samples.append(("code_stats", (torch.randn(300, 17, generator=generator),
                                   torch.randint(40, (300,), generator=generator), 40)))
    state = random_ema_state(generator, 37, 5)
    samples.append(("ema_update_", (*state, 0.9, 1e-5)))
    for mask_type in MASK_TYPES:
        samples.append(("masked_conv2d", (torch.randn(2, 3, 5, 6, generator=generator).requires_grad_(),
                                          torch.randn(4, 3, 3, 3, generator=generator).requires_grad_(),
                                          torch.randn(4, generator=generator).requires_grad_(), mask_type)))
    samples.append(("masked_conv2d_backward", (torch.randn(2, 4, 5, 6, generator=generator),
                                               torch.randn(2, 3, 5, 6, generator=generator),
                                               torch.randn(4, 3, 3, 3, generator=generator), "B",
                                               [True, True, True])))
    parameters, condition_bias, uniforms, fixed_codes, resample_mask = make_sampler_inputs(height=3, width=4)
    samples.append(("pixelcnn_sample", (parameters, condition_bias, uniforms, fixed_codes, resample_mask, 3, 1.0, 5)))
    spatial_inputs = make_sampler_inputs(height=3, width=4, spatial=True)
    samples.append(("pixelcnn_sample", (*spatial_inputs, 3, 1.0, 5)))
    guided_bias = torch.cat([spatial_inputs[1], spatial_inputs[1].flip(0)])  # (2B, L, 4C, H, W)
    samples.append(("pixelcnn_sample", (spatial_inputs[0], guided_bias, *spatial_inputs[2:], 3, 1.0, 5, 2.0)))
    return samples


OP_SAMPLE_IDS = [f"{index}-{name}" for index, (name, _) in enumerate(op_samples())]


def cuda_sample(name):
    """The first sample of operator `name`, on CUDA, without autograd."""
    args = on_cuda(next(args for op, args in op_samples() if op == name))
    return [a.detach() if isinstance(a, torch.Tensor) else a for a in args]


@pytest.mark.parametrize("index", range(len(OP_SAMPLE_IDS)), ids=OP_SAMPLE_IDS)
def test_opcheck_on_cuda(cuda_ops, index):
    name, args = op_samples()[index]
    torch.library.opcheck(getattr(cuda_ops, name).default, on_cuda(args))


@pytest.mark.parametrize("name", ["nearest_code", "code_stats", "ema_update_", "masked_conv2d", "pixelcnn_sample"])
def test_torch_compile_fullgraph(cuda_ops, name):
    args = cuda_sample(name)
    operator = getattr(cuda_ops, name)
    torch._dynamo.reset()
    compiled = torch.compile(lambda *a: operator(*a), fullgraph=True)
    if name == "ema_update_":
        eager_state = [t.clone() for t in args[:5]]
        compiled_state = [t.clone() for t in args[:5]]
        operator(*eager_state, *args[5:])
        compiled(*compiled_state, *args[5:])
        for result, expected in zip(compiled_state[:3], eager_state[:3]):
            torch.testing.assert_close(result, expected)
        return
    expected = operator(*args)
    result = compiled(*args)
    for got, wanted in zip(result if isinstance(result, tuple) else (result,),
                           expected if isinstance(expected, tuple) else (expected,)):
        torch.testing.assert_close(got, wanted, rtol=1e-5, atol=1e-5)


def _run_op(operator, name, args):
    if name == "ema_update_":
        state = [t.clone() for t in args[:5]]
        operator(*state, *args[5:])
        return tuple(state[:3])
    result = operator(*args)
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("name", ["nearest_code", "code_stats", "ema_update_", "masked_conv2d",
                                  "masked_conv2d_backward", "pixelcnn_sample"])
def test_ops_run_on_the_current_stream(cuda_ops, name):
    """Under torch.cuda.stream(side), an op's kernels must be queued on `side`.

    The default stream is put to sleep first. Run on `side`, the op and the comparison of its
    result (also on `side`) finish while the default stream still sleeps; a kernel queued on the
    default stream instead would still be waiting, and the comparison would read an unfinished
    output (or an un-updated state for ema_update_). `side` is a non-blocking stream, so it never
    waits for the default one implicitly. The ops' own synchronisations (code_stats, pixelcnn_sample
    check their index ranges with .item()) wait for `side` only.
    """
    args = cuda_sample(name)
    operator = getattr(cuda_ops, name)
    expected = _run_op(operator, name, args)
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    # About 0.5 s of device time first; longer if the check outlasted it (a GPU shared with other
    # processes time-slices, and an op that synchronises waits for its turn).
    for sleep_cycles in (1_000_000_000, 4_000_000_000, 16_000_000_000):
        torch.cuda._sleep(sleep_cycles)  # on the default stream only
        with torch.cuda.stream(side):
            assert torch.cuda.current_stream() == side
            result = _run_op(operator, name, args)
            same = all(
                bool(torch.isclose(got, wanted, rtol=1e-5, atol=1e-5).all()) if got.is_floating_point()
                else torch.equal(got, wanted)
                for got, wanted in zip(result, expected)
            )  # evaluated on `side`; .item() waits for `side` alone
        default_still_sleeping = not torch.cuda.default_stream().query()
        torch.cuda.synchronize()
        assert same, f"{name} under torch.cuda.stream(side) gave a different (unfinished?) result"
        if default_still_sleeping:
            return
    pytest.fail("inconclusive: the default stream woke up before the check ended, even after an 8 s sleep")


def test_kernels_respect_the_device_guard(cuda_ops):
    """With two GPUs, tensors on cuda:1 while cuda:0 is current must work (CUDAGuard in every wrapper)."""
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two CUDA devices")
    x, codebook = torch.randn(100, 8, device="cuda:1"), torch.randn(50, 8, device="cuda:1")
    with torch.cuda.device(0):
        indices, sqdist = cuda_ops.nearest_code(x, codebook)
    assert indices.device == x.device
    assert_nearest(x, codebook, indices, sqdist)
