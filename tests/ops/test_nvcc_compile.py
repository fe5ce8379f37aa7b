"""Compile checks of the plain-CUDA kernel headers (csrc/cuda/*.cuh) with bare nvcc.

DESIGN: "CUDA sources are plain CUDA where possible (kernels in .cuh that include no torch
header), so nvcc can compile-check them on a machine without a CUDA build of torch". For each
header, a tiny .cu that includes it and explicitly instantiates every kernel template (through
its launchers) for every scalar type is compiled with ``nvcc -c -std=c++17`` for sm_90 (H100) and
sm_80 (A100), with the flags torch.utils.cpp_extension passes (no implicit half conversions) and
warnings as errors. Skipped only when nvcc is not installed.

The torch-facing wrappers (csrc/cuda/*.cu) need ATen's CUDA headers; where the installed torch
ships them (CPU wheels do), ``test_wrappers_compile`` compiles each one too, against minimal stand-ins
for the cuBLAS / cuSPARSE / cuSOLVER headers that a CPU-only toolkit lacks (slow: about 30 s of CPU
per file). Both run in the background from the start of the session (tests/ops/background_compiles.py).
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.ops import background_compiles
from tests.ops.background_compiles import Compile

ROOT = Path(__file__).resolve().parents[2]
CUDA_DIRECTORY = ROOT / "csrc" / "cuda"
NVCC = shutil.which("nvcc") or next(
    (path for path in ("/usr/local/cuda/bin/nvcc",) if os.access(path, os.X_OK)), None
)
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not installed (CUDA toolkit missing)")

# What torch.utils.cpp_extension adds for every .cu (COMMON_NVCC_FLAGS) and what setup.py adds.
TORCH_NVCC_DEFINES = [
    "-D__CUDA_NO_HALF_OPERATORS__",
    "-D__CUDA_NO_HALF_CONVERSIONS__",
    "-D__CUDA_NO_BFLOAT16_CONVERSIONS__",
    "-D__CUDA_NO_HALF2_OPERATORS__",
    "--expt-relaxed-constexpr",
]
ARCHITECTURES = ["-gencode", "arch=compute_90,code=sm_90", "-gencode", "arch=compute_80,code=sm_80"]
FLOATING = ["float", "double", "__half", "__nv_bfloat16"]


def _instantiations_quantize() -> str:
    lines = ["namespace vaestudio { namespace cuda { namespace quantize {"]
    for t in FLOATING:
        norm = "double" if t == "double" else "float"
        lines.append(
            f"template cudaError_t launch_nearest_code<{t}>(const {t}*, const {t}*, int64_t, int, int, {norm}*, "
            "int64_t*, float*, int, cudaStream_t);"
        )
    lines.append("}}}")
    return "\n".join(lines)


def _instantiations_codebook() -> str:
    lines = ["namespace vaestudio { namespace cuda { namespace codebook {"]
    for t in FLOATING:
        lines.append(
            f"template cudaError_t launch_code_stats_atomic<{t}>(const {t}*, const int64_t*, int64_t, int64_t, "
            "int64_t, float*, float*, cudaStream_t);"
        )
        lines.append(
            f"template cudaError_t launch_code_stats_sorted<{t}>(const {t}*, const int64_t*, const int64_t*, "
            "int64_t, int64_t, int64_t, int64_t*, float*, float*, cudaStream_t);"
        )
        for code_type in FLOATING:
            total = "double" if t == "double" else "float"
            lines.append(
                f"template cudaError_t launch_ema_update<{t}, {code_type}>({code_type}*, {t}*, {t}*, const {t}*, "
                f"const {t}*, int64_t, int64_t, double, double, {total}*, cudaStream_t);"
            )
    lines.append("}}}")
    return "\n".join(lines)


def _instantiations_pixelcnn() -> str:
    lines = ["namespace vaestudio { namespace cuda { namespace pixelcnn {"]
    for t in ("float", "double"):
        lines += [
            (
                f"template cudaError_t launch_gather_vertical_taps<{t}>(const {t}*, {t}*, int, int, int, int, int, "
                "int, int, int64_t, cudaStream_t);"
            ),
            f"template cudaError_t launch_vertical_gate<{t}>(const {t}*, {t}*, int, int, int, int, int, cudaStream_t);",
            f"template cudaError_t prepare_sample_position<{t}>(size_t);",
            (
                f"template cudaError_t launch_sample_position<{t}>(const PositionArguments<{t}>&, int, int, "
                "size_t, cudaStream_t);"
            ),
            f"template size_t position_shared_bytes<{t}>(int, int, int, int, bool);",
        ]
    lines.append("}}}")
    return "\n".join(lines)


def _instantiations_common() -> str:
    # Every conversion helper for every storage type, used from one kernel.
    body = []
    for index, t in enumerate(FLOATING):
        body.append(
            f"  {{ const {t}* in = reinterpret_cast<const {t}*>(input); {t}* out = reinterpret_cast<{t}*>(output);\n"
            f"    auto value = vaestudio::cuda::to_opmath(in[{index}]);\n"
            f"    value = vaestudio::cuda::round_to_storage<{t}>(vaestudio::cuda::exact_fma(value, value, value));\n"
            f"    value = vaestudio::cuda::exact_div(vaestudio::cuda::exact_add(value, value),"
            f" vaestudio::cuda::exact_mul(value, value));\n"
            f"    out[{index}] = vaestudio::cuda::from_opmath<{t}>(vaestudio::cuda::warp_sum(value));\n"
            f"    sums[{index}] = vaestudio::cuda::to_float(in[{index}]); }}"
        )
    return (
        "__global__ void use_every_helper(const void* input, void* output, float* sums) {\n"
        + "\n".join(body)
        + "\n}\n"
    )


HEADERS = {
    "common.cuh": _instantiations_common,
    "quantize.cuh": _instantiations_quantize,
    "codebook.cuh": _instantiations_codebook,
    "pixelcnn.cuh": _instantiations_pixelcnn,
}


def test_every_header_is_listed():
    """A new .cuh must get its instantiations here, or it would never be compile-checked."""
    assert sorted(path.name for path in CUDA_DIRECTORY.glob("*.cuh")) == sorted(HEADERS)


@pytest.mark.parametrize("header", sorted(HEADERS))
def test_header_includes_no_torch(header):
    text = (CUDA_DIRECTORY / header).read_text()
    for forbidden in ("<torch/", "<ATen/", "<c10/", '"torch_types.h"'):
        assert forbidden not in text, f"{header} includes {forbidden}: .cuh files must be plain CUDA"


def _header_compiles(output: Path) -> list[Compile]:
    """One nvcc compile per header: a .cu that includes it and instantiates every kernel template."""
    if NVCC is None:
        return []
    compiles = []
    for header in sorted(HEADERS):
        source = output / f"check_{header.replace('.', '_')}.cu"
        source.write_text(f'#include "{header}"\n\n{HEADERS[header]()}\n')
        compiles.append(Compile(header, [NVCC, "-c", "-std=c++17", *ARCHITECTURES, "-O3", "--use_fast_math",
                                         "-Werror", "all-warnings", *TORCH_NVCC_DEFINES, f"-I{CUDA_DIRECTORY}",
                                         str(source), "-o", str(source.with_suffix(".o"))]))
    return compiles


background_compiles.register("nvcc-headers", _header_compiles)


@needs_nvcc
@pytest.mark.background_compile("nvcc-headers")
@pytest.mark.parametrize("header", sorted(HEADERS))
def test_header_compiles_with_nvcc(header):
    outcome = background_compiles.results("nvcc-headers")[header]
    assert outcome.returncode == 0, f"nvcc failed on {header}:\n{outcome.output}"


# -- the torch-facing wrappers -------------------------------------------------------------------

# Minimal declarations of the CUDA math libraries that ATen/cuda/CUDAContext.h mentions, for a
# toolkit installed without them. Only compiling is checked here; nothing is linked.
LIBRARY_STUBS = {
    "cublas_v2.h": (
        "typedef enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_NOT_SUPPORTED = 15 } cublasStatus_t;\n"
        "typedef struct cublasContext* cublasHandle_t;\n"
    ),
    "cublasLt.h": "typedef struct cublasLtContext* cublasLtHandle_t;\n",
    "cusparse.h": (
        "typedef enum { CUSPARSE_STATUS_SUCCESS = 0 } cusparseStatus_t;\n"
        "typedef struct cusparseContext* cusparseHandle_t;\n"
        "inline const char* cusparseGetErrorString(cusparseStatus_t) { return \"\"; }\n"
    ),
    "cusolverDn.h": (
        "typedef enum { CUSOLVER_STATUS_SUCCESS = 0, CUSOLVER_STATUS_EXECUTION_FAILED = 6 } "
        "cusolverStatus_t;\ntypedef struct cusolverDnContext* cusolverDnHandle_t;\n"
    ),
    "cusolver_common.h": "",
    "cudss.h": "",
    "nvml.h": "",
    "c10/cuda/impl/cuda_cmake_macros.h": "#define C10_CUDA_BUILD_SHARED_LIBS\n",
}


def _torch_include() -> Path | None:
    try:
        from torch.utils.cpp_extension import include_paths
    except ImportError:
        return None
    for path in include_paths():
        if (Path(path) / "ATen" / "cuda" / "CUDAContext.h").exists():
            return Path(path)
    return None


def _toolkit_has(header: str) -> bool:
    return NVCC is not None and (Path(NVCC).resolve().parent.parent / "include" / header).exists()


def _wrapper_compiles(output: Path) -> list[Compile]:
    """One nvcc compile per csrc/cuda/*.cu, as torch would compile it (C++20, -fPIC), against stand-ins for the
    math library headers the toolkit lacks; [] where nvcc or torch's ATen CUDA headers are missing."""
    torch_include = _torch_include()
    if NVCC is None or torch_include is None:
        return []
    stubs = output / "stubs"
    for name, text in LIBRARY_STUBS.items():
        if (name.startswith("c10/") and (torch_include / name).exists()) or (
            not name.startswith("c10/") and _toolkit_has(name)
        ):
            continue  # the real header is there
        target = stubs / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("#pragma once\n" + text)
    from torch.utils.cpp_extension import include_paths

    includes = [stubs, CUDA_DIRECTORY, *map(Path, include_paths()), Path(sysconfig.get_paths()["include"])]
    # torch's own headers warn under nvcc, so warnings are not errors here; no -O: the host
    # compiler's optimiser is the slow part and checks nothing more.
    return [Compile(wrapper.name, [NVCC, "-c", "-std=c++20", "-arch=sm_90", "--use_fast_math", *TORCH_NVCC_DEFINES,
                                   "-Xcompiler", "-fPIC", "-DTORCH_EXTENSION_NAME=_C",
                                   "-DTORCH_API_INCLUDE_EXTENSION_H", *[f"-I{path}" for path in includes],
                                   str(wrapper), "-o", str(output / f"{wrapper.stem}.o")])
            for wrapper in sorted(CUDA_DIRECTORY.glob("*.cu"))]


background_compiles.register("nvcc-wrappers", _wrapper_compiles)


@needs_nvcc
@pytest.mark.slow
@pytest.mark.background_compile("nvcc-wrappers")
def test_wrappers_compile():
    """Every csrc/cuda/*.cu compiles as torch would compile it (in the background, from the session's start)."""
    if _torch_include() is None:
        pytest.skip("the installed torch ships no ATen CUDA headers")
    outcomes = background_compiles.results("nvcc-wrappers")
    assert sorted(outcomes) == sorted(path.name for path in CUDA_DIRECTORY.glob("*.cu"))
    failures = []
    for name, outcome in outcomes.items():
        if outcome.returncode != 0:
            errors = [line for line in outcome.output.splitlines() if "error" in line]
            failures.append(f"{name}:\n" + "\n".join(errors[:40] or [outcome.output[-4000:]]))
    assert not failures, "nvcc failed on the wrappers:\n" + "\n\n".join(failures)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
