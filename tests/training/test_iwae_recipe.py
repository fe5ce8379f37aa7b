"""The IWAE reproduction recipes run end to end on a small MNIST-format IDX folder, then `vaestudio eval`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.training.conftest import read_json
from vaestudio.checkpoints import load_model
from vaestudio.training import load_recipe, train

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("name, objective", [("iwae-mnist-vae", "elbo"), ("iwae-mnist-iwae50", "iwae")])
def test_the_recipe_is_the_papers_model(name, objective):
    recipe = load_recipe(os.path.join(REPOSITORY, "recipes", f"{name}.toml"))
    config = recipe.model.config
    assert (config["image_size"], config["hidden_sizes"], config["latent_dim"]) == (28, (200, 200), 50)
    assert config["activation"] == "tanh" and config["likelihood"] == "bernoulli" and config["objective"] == objective
    assert config.get("iwae_samples", 50) == 50
    assert recipe.data.options["binarize"] == "dynamic"
    training = recipe.training
    assert (training.batch_size, training.optimizer, training.eps, training.epochs) == (20, "adam", 1e-4, 3280)
    assert training.lr_schedule == "stages" and training.stage_lr_ratio == pytest.approx(10 ** (-1 / 7))
    assert recipe.evaluation.iwae_k == 5000


def test_iwae50_trains_a_few_steps_and_evaluates_with_k_50(mnist_like_folder, tmp_path):
    out = str(tmp_path / "iwae50")
    recipe = load_recipe(os.path.join(REPOSITORY, "recipes", "iwae-mnist-iwae50.toml"), [
        f"data.source=idx:{mnist_like_folder}", "training.epochs=1", "training.log_every=4",
        "training.sample_every=0", "evaluation.limit=16", "evaluation.iwae_k=50",
    ])
    result = train(recipe, out)
    assert result.step == 256 // 20
    assert load_model(out).config.objective == "iwae"
    evaluation = read_json(os.path.join(out, "metrics.json"))["evaluation"]
    assert evaluation["images"] == 16 and evaluation["iwae_k"] == 50
    command = [sys.executable, "-m", "vaestudio.cli", "eval", out, "--data", f"idx:{mnist_like_folder}",
               "--binarize", "dynamic", "--iwae-k", "50", "--limit", "32", "--batch-size", "16"]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300, cwd=REPOSITORY)
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["images"] == 32 and report["iwae_k"] == 50 and report["split"] == "test"
    assert report["iwae"] >= report["elbo"]  # the k = 50 bound is tighter than the ELBO
    assert report["nll"] == pytest.approx(-report["iwae"])
    assert report["bits_per_dim"] == pytest.approx(report["nll"] / (784 * 0.6931471805599453), rel=1e-5)
    assert 0 < report["mse"] < 1 and report["psnr"] > 0
