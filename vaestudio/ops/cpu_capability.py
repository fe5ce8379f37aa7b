"""The CPU kernel path of the compiled operators (avx512, avx2, neon or default) and why.

One build carries a kernel set per instruction-set path and picks the best one the CPU runs
(csrc/cpu/capability.h). ``VAESTUDIO_CPU_CAPABILITY=avx2`` (or ``default``, ...) in the environment
caps it when the library loads; :func:`use_cpu_capability` caps it for a block of code, so one
machine can test and benchmark every path it can run.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import torch

from vaestudio.ops._extension import load

ENVIRONMENT_VARIABLE = "VAESTUDIO_CPU_CAPABILITY"


@dataclasses.dataclass(frozen=True)
class CpuCapability:
    path: str  # "avx512", "avx2", "neon" or "default"
    reason: str  # what the CPU has, what the build carries, what capped it
    runnable: tuple[str, ...]  # every path this CPU and build can run, best first

    def describe(self) -> str:
        return f"{self.path} ({self.reason})"


def _from_operator(values: list[str]) -> CpuCapability:
    path, reason, runnable = values
    return CpuCapability(path, reason, tuple(runnable.split(", ")))


def cpu_capability() -> CpuCapability | None:
    """The path the CPU kernels run now; None when the compiled operators are not loaded."""
    if not load().compiled or not hasattr(torch.ops.vaestudio, "cpu_capability"):
        return None
    return _from_operator(torch.ops.vaestudio.cpu_capability())


def runnable_cpu_capabilities() -> tuple[str, ...]:
    """Every path this machine can run, best first; () without the compiled operators."""
    current = cpu_capability()
    return current.runnable if current is not None else ()


def set_cpu_capability(path: str) -> CpuCapability:
    """Runs ``path`` from now on. Raises RuntimeError naming the runnable paths when it cannot run here."""
    if not load().compiled:
        raise RuntimeError(f"no compiled operators ({load().reason}): there is no CPU kernel path to set")
    return _from_operator(torch.ops.vaestudio.set_cpu_capability(path))


@contextlib.contextmanager
def use_cpu_capability(path: str) -> Iterator[CpuCapability]:
    """Within this block the CPU kernels run ``path``; the previous path afterwards."""
    previous = cpu_capability()
    assert previous is not None, "use_cpu_capability needs the compiled operators"
    try:
        yield set_cpu_capability(path)
    finally:
        set_cpu_capability(previous.path)
