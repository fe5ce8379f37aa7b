"""The README is for users: short, and every Python example in it runs as written (on the shipped models);
every `vaestudio` command it shows is a real subcommand."""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

from vaestudio.cli import build_parser

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYTHON_EXAMPLES = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
SHELL_EXAMPLES = re.findall(r"```bash\n(.*?)```", README, re.DOTALL)


def test_the_readme_is_short_and_has_examples():
    assert len(README.splitlines()) < 150
    assert len(PYTHON_EXAMPLES) >= 2 and SHELL_EXAMPLES


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(PYTHON_EXAMPLES)))
def test_every_python_example_runs(index, tmp_path):
    """In a fresh interpreter, in an empty folder (examples write star.png, my-vae/ where they run)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("VAESTUDIO_PRETRAINED", None)
    run = subprocess.run([sys.executable, "-c", PYTHON_EXAMPLES[index]], check=False, cwd=tmp_path, env=environment,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"README python example {index + 1} failed:\n{run.stderr}"
    assert run.stdout.strip(), "each example prints what it shows"


def test_every_cli_command_is_a_subcommand():
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)
    shown = []
    for block in SHELL_EXAMPLES:
        for line in block.splitlines():
            words = shlex.split(line.split("  #")[0], comments=True)
            if "vaestudio" in words:
                shown.append(words[words.index("vaestudio") + 1])
            elif "vaestudio.cli" in words:
                shown.append(words[words.index("vaestudio.cli") + 1])
    assert shown and set(shown) <= subcommands, f"the README shows {set(shown) - subcommands}, which do not exist"
