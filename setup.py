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
import os
import subprocess
import sys
import tempfile

from setuptools import setup
from torch.utils import cpp_extension

OPENMP_PROBE = "#include <omp.h>\nint main() { return omp_get_max_threads() > 0 ? 0 : 1; }\n"


def openmp_flags() -> list[str]:
    """The OpenMP flag of this compiler, or [] (with a note) when it has none, e.g. Apple clang."""
    if sys.platform == "win32":
        return ["/openmp"]
    compiler = os.environ.get("CXX", "c++")
    with tempfile.TemporaryDirectory() as folder:
        source = os.path.join(folder, "probe.cpp")
        with open(source, "w") as stream:
            stream.write(OPENMP_PROBE)
        try:
            probe = subprocess.run([*compiler.split(), "-fopenmp", source, "-o", os.path.join(folder, "probe")],
                                   capture_output=True, timeout=120)
            if probe.returncode == 0:
                return ["-fopenmp"]
        except (OSError, subprocess.SubprocessError):
            pass
    print(f"vaestudio: {compiler} has no OpenMP (-fopenmp failed): the operators build without it and run "
          "single-threaded; install OpenMP (e.g. `brew install libomp`, or g++) for threads", file=sys.stderr)
    return []


def extension():
    root = os.path.dirname(os.path.abspath(__file__))
    sources = [os.path.relpath(p, root) for p in sorted(glob.glob(os.path.join(root, "csrc", "*.cpp")))]
    sources += [os.path.relpath(p, root) for p in sorted(glob.glob(os.path.join(root, "csrc", "cpu", "*.cpp")))]
    openmp = openmp_flags()
    cxx_flags = (["/O2"] if sys.platform == "win32" else ["-O3"]) + openmp
    if os.environ.get("VAESTUDIO_NATIVE", "0") == "1":  # a build only for the CPU it is built on
        cxx_flags.append("-march=native")
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
