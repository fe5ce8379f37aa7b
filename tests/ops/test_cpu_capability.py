"""The CPU kernel path: detected from the CPU, capped by VAESTUDIO_CPU_CAPABILITY or set at run time,
and named by `vaestudio info`."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vaestudio.ops import cpu_capability

ROOT = Path(__file__).resolve().parents[2]


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@pytest.fixture
def capability(compiled_ops) -> cpu_capability.CpuCapability:
    current = cpu_capability.cpu_capability()
    assert current is not None
    return current


def _run_python(code: str, **environment: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **environment}
    for name in ("VAESTUDIO_CPU_CAPABILITY", "VAESTUDIO_FORCE_REFERENCE"):
        if name not in environment:
            env.pop(name, None)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


PRINT_PATH = ("from vaestudio.ops.cpu_capability import cpu_capability\n"
              "c = cpu_capability(); print(c.path); print(c.reason)")


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 detection")
def test_detection_matches_the_cpu_flags(capability):
    flags = _cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags to compare with")
    has_avx512 = {"avx512f", "avx512bw", "avx512vl", "avx512dq", "fma"} <= flags
    has_avx2 = {"avx2", "fma"} <= flags
    assert ("avx512" in capability.runnable) == has_avx512
    assert ("avx2" in capability.runnable) == has_avx2
    assert capability.runnable[-1] == "default"


def test_without_a_cap_the_best_runnable_path_runs():
    run = _run_python(PRINT_PATH)
    assert run.returncode == 0, run.stderr
    path, reason = run.stdout.splitlines()[:2]
    runnable = reason.split("runnable here: ")[1].split(")")[0].split(", ")
    assert path == runnable[0]
    assert "capped" not in reason


@pytest.mark.parametrize("asked", ["avx2", "default"])
def test_the_environment_variable_caps_the_path(capability, asked):
    if asked not in capability.runnable:
        pytest.skip(f"{asked} cannot run on this CPU")
    run = _run_python(PRINT_PATH, VAESTUDIO_CPU_CAPABILITY=asked)
    assert run.returncode == 0, run.stderr
    path, reason = run.stdout.splitlines()[:2]
    assert path == asked and f"capped by VAESTUDIO_CPU_CAPABILITY={asked}" in reason


@pytest.mark.parametrize("value, says", [("sse9", "is not one of"), ("neon" if platform.machine() == "x86_64" else
                                                                    "avx512", "cannot run here")])
def test_an_unusable_environment_value_is_ignored_and_said(capability, value, says):
    run = _run_python(PRINT_PATH, VAESTUDIO_CPU_CAPABILITY=value)
    assert run.returncode == 0, run.stderr
    path, reason = run.stdout.splitlines()[:2]
    assert path == capability.runnable[0]
    assert f"VAESTUDIO_CPU_CAPABILITY={value} {says}" in reason


def test_set_cpu_capability_switches_and_restores(capability):
    for path in capability.runnable:
        with cpu_capability.use_cpu_capability(path) as active:
            assert active.path == path == cpu_capability.cpu_capability().path
            assert f"set_cpu_capability({path})" in active.reason
    assert cpu_capability.cpu_capability().path == capability.path


@pytest.mark.parametrize("name, message", [("sse9", "is not a CPU kernel path"), ("neon", "cannot run")])
def test_set_cpu_capability_rejects_what_cannot_run(capability, name, message):
    if name in capability.runnable:
        pytest.skip(f"{name} runs here")
    with pytest.raises(RuntimeError, match=message) as error:
        cpu_capability.set_cpu_capability(name)
    assert "runnable here: " + ", ".join(capability.runnable) in str(error.value)
    assert cpu_capability.cpu_capability().path == capability.path


def test_every_path_finds_the_same_nearest_codes(capability, generator):
    """The per-path register kernels agree with each other and with the float64 nearest codes."""
    x = torch.randn(300, 24, generator=generator)  # (N, D)
    codebook = torch.randn(77, 24, generator=generator)  # (K, D)
    results = {}
    for path in capability.runnable:
        with cpu_capability.use_cpu_capability(path):
            results[path] = torch.ops.vaestudio.nearest_code(x, codebook)
    first = next(iter(results.values()))
    for path, (indices, sqdist) in results.items():
        exact = torch.cdist(x.double(), codebook.double()).argmin(1)
        assert torch.equal(indices, exact), path
        assert torch.equal(indices, first[0]) and torch.equal(sqdist, first[1]), path


def test_vaestudio_info_names_the_path_and_why(capability):
    run = subprocess.run([sys.executable, "-m", "vaestudio.cli", "info"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env={k: v for k, v in os.environ.items() if k != "VAESTUDIO_CPU_CAPABILITY"})
    assert run.returncode == 0, run.stderr
    assert f"CPU kernel path: {capability.runnable[0]}" in run.stdout
    assert "why this path: " in run.stdout and "VAESTUDIO_CPU_CAPABILITY" in run.stdout
    capped = subprocess.run([sys.executable, "-m", "vaestudio.cli", "info"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "VAESTUDIO_CPU_CAPABILITY": "default"})
    assert "CPU kernel path: default" in capped.stdout
    assert "capped by VAESTUDIO_CPU_CAPABILITY=default" in capped.stdout
