"""Compiler flags of the operators' C++ build (setup.py and the portability tests share them).

No ``-march`` flag: the kernels that depend on the instruction set are compiled once per path with
target attributes and chosen at run time (csrc/cpu/capability.h), so one build runs on every CPU.
OpenMP gives ``at::parallel_for`` its threads; a compiler without it (Apple clang, clang without
libomp) still builds the operators, single-threaded.
This module imports nothing from the package, so that setup.py can load it by path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

OPENMP_PROBE = "#include <omp.h>\nint main() { return omp_get_max_threads() > 0 ? 0 : 1; }\n"


def default_compiler() -> str:
    """The C++ compiler torch's build uses: $CXX, else c++."""
    return os.environ.get("CXX", "c++")


def openmp_flags(compiler: str | None = None) -> list[str]:
    """["-fopenmp"] when ``compiler`` builds and links an OpenMP program, ["/openmp"] on MSVC, else []."""
    if sys.platform == "win32":
        return ["/openmp"]
    compiler = compiler or default_compiler()
    with tempfile.TemporaryDirectory() as folder:
        source = os.path.join(folder, "probe.cpp")
        with open(source, "w") as stream:
            stream.write(OPENMP_PROBE)
        try:
            probe = subprocess.run([*compiler.split(), "-fopenmp", source, "-o", os.path.join(folder, "probe")],
                                   capture_output=True, timeout=120)
        except (OSError, subprocess.SubprocessError):
            return []
    return ["-fopenmp"] if probe.returncode == 0 else []


def compile_flags(openmp: list[str], native: bool = False) -> list[str]:
    """Optimisation, OpenMP and (``native``: a build only for this CPU) -march=native."""
    flags = (["/O2"] if sys.platform == "win32" else ["-O3"]) + openmp
    return flags + (["-march=native"] if native else [])
