"""Builds vaestudio._C from csrc/: a CppExtension, or a CUDAExtension where torch has CUDA.

Install without build isolation so the build uses the torch already installed:
    pip install --no-build-isolation -e .

One generic build serves every CPU: the kernels that depend on the instruction set are compiled
once per path (csrc/cpu/isa_*.cpp, with target attributes) and chosen at run time
(csrc/cpu/capability.h). ``VAESTUDIO_NATIVE=1`` adds ``-march=native`` (a build only for this CPU).
OpenMP (threads for ``at::parallel_for``) is used where the compiler supports it; without it the
operators still build and run, single-threaded.
"""

import glob
import importlib.util
import os
import sys

from setuptools import setup
from torch.utils import cpp_extension


def _build_flags():
    """vaestudio/ops/build_flags.py, loaded by path (the package itself is not importable during a build)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vaestudio", "ops", "build_flags.py")
    spec = importlib.util.spec_from_file_location("vaestudio_build_flags", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def extension():
    root = os.path.dirname(os.path.abspath(__file__))
    sources = [os.path.relpath(p, root) for p in sorted(glob.glob(os.path.join(root, "csrc", "*.cpp")))]
    sources += [os.path.relpath(p, root) for p in sorted(glob.glob(os.path.join(root, "csrc", "cpu", "*.cpp")))]
    build_flags = _build_flags()
    openmp = build_flags.openmp_flags()
    if not openmp:
        print(f"vaestudio: {build_flags.default_compiler()} has no OpenMP (-fopenmp failed): the operators build "
              "without it and run single-threaded; install OpenMP (libomp, or use g++) for threads", file=sys.stderr)
    cxx_flags = build_flags.compile_flags(openmp, native=os.environ.get("VAESTUDIO_NATIVE", "0") == "1")
    link_flags = [flag for flag in openmp if flag.startswith("-")]
    with_cuda = cpp_extension.CUDA_HOME is not None and __import__("torch").version.cuda is not None
    with_cuda = with_cuda and os.environ.get("VAESTUDIO_NO_CUDA", "0") != "1"
    if with_cuda:
        sources += [os.path.relpath(p, root) for p in sorted(glob.glob(os.path.join(root, "csrc", "cuda", "*.cu")))]
        return cpp_extension.CUDAExtension(
            "vaestudio._C",
            sources,
            extra_compile_args={"cxx": cxx_flags, "nvcc": ["-O3", "--use_fast_math", "-lineinfo"]},
            extra_link_args=link_flags,
        )
    return cpp_extension.CppExtension(
        "vaestudio._C", sources, extra_compile_args={"cxx": cxx_flags}, extra_link_args=link_flags
    )


setup(
    # The Makefile installs the package with VAESTUDIO_SKIP_EXTENSION=1 and then builds the
    # extension once, in place, with `setup.py build_ext --inplace` (an editable install would
    # otherwise compile everything a second time).
    ext_modules=[] if os.environ.get("VAESTUDIO_SKIP_EXTENSION", "0") == "1" else [extension()],
    cmdclass={"build_ext": cpp_extension.BuildExtension.with_options(use_ninja=True)},
)
