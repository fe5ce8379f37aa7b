"""A failed extension build never blocks the studio (the Makefile's build step, with a broken compiler).

The repository's build files and sources are copied to a temporary folder and `make build` runs there
with CXX=/bin/false: the step must succeed, print one line saying what failed and how to fix it, and
leave no compiled library behind; `make studio` must then start the studio with the JIT build off, and
the engine must run on the reference operators.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _copy_project(target: Path) -> None:
    for name in ("Makefile", "setup.py", "pyproject.toml", "requirements.txt", "requirements-dev.txt"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "csrc", target / "csrc")
    shutil.copytree(ROOT / "vaestudio", target / "vaestudio",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    stamps = target / ".make"
    stamps.mkdir()
    now = time.time()  # the environment is this one: stamps newer than their inputs, so only the build step runs
    for age, stamp in ((30, "venv"), (20, "deps"), (10, "installed")):
        (stamps / stamp).touch()
        os.utime(stamps / stamp, (now - age, now - age))


@pytest.fixture(scope="module")
def failed_build(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    project = tmp_path_factory.mktemp("project")
    _copy_project(project)
    environment = {**os.environ, "CXX": "/bin/false"}
    build = subprocess.run(["make", "build", f"PY={sys.executable}", "CXX=/bin/false"], cwd=project, env=environment,
                           capture_output=True, text=True, timeout=600)
    return project, build


def test_make_build_survives_a_compiler_failure_with_one_clear_line(failed_build):
    project, build = failed_build
    assert build.returncode == 0, build.stdout + build.stderr
    lines = [line for line in build.stdout.splitlines() if line.startswith("vaestudio:")]
    assert len(lines) == 1, build.stdout
    line = lines[0]
    assert "did not build" in line and "/bin/false" in line  # what failed
    assert "reference operators" in line  # what happens now
    assert "install a C++17 compiler" in line and "make build" in line  # how to fix it
    assert (project / ".make" / "build-failed").read_text().strip() == line
    assert not list((project / "vaestudio").glob("_C*.so")), "a compiled library was left behind"


def test_make_studio_starts_on_the_references_after_a_failed_build(failed_build):
    project, _ = failed_build
    fake_python = project / "fake-python"  # stands in for the studio: prints what it was started with
    fake_python.write_text('#!/bin/sh\necho "started: $* VAESTUDIO_NO_JIT=$VAESTUDIO_NO_JIT"\n')
    fake_python.chmod(0o755)
    studio = subprocess.run(["make", "studio", f"PY={fake_python}"], cwd=project, capture_output=True, text=True,
                            timeout=60)
    assert studio.returncode == 0, studio.stdout + studio.stderr
    assert "started: -m studio" in studio.stdout and "VAESTUDIO_NO_JIT=1" in studio.stdout
    assert "did not build" in studio.stdout  # the line is repeated where the user looks


def test_the_engine_runs_on_the_reference_operators_after_a_failed_build(failed_build):
    project, _ = failed_build
    # The test's Python may hold an editable install of another checkout, whose finder would hand out that
    # checkout's vaestudio._C: the script drops it, so that only the copied project is seen.
    script = textwrap.dedent("""
        import sys
        sys.meta_path = [finder for finder in sys.meta_path if "__editable__" not in getattr(finder, "__module__", "")
                         and "__editable__" not in getattr(type(finder), "__module__", "")]
        import warnings
        import torch
        from vaestudio import ops
        from vaestudio.models.quantizer import VectorQuantizer
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            active = ops.backend()
        print("backend", active.name)
        print("warned", any("reference operators" in str(w.message) for w in caught))
        x, codebook = torch.randn(50, 8), torch.randn(17, 8)
        indices, _ = ops.nearest_code(x, codebook)
        print("nearest", bool((indices == torch.cdist(x.double(), codebook.double()).argmin(1)).all()))
        layer = VectorQuantizer(num_codes=17, code_dim=8)
        output = layer(torch.randn(2, 8, 4, 4))
        print("quantized", tuple(output.quantized.shape))
    """)
    environment = {**os.environ, "VAESTUDIO_NO_JIT": "1", "PYTHONPATH": str(project)}
    environment.pop("VAESTUDIO_FORCE_REFERENCE", None)
    run = subprocess.run([sys.executable, "-c", script], cwd=project, env=environment, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "backend reference" in run.stdout and "warned True" in run.stdout
    assert "nearest True" in run.stdout and "quantized (2, 8, 4, 4)" in run.stdout
