"""nearest_code: the compiled kernel against an exact float64 brute force and the reference."""

from __future__ import annotations

import os

import pytest
import torch

from vaestudio import ops
from vaestudio.ops import reference

# The kernel's algorithms (csrc/cpu/quantize.cpp), forced through VAESTUDIO_NEAREST_CODE_KERNEL; "auto" is
# the op's own choice. "tiles" and "screen" give the exact nearest code; "screen" needs AVX512-BF16.
ALGORITHMS = ["auto", "register", "tiles"]
EXACT_ALGORITHMS = ["tiles", "screen"]

SHAPES = [(0, 5, 3), (1, 5, 1), (1, 67, 1031), (37, 67, 1031), (250, 64, 512), (13, 3, 7), (1000, 20, 70)]
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def exact_distances(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(N, K) squared distances in float64 of the values the kernel sees (fp16/bf16 -> fp32 is exact)."""
    x64, codes64 = x.double(), codebook.double()  # (N, D), (K, D)
    return ((x64[:, None, :] - codes64[None, :, :]) ** 2).sum(-1)  # (N, K)


def tolerance(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(N,) rounding bound of the squared-norm expansion: eps * (||x||^2 + max ||c||^2), generously."""
    unit = 1e-12 if x.dtype == torch.float64 else 1e-5
    return unit * (x.double().pow(2).sum(1) + codebook.double().pow(2).sum(1).max() + 1)  # (N,)


def assert_nearest(x: torch.Tensor, codebook: torch.Tensor, indices: torch.Tensor, sqdist: torch.Tensor) -> None:
    assert indices.dtype == torch.int64 and indices.shape == (x.shape[0],)
    assert sqdist.dtype == torch.float32 and sqdist.shape == (x.shape[0],)
    if x.shape[0] == 0:
        return
    exact = exact_distances(x, codebook)  # (N, K)
    chosen = exact.gather(1, indices[:, None]).squeeze(1)  # (N,)
    assert bool((chosen <= exact.min(1).values + tolerance(x, codebook)).all()), "a farther code was chosen"
    torch.testing.assert_close(sqdist.double(), chosen, rtol=1e-5, atol=1e-5)


def assert_same_choice(x, codebook, indices, other_indices) -> None:
    """Equal indices, except where both choices are equally near within rounding."""
    if x.shape[0] == 0:
        return
    exact = exact_distances(x, codebook)  # (N, K)
    gap = (exact.gather(1, indices[:, None]) - exact.gather(1, other_indices[:, None])).abs().squeeze(1)  # (N,)
    assert bool(((indices == other_indices) | (gap <= tolerance(x, codebook))).all())


def _cpu_has_bf16_screen() -> bool:
    """Whether this CPU has AVX512-BF16 (the screen then runs on the avx512 path unless turned off)."""
    if os.environ.get("VAESTUDIO_NEAREST_CODE_SCREEN") == "0":
        return False
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return "avx512_bf16" in cpuinfo.read()
    except OSError:
        return False


@pytest.fixture
def algorithm(request, monkeypatch, cpu_path):
    """Forces one of the kernel's algorithms for this test (the parameter), "auto" leaves the choice to it."""
    name = request.param
    if name == "screen" and not (cpu_path == "avx512" and _cpu_has_bf16_screen()):
        pytest.skip("the bf16 screen runs only on the avx512 path of a CPU with AVX512-BF16")
    monkeypatch.setenv("VAESTUDIO_NEAREST_CODE_KERNEL", name)
    return name


@pytest.mark.parametrize("algorithm", ALGORITHMS, indirect=True)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "N{}-D{}-K{}".format(*s))
def test_compiled_matches_brute_force_and_reference(compiled_ops, shape, dtype, algorithm):
    num_rows, dim, num_codes = shape
    generator = torch.Generator().manual_seed(num_rows * 7 + num_codes)
    x = torch.randn(num_rows, dim, generator=generator).to(dtype)  # (N, D)
    codebook = torch.randn(num_codes, dim, generator=generator).to(dtype)  # (K, D)
    indices, sqdist = compiled_ops.nearest_code(x, codebook)
    assert_nearest(x, codebook, indices, sqdist)
    reference_indices, reference_sqdist = reference.nearest_code_reference(x, codebook)
    assert_nearest(x, codebook, reference_indices, reference_sqdist)
    assert_same_choice(x, codebook, indices, reference_indices)


def test_public_function_runs_the_active_backend(sample_inputs):
    for x, codebook in sample_inputs("nearest_code"):
        indices, sqdist = ops.nearest_code(x, codebook)
        assert_nearest(x, codebook, indices, sqdist)


def test_non_contiguous_inputs_give_the_contiguous_result(compiled_ops, generator):
    base = torch.randn(67, 90, generator=generator)  # (D, 2N)
    wide_codebook = torch.randn(1031, 80, generator=generator)  # (K, D + 13)
    x = base.t()[::2]  # (45, 67) transposed and sliced
    codebook = wide_codebook[:, 5:72]  # (1031, 67) column slice
    assert not x.is_contiguous() and not codebook.is_contiguous()
    indices, sqdist = compiled_ops.nearest_code(x, codebook)
    expected_indices, expected_sqdist = compiled_ops.nearest_code(x.contiguous(), codebook.contiguous())
    assert torch.equal(indices, expected_indices)
    assert torch.equal(sqdist, expected_sqdist)


@pytest.mark.parametrize("algorithm", ALGORITHMS, indirect=True)
@pytest.mark.parametrize("num_distinct", [16, 40, 700])
def test_ties_go_to_the_lowest_index(compiled_ops, generator, num_distinct, algorithm):
    distinct = torch.randn(num_distinct, 9, generator=generator)  # (K, D)
    codebook = torch.cat([distinct, distinct, distinct])  # (3K, D): each code three times, K and 2K apart
    x = torch.cat([distinct, torch.randn(200, 9, generator=generator)])  # (K + 200, D), exact hits first
    indices, sqdist = compiled_ops.nearest_code(x, codebook)
    assert bool((indices < num_distinct).all()), "a later duplicate won a tie"
    first_indices, first_sqdist = compiled_ops.nearest_code(x, distinct)
    assert torch.equal(indices, first_indices) and torch.equal(sqdist, first_sqdist)
    assert torch.equal(indices[:num_distinct], torch.arange(num_distinct))
    assert bool((sqdist[:num_distinct] == 0).all())


@pytest.mark.parametrize("algorithm", EXACT_ALGORITHMS, indirect=True)
@pytest.mark.parametrize("num_rows, dim, num_codes, offset, dtype", [
    (300, 64, 8192, 0.0, torch.float32), (257, 67, 1031, 0.0, torch.float32), (100, 9, 4000, 0.0, torch.float32),
    (1, 1, 40000, 0.0, torch.float32), (400, 64, 700, 100.0, torch.float32), (200, 16, 2100, 0.0, torch.bfloat16),
    (120, 33, 1031, 0.0, torch.float16), (0, 64, 1031, 0.0, torch.float32),
])
def test_exact_algorithms_find_the_exact_nearest_code(compiled_ops, generator, num_rows, dim, num_codes, offset, dtype,
                                                      algorithm):
    """The candidates' rounding bound (bf16 screen, fp32 GEMM tiles) and the float64 re-check give the exact
    nearest code, even where the fp32 squared-norm expansion cannot tell codes apart (offset 100: norms ~800,
    gaps ~0.01), on every CPU path."""
    spread = 0.05 if offset else 1.0
    codebook = (offset + spread * torch.randn(num_codes, dim, generator=generator)).to(dtype)  # (K, D)
    x = (offset + spread * torch.randn(num_rows, dim, generator=generator)).to(dtype)  # (N, D)
    indices, sqdist = compiled_ops.nearest_code(x, codebook)
    exact = exact_distances(x, codebook)  # (N, K)
    if num_rows == 0:
        assert indices.shape == sqdist.shape == (0,)
        return
    assert torch.equal(indices, exact.argmin(1))  # argmin: the first of equal minima, as the op's ties
    torch.testing.assert_close(sqdist.double(), exact.min(1).values, rtol=1e-6, atol=0)


def test_constant_codebook_chooses_code_zero(compiled_ops, generator):
    codebook = torch.ones(1031, 5)  # (K, D) every code the same
    indices, _ = compiled_ops.nearest_code(torch.randn(100, 5, generator=generator), codebook)
    assert bool((indices == 0).all())


def test_float64_is_not_rounded_to_float32(compiled_ops):
    # Code 1 differs from code 0 by 5e-8 relative: the same number in float32, distinct in float64.
    codebook = torch.tensor([[1.0], [1.0 + 5e-8]], dtype=torch.float64).repeat(1, 4)  # (2, 4)
    x = codebook[1:].clone()  # (1, 4) exactly code 1
    assert codebook.float()[0].equal(codebook.float()[1])
    indices, _ = compiled_ops.nearest_code(x, codebook)
    assert indices.tolist() == [1]
    assert compiled_ops.nearest_code(x.float(), codebook.float())[0].tolist() == [0]  # the float32 tie
    assert reference.nearest_code_reference(x, codebook)[0].tolist() == [1]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_half_precision_accumulates_in_float32(compiled_ops, generator, dtype):
    # 2048 squared differences of size ~2 sum to ~4000: far beyond what fp16/bf16 accumulators resolve.
    x = torch.randn(6, 2048, generator=generator).to(dtype)  # (N, D)
    codebook = torch.randn(3, 2048, generator=generator).to(dtype)  # (K, D)
    indices, sqdist = compiled_ops.nearest_code(x, codebook)
    exact = exact_distances(x, codebook).gather(1, indices[:, None]).squeeze(1)  # (N,)
    torch.testing.assert_close(sqdist.double(), exact, rtol=1e-5, atol=0)


def _peak_rss_growth(function) -> int:
    """Bytes by which the resident-set high-water mark rose while function() ran (Linux clear_refs)."""

    def field(name: str) -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(name)

    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM to the current RSS
    before = field("VmRSS")
    function()
    return field("VmHWM") - before


def test_memory_stays_bounded_for_a_large_codebook(compiled_ops, generator):
    """N x K float32 would be 1 GiB here; the kernel may only add about the codebook's size."""
    x = torch.randn(4096, 16, generator=generator)  # (N, D)
    codebook = torch.randn(65536, 16, generator=generator)  # (K, D) 4 MiB
    try:
        growth = _peak_rss_growth(lambda: compiled_ops.nearest_code(x, codebook))
    except OSError as error:  # pragma: no cover - non-Linux
        pytest.skip(f"cannot reset the RSS high-water mark here: {error}")
    assert growth < 64 * 2**20, f"nearest_code grew the peak RSS by {growth / 2**20:.0f} MiB"


@pytest.mark.parametrize("algorithm", ALGORITHMS, indirect=True)
def test_opcheck(compiled_ops, sample_inputs, algorithm):
    for args in sample_inputs("nearest_code"):
        torch.library.opcheck(compiled_ops.nearest_code.default, args)


BAD_CALLS = [
    (lambda: (torch.randn(5), torch.randn(3, 5)), "x must have 2 dimensions"),
    (lambda: (torch.randn(4, 5), torch.randn(2, 3, 5)), "codebook must have 2 dimensions"),
    (lambda: (torch.ones(4, 5, dtype=torch.int64), torch.randn(3, 5)), "x must be float16"),
    (lambda: (torch.randn(4, 5), torch.randn(3, 5, dtype=torch.float64)), "codebook is"),
    (lambda: (torch.randn(4, 5), torch.randn(0, 5)), "codebook is empty"),
    (lambda: (torch.randn(4, 5), torch.randn(3, 6)), "x has D = 5 features but codebook rows have D = 6"),
]


@pytest.mark.parametrize("make_args, message", BAD_CALLS, ids=[m for _, m in BAD_CALLS])
def test_bad_inputs_fail_clearly(make_args, message):
    with pytest.raises((TypeError, ValueError), match=message):
        ops.nearest_code(*make_args())


@pytest.mark.parametrize("make_args, message", BAD_CALLS, ids=[m for _, m in BAD_CALLS])
def test_bad_inputs_fail_clearly_in_the_kernel(compiled_ops, make_args, message):
    with pytest.raises(RuntimeError, match=message):
        compiled_ops.nearest_code(*make_args())


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_inputs_are_rejected(value):
    x = torch.randn(50, 4)  # (N, D)
    x[17, 2] = value
    with pytest.raises(ValueError, match="x contains NaN or infinite"):
        ops.nearest_code(x, torch.randn(3, 4))
    with pytest.raises(ValueError, match="codebook contains NaN or infinite"):
        ops.nearest_code(torch.randn(5, 4), x)


def test_an_unknown_forced_algorithm_fails_clearly(compiled_ops, monkeypatch):
    monkeypatch.setenv("VAESTUDIO_NEAREST_CODE_KERNEL", "fastest")
    with pytest.raises(RuntimeError, match="'fastest' is not one of register, tiles, screen, auto"):
        compiled_ops.nearest_code(torch.randn(4, 3), torch.randn(5, 3))


def test_forcing_the_screen_where_it_cannot_run_fails_clearly(compiled_ops, monkeypatch, cpu_path):
    if cpu_path == "avx512" and _cpu_has_bf16_screen():
        pytest.skip("the screen runs on this path")
    monkeypatch.setenv("VAESTUDIO_NEAREST_CODE_KERNEL", "screen")
    with pytest.raises(RuntimeError, match="needs the avx512 path on a CPU with AVX512-BF16"):
        compiled_ops.nearest_code(torch.randn(4, 3), torch.randn(5, 3))
