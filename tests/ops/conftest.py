"""Fixtures shared by the operator tests.

``compiled_ops`` guards every test of ``torch.ops.vaestudio.*``: it FAILS when the compiled
extension did not load (so a broken build can never pass as skipped tests), and skips only when
``VAESTUDIO_FORCE_REFERENCE=1`` asks for the references on purpose.

Every test of a compiled CPU operator runs once per CPU kernel path this machine can run
(``cpu_path``: avx512, avx2, default here; neon on ARM64), the path set through
``vaestudio::set_cpu_capability`` for the test and restored after it.

``sample_inputs(op_name)`` returns a list of argument tuples for an operator, shared by the
correctness tests and ``torch.library.opcheck``. Add a factory to ``SAMPLE_FACTORIES`` for a new op.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import torch

from vaestudio import ops
from vaestudio.ops import cpu_capability

# Modules whose compiled-operator tests are not run once per CPU path: the GPU's, and the path tests
# themselves (they switch paths on their own).
_PATH_INDEPENDENT_MODULES = ("test_cuda_ops", "test_cpu_capability")


def _runnable_paths() -> list[str]:
    if os.environ.get("VAESTUDIO_FORCE_REFERENCE", "0") == "1":
        return ["reference"]
    paths = cpu_capability.runnable_cpu_capabilities()
    return list(paths) if paths else ["not-compiled"]  # compiled_ops then fails and says why


def pytest_generate_tests(metafunc):
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if "compiled_ops" in metafunc.fixturenames and module not in _PATH_INDEPENDENT_MODULES:
        metafunc.parametrize("cpu_path", _runnable_paths(), indirect=True, ids=lambda path: f"cpu-{path}")


@pytest.fixture(autouse=True)
def cpu_path(request):
    """The CPU kernel path of this test (parametrised for compiled-operator tests), else None."""
    path = getattr(request, "param", None)
    if path is None or path in ("reference", "not-compiled"):
        yield None
        return
    with cpu_capability.use_cpu_capability(path):
        yield path


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _nearest_code_samples() -> list[tuple]:
    generator = _generator(1)
    samples = []
    for num_rows, dim, num_codes, dtype in [
        (0, 5, 3, torch.float32),
        (1, 5, 1, torch.float32),
        (37, 67, 1031, torch.float32),
        (25, 16, 40, torch.float64),
        (19, 8, 33, torch.float16),
        (19, 8, 33, torch.bfloat16),
    ]:
        x = torch.randn(num_rows, dim, generator=generator).to(dtype)  # (N, D)
        codebook = torch.randn(num_codes, dim, generator=generator).to(dtype)  # (K, D)
        samples.append((x, codebook))
    wide = torch.randn(40, 24, generator=generator)  # a transposed (non-contiguous) x of shape (24, 40)
    samples.append((wide.t(), torch.randn(7, 40, generator=generator)))
    return samples


def _code_stats_samples() -> list[tuple]:
    generator = _generator(2)
    samples = []
    for num_rows, dim, num_codes, dtype in [
        (0, 4, 3, torch.float32),
        (1, 3, 1, torch.float32),
        (300, 67, 1031, torch.float32),
        (50, 5, 7, torch.float64),
        (50, 5, 7, torch.bfloat16),
    ]:
        x = torch.randn(num_rows, dim, generator=generator).to(dtype)  # (N, D)
        indices = torch.randint(num_codes, (num_rows,), generator=generator)  # (N,)
        samples.append((x, indices, num_codes))
    strided = torch.randn(60, 10, generator=generator)[::2, 1:8]  # (30, 7) non-contiguous rows and columns
    samples.append((strided, torch.randint(4, (30,), generator=generator), 4))
    return samples


def _ema_update_samples() -> list[tuple]:
    generator = _generator(3)
    samples = []
    for num_codes, dim, dtype in [(1, 3, torch.float32), (37, 67, torch.float32), (9, 4, torch.float64)]:
        codebook = torch.randn(num_codes, dim, generator=generator).to(dtype)  # (K, D)
        cluster_size = torch.rand(num_codes, generator=generator).to(dtype) * 5  # (K,)
        embed_sum = torch.randn(num_codes, dim, generator=generator).to(dtype)  # (K, D)
        counts = torch.randint(0, 4, (num_codes,), generator=generator).to(dtype)  # (K,)
        sums = torch.randn(num_codes, dim, generator=generator).to(dtype)  # (K, D)
        samples.append((codebook, cluster_size, embed_sum, counts, sums, 0.9, 1e-5))
    return samples


SAMPLE_FACTORIES: dict[str, Callable[[], list[tuple]]] = {
    "nearest_code": _nearest_code_samples,
    "code_stats": _code_stats_samples,
    "ema_update_": _ema_update_samples,
}


@pytest.fixture
def sample_inputs() -> Callable[[str], list[tuple]]:
    """sample_inputs(op_name) -> fresh argument tuples for that operator."""
    return lambda op_name: SAMPLE_FACTORIES[op_name]()


@pytest.fixture
def compiled_ops():
    """torch.ops.vaestudio, failing the test when the compiled extension is missing."""
    if os.environ.get("VAESTUDIO_FORCE_REFERENCE", "0") == "1":
        pytest.skip("VAESTUDIO_FORCE_REFERENCE=1: the compiled operators are disabled on purpose")
    active = ops.backend()
    assert active.compiled, f"the compiled vaestudio operators did not load: {active.reason}"
    return torch.ops.vaestudio


@pytest.fixture
def generator() -> torch.Generator:
    return _generator(0)


def pytest_collection_modifyitems(session, config, items):
    """The tests of background compiles (background_compiles.py) run last: their compiles have the whole session."""
    compiled = [item for item in items if item.get_closest_marker("background_compile")]
    if compiled:
        moved = set(compiled)
        items[:] = [item for item in items if item not in moved] + compiled


def pytest_collection_finish(session):
    """Starts the compiles of the selected tests, in the order those tests will run."""
    from tests.ops import background_compiles

    keys = [marker.args[0] for item in session.items for marker in item.iter_markers("background_compile")]
    background_compiles.start(list(dict.fromkeys(keys)))
