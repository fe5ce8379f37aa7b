"""code_stats and ema_update_: compiled kernels against the references and against first principles."""

from __future__ import annotations

import pytest
import torch

from vaestudio import ops
from vaestudio.ops import reference

STATS_SHAPES = [(0, 4, 3), (1, 3, 1), (300, 67, 1031), (5000, 64, 13), (77, 5, 2)]


def brute_force_stats(x: torch.Tensor, indices: torch.Tensor, num_codes: int):
    """counts and sums in float64 by a Python loop over codes: an oracle independent of index_add_."""
    x64 = x.double()  # (N, D)
    counts = torch.tensor([float((indices == k).sum()) for k in range(num_codes)], dtype=torch.float64)  # (K,)
    sums = torch.stack([x64[indices == k].sum(0) for k in range(num_codes)])  # (K, D)
    return counts, sums


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("shape", STATS_SHAPES, ids=lambda s: "N{}-D{}-K{}".format(*s))
def test_code_stats_matches_brute_force_and_reference(compiled_ops, shape, dtype):
    num_rows, dim, num_codes = shape
    generator = torch.Generator().manual_seed(num_rows + num_codes)
    x = torch.randn(num_rows, dim, generator=generator).to(dtype)  # (N, D)
    indices = torch.randint(num_codes, (num_rows,), generator=generator)  # (N,)
    counts, sums = compiled_ops.code_stats(x, indices, num_codes)
    assert counts.dtype == sums.dtype == torch.float32
    assert counts.shape == (num_codes,) and sums.shape == (num_codes, dim)
    expected_counts, expected_sums = brute_force_stats(x, indices, num_codes)
    assert torch.equal(counts.double(), expected_counts)
    torch.testing.assert_close(sums.double(), expected_sums, rtol=1e-5, atol=1e-4)
    reference_counts, reference_sums = reference.code_stats_reference(x, indices, num_codes)
    assert torch.equal(counts, reference_counts)
    torch.testing.assert_close(sums, reference_sums, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("num_codes", [9, 4099])  # a small sums table and one far beyond L2 (1.1 MB)
def test_code_stats_non_contiguous_inputs(compiled_ops, generator, num_codes):
    x = torch.randn(67, 400, generator=generator).t()[::2]  # (200, 67) transposed, every other row
    indices = torch.randint(num_codes, (400,), generator=generator)[1::2]  # (200,) strided
    counts, sums = compiled_ops.code_stats(x, indices, num_codes)
    expected_counts, expected_sums = compiled_ops.code_stats(x.contiguous(), indices.contiguous(), num_codes)
    assert torch.equal(counts, expected_counts) and torch.equal(sums, expected_sums)
    torch.testing.assert_close(sums.double(), brute_force_stats(x, indices, num_codes)[1], rtol=1e-5, atol=1e-4)


def test_code_stats_is_deterministic_across_thread_counts(compiled_ops, generator):
    x = torch.randn(20000, 67, generator=generator)  # (N, D)
    indices = torch.randint(3, (20000,), generator=generator)  # (N,) few codes: long summation chains
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = compiled_ops.code_stats(x, indices, 3)
        torch.set_num_threads(2)
        double = compiled_ops.code_stats(x, indices, 3)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(single[0], double[0]) and torch.equal(single[1], double[1])


def in_order_sums(x: torch.Tensor, indices: torch.Tensor, num_codes: int) -> torch.Tensor:
    """sums (K, D) in float32, each (code, column) sum built as ((0 + x[r0]) + x[r1]) + ... over the
    code's rows r0 < r1 < ...: the sequential loop's order, with no float64 anywhere. Round j adds
    every code's j-th row at once (a code has at most one j-th row, so no two adds collide)."""
    num_rows = indices.shape[0]
    order = torch.argsort(indices, stable=True)  # (N,) rows grouped by code, increasing within a code
    sorted_codes = indices[order]  # (N,)
    counts = torch.bincount(indices, minlength=num_codes)  # (K,)
    rank = torch.arange(num_rows) - (torch.cumsum(counts, 0) - counts)[sorted_codes]  # (N,) place within its code
    x32, sums = x.float(), torch.zeros(num_codes, x.shape[1])  # (N, D), (K, D)
    for j in range(int(counts.max()) if num_rows else 0):
        chosen = rank == j
        sums[sorted_codes[chosen]] += x32[order[chosen]]
    return sums


@pytest.mark.parametrize("num_rows, dim, num_codes", [(70000, 64, 8192), (70000, 131, 1031)])
def test_code_stats_by_code_is_in_row_order_whatever_the_thread_count(compiled_ops, generator, num_rows, dim,
                                                                      num_codes):
    # Sums tables far beyond L2 (2 MiB, 540 KiB): the kernel's sort-by-code path, split over threads.
    x = torch.randn(num_rows, dim, generator=generator)  # (N, D)
    indices = torch.randint(num_codes, (num_rows,), generator=generator)  # (N,)
    expected = in_order_sums(x, indices, num_codes)  # (K, D)
    # The order matters on these inputs: the same rows added last to first give other float32 sums.
    assert not torch.equal(in_order_sums(x.flip(0), indices.flip(0), num_codes), expected)
    threads = torch.get_num_threads()
    try:
        results = []
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            results.append(compiled_ops.code_stats(x, indices, num_codes))
    finally:
        torch.set_num_threads(threads)
    expected_counts = torch.bincount(indices, minlength=num_codes).float()  # (K,)
    for counts, sums in results:
        assert torch.equal(counts, expected_counts)
        assert torch.equal(sums.view(torch.int32), expected.view(torch.int32))  # bitwise


def random_ema_state(generator, num_codes=37, dim=67, dtype=torch.float32):
    codebook = torch.randn(num_codes, dim, generator=generator, dtype=dtype)  # (K, D)
    cluster_size = torch.rand(num_codes, generator=generator, dtype=dtype) * 5  # (K,)
    embed_sum = torch.randn(num_codes, dim, generator=generator, dtype=dtype)  # (K, D)
    counts = torch.randint(0, 6, (num_codes,), generator=generator).to(dtype)  # (K,)
    sums = torch.randn(num_codes, dim, generator=generator, dtype=dtype)  # (K, D)
    return codebook, cluster_size, embed_sum, counts, sums


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("num_codes, dim", [(1, 1), (37, 67), (1031, 8)])
def test_ema_update_matches_the_formula_and_reference(compiled_ops, generator, dtype, num_codes, dim):
    state = random_ema_state(generator, num_codes, dim, dtype)
    _, cluster_size, embed_sum, counts, sums = state
    decay, eps = 0.9, 1e-3
    # The formula in float64, written out independently of both implementations.
    new_size = cluster_size.double() * decay + counts.double() * (1 - decay)  # (K,)
    new_sum = embed_sum.double() * decay + sums.double() * (1 - decay)  # (K, D)
    total = new_size.sum()
    expected_codebook = new_sum / ((new_size + eps) / (total + num_codes * eps) * total)[:, None]  # (K, D)
    compiled_state = [t.clone() for t in state]
    compiled_ops.ema_update_(*compiled_state, decay, eps)
    reference_state = [t.clone() for t in state]
    reference.ema_update_reference_(*reference_state, decay, eps)
    for result in (compiled_state, reference_state):
        torch.testing.assert_close(result[1].double(), new_size, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(result[2].double(), new_sum, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(result[0].double(), expected_codebook, rtol=1e-5, atol=1e-6)
        assert torch.equal(result[3], counts) and torch.equal(result[4], sums)  # inputs untouched


def test_ema_update_with_decay_zero_gives_cluster_means(compiled_ops, generator):
    x = torch.randn(500, 6, generator=generator)  # (N, D)
    indices = torch.randint(4, (500,), generator=generator)  # (N,)
    counts, sums = compiled_ops.code_stats(x, indices, 4)
    codebook, cluster_size, embed_sum = torch.zeros(4, 6), torch.zeros(4), torch.zeros(4, 6)
    compiled_ops.ema_update_(codebook, cluster_size, embed_sum, counts, sums, 0.0, 1e-9)
    means = torch.stack([x[indices == k].mean(0) for k in range(4)])  # (K, D)
    torch.testing.assert_close(codebook, means, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("update", ["compiled", "reference"])
def test_ema_update_with_zero_total_leaves_the_codebook(compiled_ops, generator, update):
    codebook = torch.randn(5, 3, generator=generator)  # (K, D)
    original = codebook.clone()
    cluster_size, embed_sum = torch.zeros(5), torch.randn(5, 3, generator=generator)
    expected_embed_sum = embed_sum * 0.5
    function = compiled_ops.ema_update_ if update == "compiled" else reference.ema_update_reference_
    function(codebook, cluster_size, embed_sum, torch.zeros(5), torch.zeros(5, 3), 0.5, 1e-5)
    assert torch.equal(codebook, original)
    assert torch.equal(cluster_size, torch.zeros(5))
    torch.testing.assert_close(embed_sum, expected_embed_sum)


def test_ema_update_writes_into_strided_state(compiled_ops, generator):
    codebook, cluster_size, embed_sum, counts, sums = random_ema_state(generator, 9, 4)
    strided_codebook = torch.zeros(4, 9).t()  # (9, 4) a transposed, non-contiguous view
    strided_codebook.copy_(codebook)
    expected = [t.clone() for t in (codebook, cluster_size, embed_sum, counts, sums)]
    compiled_ops.ema_update_(*expected, 0.8, 1e-5)
    compiled_ops.ema_update_(strided_codebook, cluster_size, embed_sum, counts, sums, 0.8, 1e-5)
    assert torch.equal(strided_codebook, expected[0]) and torch.equal(embed_sum, expected[2])


def test_public_functions_run_the_active_backend(sample_inputs):
    for x, indices, num_codes in sample_inputs("code_stats"):
        counts, sums = ops.code_stats(x, indices, num_codes)
        expected_counts, expected_sums = brute_force_stats(x, indices, num_codes)
        assert torch.equal(counts.double(), expected_counts)
        torch.testing.assert_close(sums.double(), expected_sums, rtol=1e-5, atol=1e-4)
    for args in sample_inputs("ema_update_"):
        compiled_state, reference_state = [t.clone() for t in args[:5]], [t.clone() for t in args[:5]]
        ops.ema_update_(*compiled_state, *args[5:])
        reference.ema_update_reference_(*reference_state, *args[5:])
        for result, expected in zip(compiled_state, reference_state):
            torch.testing.assert_close(result, expected, rtol=1e-5, atol=1e-6)


def test_opcheck(compiled_ops, sample_inputs):
    for args in sample_inputs("code_stats"):
        torch.library.opcheck(compiled_ops.code_stats.default, args)
    for args in sample_inputs("ema_update_"):
        torch.library.opcheck(compiled_ops.ema_update_.default, args)


STATS_BAD_CALLS = [
    (lambda: (torch.randn(4), torch.zeros(4, dtype=torch.int64), 3), "x must have 2 dimensions"),
    (lambda: (torch.randn(4, 2), torch.zeros(4, 1, dtype=torch.int64), 3), "indices must have 1 dimension"),
    (lambda: (torch.randn(4, 2), torch.zeros(4, dtype=torch.int32), 3), "indices must be int64"),
    (lambda: (torch.randn(4, 2), torch.zeros(3, dtype=torch.int64), 3), "indices has 3 entries but x has 4 rows"),
    (lambda: (torch.randn(4, 2), torch.tensor([0, 1, 3, 0]), 3), "indices must lie in"),
    (lambda: (torch.randn(4, 2), torch.tensor([0, -1, 2, 0]), 3), "indices must lie in"),
    (lambda: (torch.randn(4, 2), torch.zeros(4, dtype=torch.int64), 0), "num_codes must be"),
    (lambda: (torch.ones(4, 2, dtype=torch.int64), torch.zeros(4, dtype=torch.int64), 3), "x must be float16"),
]


def _ema_args(**changes):
    args = {"codebook": torch.randn(5, 3), "cluster_size": torch.ones(5), "embed_sum": torch.randn(5, 3),
            "counts": torch.ones(5), "sums": torch.randn(5, 3), "decay": 0.9, "eps": 1e-5}
    args.update(changes)
    return tuple(args.values())


EMA_BAD_CALLS = [
    (lambda: _ema_args(codebook=torch.randn(5)), "codebook must have 2 dimensions"),
    (lambda: _ema_args(sums=torch.randn(4, 3)), "sums must have"),
    (lambda: _ema_args(embed_sum=torch.randn(5, 2)), "embed_sum must have"),
    (lambda: _ema_args(counts=torch.ones(6)), "counts must have"),
    (lambda: _ema_args(cluster_size=torch.ones(5, dtype=torch.float64)), "cluster_size is"),
    (lambda: _ema_args(decay=1.0), "decay must lie in"),
    (lambda: _ema_args(eps=0.0), "eps must be positive"),
]


@pytest.mark.parametrize("make_args, message", STATS_BAD_CALLS + EMA_BAD_CALLS,
                         ids=[m for _, m in STATS_BAD_CALLS + EMA_BAD_CALLS])
def test_bad_inputs_fail_clearly(make_args, message):
    args = make_args()
    function = ops.code_stats if len(args) == 3 else ops.ema_update_
    with pytest.raises((TypeError, ValueError), match=message):
        function(*args)


@pytest.mark.parametrize("make_args, message", STATS_BAD_CALLS + EMA_BAD_CALLS,
                         ids=[m for _, m in STATS_BAD_CALLS + EMA_BAD_CALLS])
def test_bad_inputs_fail_clearly_in_the_kernel(compiled_ops, make_args, message):
    args = make_args()
    function = compiled_ops.code_stats if len(args) == 3 else compiled_ops.ema_update_
    with pytest.raises(RuntimeError, match=message):
        function(*args)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("name", ["counts", "sums"])
def test_ema_update_rejects_non_finite_statistics(name, value):
    statistic = torch.ones(5) if name == "counts" else torch.randn(5, 3)
    statistic.view(-1)[3] = value
    with pytest.raises(ValueError, match=f"{name} contains NaN or infinite"):
        ops.ema_update_(*_ema_args(**{name: statistic}))


def test_ema_update_accepts_finite_statistics_whose_sum_overflows():
    # The finiteness check sums the values first; an overflowing sum must fall back to the exact test.
    sums = torch.full((5, 3), 3e38)  # (K, D) finite, but their float32 sum is inf
    ops.ema_update_(*_ema_args(sums=sums, decay=0.0))
