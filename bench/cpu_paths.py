"""Run a benchmark as a CPU of one instruction-set class would: the environment of each CPU path.

On one AVX-512 machine, ``VAESTUDIO_CPU_CAPABILITY`` caps our kernels; torch's own kernels (the
baselines, the references and the sgemm limit) are capped the same way so that every ratio compares
like with like: ``ATEN_CPU_CAPABILITY`` (ATen's vectorised kernels), ``MKL_ENABLE_INSTRUCTIONS``
(MKL's GEMMs) and ``ONEDNN_MAX_CPU_ISA`` (oneDNN). faiss picks its own build at import
(``FAISS_OPT_LEVEL``). These are read when the libraries load, so each path runs in its own process.

    python -m bench.cpu_paths avx2 -- python -m bench.bench_nearest_code
"""

from __future__ import annotations

import os
import subprocess
import sys

PATH_ENVIRONMENT: dict[str, dict[str, str]] = {
    "avx512": {"VAESTUDIO_CPU_CAPABILITY": "avx512", "ATEN_CPU_CAPABILITY": "avx512",
               "MKL_ENABLE_INSTRUCTIONS": "AVX512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16",
               "FAISS_OPT_LEVEL": "avx512"},
    "avx2": {"VAESTUDIO_CPU_CAPABILITY": "avx2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
             "ONEDNN_MAX_CPU_ISA": "AVX2", "FAISS_OPT_LEVEL": "avx2"},
    "default": {"VAESTUDIO_CPU_CAPABILITY": "default", "ATEN_CPU_CAPABILITY": "default",
                "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41", "FAISS_OPT_LEVEL": "generic"},
    "neon": {"VAESTUDIO_CPU_CAPABILITY": "neon"},
}
RECORDED_VARIABLES = sorted({name for environment in PATH_ENVIRONMENT.values() for name in environment})


def environment_for(path: str) -> dict[str, str]:
    """os.environ with the variables of ``path`` set."""
    if path not in PATH_ENVIRONMENT:
        raise ValueError(f"unknown CPU path {path!r}; use one of {', '.join(PATH_ENVIRONMENT)}")
    return {**os.environ, **PATH_ENVIRONMENT[path]}


def recorded_environment() -> dict[str, str | None]:
    """The capping variables as this process sees them (for the results' machine block)."""
    return {name: os.environ.get(name) for name in RECORDED_VARIABLES}


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    return subprocess.call(argv[2:], env=environment_for(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
