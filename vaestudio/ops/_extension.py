"""Finds the compiled operators: the prebuilt ``vaestudio._C``, else a JIT build, else the references.

The order is fixed and each step says why it was skipped, so ``vaestudio info``
can tell a user exactly which backend is active:

1. ``VAESTUDIO_FORCE_REFERENCE=1`` forces the pure-PyTorch references
   (``VAESTUDIO_SKIP_PREBUILT=1`` skips step 2, ``VAESTUDIO_NO_JIT=1`` step 3).
2. The prebuilt extension (``python setup.py build_ext --inplace`` or ``pip install -e .``).
3. A JIT build of ``csrc/`` with ``torch.utils.cpp_extension.load`` (ninja, cached
   under ``VAESTUDIO_BUILD_DIR`` or ``~/.cache/vaestudio``), announced on stderr.
4. The references, with one warning.
"""

from __future__ import annotations

import dataclasses
import glob
import importlib
import os
import sys
import warnings

import torch

CSRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "csrc")


@dataclasses.dataclass(frozen=True)
class Backend:
    name: str  # "prebuilt", "jit" or "reference"
    reason: str
    cuda: bool  # whether CUDA kernels were compiled in

    @property
    def compiled(self) -> bool:
        return self.name != "reference"


_backend: Backend | None = None


def _ops_registered() -> bool:
    return hasattr(torch.ops, "vaestudio") and hasattr(torch.ops.vaestudio, "nearest_code")


def _has_cuda_kernels() -> bool:
    try:
        return torch._C._dispatch_has_kernel_for_dispatch_key("vaestudio::nearest_code", "CUDA")
    except Exception:  # noqa: BLE001  (a private torch API: any failure means "no CUDA kernels")
        return False


def _jit_build() -> None:
    from torch.utils import cpp_extension

    sources = sorted(glob.glob(os.path.join(CSRC, "*.cpp"))) + sorted(glob.glob(os.path.join(CSRC, "cpu", "*.cpp")))
    use_cuda = torch.cuda.is_available() and cpp_extension.CUDA_HOME is not None
    if use_cuda:
        sources += sorted(glob.glob(os.path.join(CSRC, "cuda", "*.cu")))
    only = os.environ.get("VAESTUDIO_JIT_ONLY")  # developer aid: "quantize,codebook" builds those stems only
    if only:
        stems = {"vaestudio", *only.split(",")}
        sources = [s for s in sources if os.path.splitext(os.path.basename(s))[0] in stems]
    build_directory = os.environ.get("VAESTUDIO_BUILD_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "vaestudio", f"torch-{torch.__version__}"
    )
    os.makedirs(build_directory, exist_ok=True)
    cached = os.path.isfile(os.path.join(build_directory, "vaestudio_jit.so"))
    print(
        f"vaestudio: {'checking the cached build of' if cached else 'building'} the C++{'/CUDA' if use_cuda else ''} "
        f"operators with ninja in {build_directory}"
        f"{'' if cached else ' (once; later imports reuse it)'}...",
        file=sys.stderr,
        flush=True,
    )
    from vaestudio.ops import build_flags

    openmp = build_flags.openmp_flags()  # the same flags as setup.py: a generic build, OpenMP where it exists
    cpp_extension.load(
        name="vaestudio_jit",
        sources=sources,
        build_directory=build_directory,
        extra_cflags=build_flags.compile_flags(openmp),
        extra_cuda_cflags=["-O3", "--use_fast_math", "-lineinfo"],
        extra_ldflags=[flag for flag in openmp if flag.startswith("-")],
        is_python_module=False,
        verbose=False,
    )


def load() -> Backend:
    """Loads the operators once and returns which backend is active and why."""
    global _backend
    if _backend is not None:
        return _backend
    if os.environ.get("VAESTUDIO_FORCE_REFERENCE", "0") == "1":
        _backend = Backend("reference", "VAESTUDIO_FORCE_REFERENCE=1 is set", False)
        return _backend
    try:
        if os.environ.get("VAESTUDIO_SKIP_PREBUILT", "0") == "1":
            raise ImportError("VAESTUDIO_SKIP_PREBUILT=1 is set")
        importlib.import_module("vaestudio._C")
        if _ops_registered():
            _backend = Backend("prebuilt", "imported the prebuilt vaestudio._C", _has_cuda_kernels())
            return _backend
        prebuilt_problem = "vaestudio._C imported but registered no operators"
    except ImportError as error:
        prebuilt_problem = f"no prebuilt vaestudio._C ({error})"
    if os.environ.get("VAESTUDIO_NO_JIT", "0") == "1":
        jit_problem = "VAESTUDIO_NO_JIT=1 is set"
    else:
        try:
            _jit_build()
            if _ops_registered():
                _backend = Backend("jit", f"{prebuilt_problem}; built with torch.utils.cpp_extension.load",
                                   _has_cuda_kernels())
                return _backend
            jit_problem = "the JIT build registered no operators"
        except Exception as error:  # noqa: BLE001  (no compiler, no ninja, a compile error: fall back)
            jit_problem = f"the JIT build failed ({type(error).__name__}: {str(error).strip().splitlines()[-1:]})"
    reason = f"{prebuilt_problem}; {jit_problem}"
    warnings.warn(
        f"vaestudio: using the pure-PyTorch reference operators (slow): {reason}. "
        "Install a C++ compiler and ninja, or run `make build`, for the fast kernels.",
        RuntimeWarning,
        stacklevel=2,
    )
    _backend = Backend("reference", reason, False)
    return _backend
