"""`vaestudio train` and `vaestudio eval` as a user runs them: help, a tiny run, a SIGKILL and --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.training.conftest import TINY_VAE, assert_bitwise_equal, read_text, weights
from vaestudio.training import load_recipe, train
from vaestudio.training.checkpointing import latest_checkpoint

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LONGER = ["training.steps=400", "training.batch_size=16", "training.checkpoint_every=25", "training.log_every=50",
          "training.sample_every=0", "evaluation.enabled=false"]


def vaestudio(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vaestudio.cli", *arguments], capture_output=True, text=True, check=False,
                          timeout=timeout, cwd=REPOSITORY)


def test_help_describes_train_and_eval():
    train_help = vaestudio("train", "--help")
    assert train_help.returncode == 0
    for option in ("--set", "--out", "--resume", "torchrun"):
        assert option in train_help.stdout
    eval_help = vaestudio("eval", "--help")
    assert eval_help.returncode == 0
    for option in ("--data", "--split", "--iwae-k", "--batch-size", "--limit"):
        assert option in eval_help.stdout


def test_a_bad_recipe_is_one_clear_line(write_recipe):
    completed = vaestudio("train", write_recipe(TINY_VAE), "--set", "training.stepz=3")
    assert completed.returncode == 2
    assert "error:" in completed.stderr and "training.stepz is not a recipe key" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_sigkill_after_a_checkpoint_then_resume_matches_an_uninterrupted_run(write_recipe, tmp_path, tiny_idx_folder):
    path = write_recipe(TINY_VAE)
    out = str(tmp_path / "killed")
    settings = [*LONGER, f"data.source=idx:{tiny_idx_folder}"]  # 64 images: 4 steps an epoch
    overrides = [argument for key in settings for argument in ("--set", key)]
    command = [sys.executable, "-m", "vaestudio.cli", "train", path, "--out", out, "--quiet", *overrides]
    process = subprocess.Popen(command, cwd=REPOSITORY, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while latest_checkpoint(out) is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    checkpoint = latest_checkpoint(out)
    assert checkpoint is not None, process.stderr.read().decode()
    assert int(checkpoint.rsplit("-", 1)[1]) < 400, "the run ended before it could be killed"
    resumed = vaestudio("train", path, "--out", out, "--quiet", "--resume", *overrides)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["steps"] == 400
    whole = str(tmp_path / "whole")
    train(load_recipe(path, settings), whole)
    assert_bitwise_equal(weights(whole), weights(out))
    card = read_text(os.path.join(out, "README.md"))
    assert "--resume" in card  # the card quotes the exact command


def test_the_cli_offers_every_subcommand_it_promises():
    """The first line of cli.py's docstring (what `vaestudio --help` shows) names exactly the subcommands."""
    import re

    from vaestudio import cli

    promised = set(re.match(r"`vaestudio ([a-z |]+)`", cli.__doc__).group(1).replace(" ", "").split("|"))
    assert promised == set(cli.build_parser()._subparsers._group_actions[0].choices)
