"""The C++ operators compile beyond Linux x86-64 GCC: clang, ARM64 (cross-compiled, NEON path), and the
plain-C++ path that compilers without GCC vector extensions (MSVC) build.

What cannot run here is compile-checked against torch's own headers. `make test` installs the
compilers (Debian: clang, g++-aarch64-linux-gnu); a test is skipped only when its compiler is absent. The
compiles run in the background from the start of the session (tests/ops/background_compiles.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest
from torch.utils import cpp_extension

from tests.ops import background_compiles
from tests.ops.background_compiles import Compile
from vaestudio.ops import build_flags

ROOT = Path(__file__).resolve().parents[2]
CPU_SOURCES = sorted((ROOT / "csrc" / "cpu").glob("*.cpp"))
ALL_CPU_SOURCES = [ROOT / "csrc" / "vaestudio.cpp", *CPU_SOURCES]
INCLUDES = [f"-I{path}" for path in [*cpp_extension.include_paths(), sysconfig.get_paths()["include"]]]

pytestmark = pytest.mark.slow


def _commands(compiler: str | None, flags: list[str], sources: list[Path], output: Path) -> list[Compile]:
    """One compile per source: -fsyntax-only when ``flags`` says so, else an object file in ``output``."""
    if compiler is None:
        return []  # the test says which package to install
    compiles = []
    for source in sources:
        target = ["-fsyntax-only"] if "-fsyntax-only" in flags else ["-c", "-o", str(output / f"{source.stem}.o")]
        compiles.append(Compile(source.name, [compiler, "-std=c++17", *[f for f in flags if f != "-fsyntax-only"],
                                              *target, *INCLUDES, str(source)]))
    return compiles


def _failures(key: str) -> dict[str, str]:
    """{file name: its error lines} of the compiles of ``key`` that failed (run in the background)."""
    return {name: "\n".join(line for line in outcome.output.splitlines() if "error" in line)[:2000]
            for name, outcome in background_compiles.results(key).items() if outcome.returncode != 0}


def _require(compiler: str, package: str) -> str:
    path = shutil.which(compiler)
    if path is None:
        pytest.skip(f"{compiler} is not installed (Debian: apt-get install {package}; `make test` installs it)")
    return path


def _plain_compiler() -> str | None:
    return shutil.which(build_flags.default_compiler()) or shutil.which("g++") or shutil.which("clang++")


background_compiles.register("arm64", lambda output: _commands(
    shutil.which("aarch64-linux-gnu-g++"), ["-O2", "-fopenmp", "-fsyntax-only"], ALL_CPU_SOURCES, output))
background_compiles.register("arm64-neon", lambda output: _commands(
    shutil.which("aarch64-linux-gnu-g++"), ["-O2", "-fopenmp", "-fPIC"], [ROOT / "csrc" / "cpu" / "isa_neon.cpp"],
    output))
def _clang_compiles(output: Path) -> list[Compile]:
    """Every CPU source to an object file; -O0 (the checks are the front end's and the target attributes', which
    clang makes at any level) but the AVX2 kernel set, whose machine code is read, at -O2."""
    compiler, openmp = shutil.which("clang++"), build_flags.openmp_flags("clang++")
    avx2 = ROOT / "csrc" / "cpu" / "isa_avx2.cpp"
    return (_commands(compiler, ["-O0", "-fPIC", *openmp], [path for path in ALL_CPU_SOURCES if path != avx2], output)
            + _commands(compiler, ["-O2", "-fPIC", *openmp], [avx2], output))


background_compiles.register("clang", _clang_compiles)
background_compiles.register("plain-cxx", lambda output: _commands(
    _plain_compiler(), ["-O2", "-DVAESTUDIO_PLAIN_CXX", "-fsyntax-only"], CPU_SOURCES, output))


@pytest.mark.background_compile("arm64")
def test_arm64_cross_compile_of_every_cpu_source():
    _require("aarch64-linux-gnu-g++", "g++-aarch64-linux-gnu")
    failures = _failures("arm64")
    assert not failures, f"ARM64 compile errors: {failures}"


@pytest.mark.background_compile("arm64-neon")
def test_arm64_neon_kernel_set_compiles_to_neon_code():
    _require("aarch64-linux-gnu-g++", "g++-aarch64-linux-gnu")
    objdump = _require("aarch64-linux-gnu-objdump", "binutils-aarch64-linux-gnu")
    failures = _failures("arm64-neon")
    assert not failures, f"ARM64 compile errors: {failures}"
    disassembly = subprocess.run([objdump, "-d", "-C", str(background_compiles.folder("arm64-neon") / "isa_neon.o")],
                                 capture_output=True, text=True, check=True).stdout
    for function in ("neon::nearest_code_float", "neon::scan_dot_tile", "neon::small_gemm_float"):
        assert function in disassembly, f"{function} is missing from the NEON kernel set"
    assert "fmla" in disassembly and ".4s" in disassembly, "no NEON fused multiply-adds on 4 floats"


@pytest.mark.background_compile("clang")
def test_clang_compiles_every_cpu_source():
    _require("clang++", "clang")  # clang without libomp: no OpenMP, as setup.py decides
    failures = _failures("clang")
    assert not failures, f"clang compile errors: {failures}"
    # the avx2 kernel set is AVX2 code under clang's target attributes as well
    objdump = shutil.which("objdump")
    if objdump is not None:
        disassembly = subprocess.run([objdump, "-d", str(background_compiles.folder("clang") / "isa_avx2.o")],
                                     capture_output=True, text=True, check=True).stdout
        assert "vfmadd" in disassembly and "ymm" in disassembly and "zmm" not in disassembly


@pytest.mark.background_compile("plain-cxx")
def test_plain_cxx_path_compiles_without_vector_extensions():
    """-DVAESTUDIO_PLAIN_CXX builds what a compiler without GCC vector extensions (MSVC) gets."""
    if _plain_compiler() is None:
        pytest.skip("no C++ compiler on PATH")
    failures = _failures("plain-cxx")
    assert not failures, f"plain C++ compile errors: {failures}"


def test_openmp_probe_tells_a_compiler_without_openmp(tmp_path):
    fake = tmp_path / "no-openmp-c++"
    fake.write_text("#!/bin/sh\necho 'fatal error: omp.h: No such file or directory' >&2\nexit 1\n")
    fake.chmod(0o755)
    assert build_flags.openmp_flags(str(fake)) == []
    assert build_flags.openmp_flags(str(tmp_path / "missing-compiler")) == []
    if shutil.which("g++") is not None:
        assert build_flags.openmp_flags("g++") == ["-fopenmp"]
