"""Long compile checks run in the background: nvcc on the torch-facing CUDA wrappers, clang and the ARM64 cross
compiler on every CPU source, the plain-C++ path.

Each is minutes of compiler time and needs no Python, so it need not hold up the session. A test module registers
its compiles under a key (``register``) and marks its tests ``@pytest.mark.background_compile(KEY)``; when the
session's tests are collected (tests/ops/conftest.py) the keys of the collected tests start here, one compiler
process at a time at low priority (``nice``), on the core the other tests leave idle, and those tests are moved to
the end of the session, where ``results(KEY)`` hands them each compile's exit code and output (waiting for what
is still running). Run alone, a marked test starts its own compiles and waits for them.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

NICENESS = 10
TIMEOUT_SECONDS = 1800  # one compile


@dataclasses.dataclass(frozen=True)
class Compile:
    name: str  # what the failure message calls it, e.g. a source file's name
    command: list[str]


@dataclasses.dataclass
class Outcome:
    returncode: int
    output: str  # stdout and stderr together


_BUILDERS: dict[str, Callable[[Path], list[Compile]]] = {}
_FOLDERS: dict[str, Path] = {}
_OUTCOMES: dict[str, dict[str, Outcome]] = {}
_DONE: dict[str, threading.Event] = {}
_QUEUE: list[str] = []
_LOCK = threading.Lock()
_RUNNING: list[subprocess.Popen] = []
_worker: threading.Thread | None = None


def register(key: str, builder: Callable[[Path], list[Compile]]) -> None:
    """``builder(folder)`` lists the compiles of ``key``; their outputs go to ``folder`` (one per key)."""
    _BUILDERS[key] = builder


def folder(key: str) -> Path:
    """Where the compiles of ``key`` write their object files."""
    with _LOCK:
        if key not in _FOLDERS:
            _FOLDERS[key] = Path(tempfile.mkdtemp(prefix=f"vaestudio-compile-{key}-"))
        return _FOLDERS[key]


def start(keys: list[str]) -> None:
    """Queues the compiles of ``keys`` (those not queued yet) behind the running ones."""
    global _worker
    with _LOCK:
        for key in keys:
            if key in _BUILDERS and key not in _DONE:
                _DONE[key] = threading.Event()
                _QUEUE.append(key)
        if _worker is None and _QUEUE:
            _worker = threading.Thread(target=_work, name="background-compiles", daemon=True)
            _worker.start()


def results(key: str) -> dict[str, Outcome]:
    """name -> Outcome of every compile of ``key``, once all have ended."""
    if key not in _BUILDERS:
        raise KeyError(f"no compiles registered as {key!r}")
    start([key])
    _DONE[key].wait()
    return _OUTCOMES[key]


def _lower_priority() -> None:
    os.nice(NICENESS)


def _run(compile_: Compile) -> Outcome:
    try:
        process = subprocess.Popen(compile_.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   preexec_fn=_lower_priority)
    except OSError as error:
        return Outcome(127, f"{compile_.command[0]} could not start: {error}")
    _RUNNING.append(process)
    try:
        output, _ = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        return Outcome(124, f"timed out after {TIMEOUT_SECONDS} s\n{output}")
    finally:
        _RUNNING.remove(process)
    return Outcome(process.returncode, output)


def _work() -> None:
    while True:
        with _LOCK:
            if not _QUEUE:
                global _worker
                _worker = None
                return
            key = _QUEUE.pop(0)
        outcomes = {}
        try:
            for compile_ in _BUILDERS[key](folder(key)):
                outcomes[compile_.name] = _run(compile_)
        except Exception as error:  # a builder that fails is a failed compile, not a hung test
            outcomes["(listing the compiles)"] = Outcome(1, f"{type(error).__name__}: {error}")
        _OUTCOMES[key] = outcomes
        _DONE[key].set()


@atexit.register
def _clean_up() -> None:
    for process in list(_RUNNING):
        process.kill()
    for path in _FOLDERS.values():
        shutil.rmtree(path, ignore_errors=True)
