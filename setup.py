"""Builds vaestudio._C from csrc/: a CppExtension, or a CUDAExtension where torch has CUDA.

Install without build isolation so the build uses the torch already installed:
    pip install --no-build-isolation -e .
"""

import glob
import os

from setuptools import setup
from torch.utils import cpp_extension


def extension():
    root = os.path.dirname(os.path.abspath(__file__))
    sources = [os.path.relpath(p, root) for p in sorted(glob.glob(os.path.join(root, "csrc", "*.cpp")))]
    sources += [os.path.relpath(p, root) for p in sorted(glob.glob(os.path.join(root, "csrc", "cpu", "*.cpp")))]
    cxx_flags = ["-O3", "-fopenmp"]
    if os.environ.get("VAESTUDIO_NATIVE", "0") == "1":  # built where it runs (the Makefile): use every ISA extension
        cxx_flags.append("-march=native")
    with_cuda = cpp_extension.CUDA_HOME is not None and __import__("torch").version.cuda is not None
    with_cuda = with_cuda and os.environ.get("VAESTUDIO_NO_CUDA", "0") != "1"
    if with_cuda:
        sources += [os.path.relpath(p, root) for p in sorted(glob.glob(os.path.join(root, "csrc", "cuda", "*.cu")))]
        return cpp_extension.CUDAExtension(
            "vaestudio._C",
            sources,
            extra_compile_args={"cxx": cxx_flags, "nvcc": ["-O3", "--use_fast_math", "-lineinfo"]},
            extra_link_args=["-fopenmp"],
        )
    return cpp_extension.CppExtension(
        "vaestudio._C", sources, extra_compile_args={"cxx": cxx_flags}, extra_link_args=["-fopenmp"]
    )


setup(
    # The Makefile installs the package with VAESTUDIO_SKIP_EXTENSION=1 and then builds the
    # extension once, in place, with `setup.py build_ext --inplace` (an editable install would
    # otherwise compile everything a second time).
    ext_modules=[] if os.environ.get("VAESTUDIO_SKIP_EXTENSION", "0") == "1" else [extension()],
    cmdclass={"build_ext": cpp_extension.BuildExtension.with_options(use_ninja=True)},
)
