"""The C++ operators compile beyond Linux x86-64 GCC: clang, ARM64 (cross-compiled, NEON path), and the
plain-C++ path that compilers without GCC vector extensions (MSVC) build.

What cannot run here is compile-checked against torch's own headers. `make test` installs the
compilers (Debian: clang, g++-aarch64-linux-gnu); a test is skipped only when its compiler is absent.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest
from torch.utils import cpp_extension

from vaestudio.ops import build_flags

ROOT = Path(__file__).resolve().parents[2]
CPU_SOURCES = sorted((ROOT / "csrc" / "cpu").glob("*.cpp"))
ALL_CPU_SOURCES = [ROOT / "csrc" / "vaestudio.cpp", *CPU_SOURCES]
INCLUDES = [f"-I{path}" for path in [*cpp_extension.include_paths(), sysconfig.get_paths()["include"]]]

pytestmark = pytest.mark.slow


def _compile_all(compiler: list[str], flags: list[str], sources: list[Path], output: Path) -> dict[str, str]:
    """Compiles each source (2 at a time); returns {file name: diagnostics} of those that failed."""

    def one(source: Path) -> tuple[str, int, str]:
        target = ["-fsyntax-only"] if "-fsyntax-only" in flags else ["-c", "-o", str(output / f"{source.stem}.o")]
        command = [*compiler, "-std=c++17", *[f for f in flags if f != "-fsyntax-only"], *target, *INCLUDES,
                   str(source)]
        run = subprocess.run(command, capture_output=True, text=True, timeout=600)
        return source.name, run.returncode, run.stderr

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, sources))
    return {name: "\n".join(line for line in stderr.splitlines() if "error" in line)[:2000]
            for name, code, stderr in results if code != 0}


def _require(compiler: str, package: str) -> str:
    path = shutil.which(compiler)
    if path is None:
        pytest.skip(f"{compiler} is not installed (Debian: apt-get install {package}; `make test` installs it)")
    return path


def test_arm64_cross_compile_of_every_cpu_source(tmp_path):
    compiler = _require("aarch64-linux-gnu-g++", "g++-aarch64-linux-gnu")
    failures = _compile_all([compiler], ["-O2", "-fopenmp", "-fsyntax-only"], ALL_CPU_SOURCES, tmp_path)
    assert not failures, f"ARM64 compile errors: {failures}"


def test_arm64_neon_kernel_set_compiles_to_neon_code(tmp_path):
    compiler = _require("aarch64-linux-gnu-g++", "g++-aarch64-linux-gnu")
    objdump = _require("aarch64-linux-gnu-objdump", "binutils-aarch64-linux-gnu")
    failures = _compile_all([compiler], ["-O2", "-fopenmp", "-fPIC"], [ROOT / "csrc" / "cpu" / "isa_neon.cpp"], tmp_path)
    assert not failures, f"ARM64 compile errors: {failures}"
    disassembly = subprocess.run([objdump, "-d", "-C", str(tmp_path / "isa_neon.o")], capture_output=True, text=True,
                                 check=True).stdout
    for function in ("neon::nearest_code_float", "neon::scan_dot_tile", "neon::small_gemm_float"):
        assert function in disassembly, f"{function} is missing from the NEON kernel set"
    assert "fmla" in disassembly and ".4s" in disassembly, "no NEON fused multiply-adds on 4 floats"


def test_clang_compiles_every_cpu_source(tmp_path):
    compiler = _require("clang++", "clang")
    openmp = build_flags.openmp_flags("clang++")  # clang without libomp: no OpenMP, as setup.py decides
    failures = _compile_all([compiler], ["-O2", "-fPIC", *openmp], ALL_CPU_SOURCES, tmp_path)
    assert not failures, f"clang compile errors: {failures}"
    # the avx2 kernel set is AVX2 code under clang's target attributes as well
    objdump = shutil.which("objdump")
    if objdump is not None:
        disassembly = subprocess.run([objdump, "-d", str(tmp_path / "isa_avx2.o")], capture_output=True, text=True,
                                     check=True).stdout
        assert "vfmadd" in disassembly and "ymm" in disassembly and "zmm" not in disassembly


def test_plain_cxx_path_compiles_without_vector_extensions(tmp_path):
    """-DVAESTUDIO_PLAIN_CXX builds what a compiler without GCC vector extensions (MSVC) gets."""
    compiler = shutil.which(build_flags.default_compiler()) or shutil.which("g++") or shutil.which("clang++")
    if compiler is None:
        pytest.skip("no C++ compiler on PATH")
    failures = _compile_all([compiler], ["-O2", "-DVAESTUDIO_PLAIN_CXX", "-fsyntax-only"], CPU_SOURCES, tmp_path)
    assert not failures, f"plain C++ compile errors: {failures}"


def test_openmp_probe_tells_a_compiler_without_openmp(tmp_path):
    fake = tmp_path / "no-openmp-c++"
    fake.write_text("#!/bin/sh\necho 'fatal error: omp.h: No such file or directory' >&2\nexit 1\n")
    fake.chmod(0o755)
    assert build_flags.openmp_flags(str(fake)) == []
    assert build_flags.openmp_flags(str(tmp_path / "missing-compiler")) == []
    if shutil.which("g++") is not None:
        assert build_flags.openmp_flags("g++") == ["-fopenmp"]
