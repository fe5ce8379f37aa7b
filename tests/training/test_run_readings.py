"""Reading a run's log.jsonl into the Train tab's curves, while it is written and after."""

from __future__ import annotations

import json

import pytest

from tests.training.conftest import TINY_VAE, TINY_VQVAE
from vaestudio.training import load_recipe, train
from vaestudio.training.run_readings import curves, read_curves, read_log


def test_a_line_being_written_and_a_missing_log_are_no_error(tmp_path):
    assert read_log(str(tmp_path)) == []  # no log.jsonl yet
    (tmp_path / "log.jsonl").write_text('{"step": 2, "loss": 1.5, "kl": 0.5}\n\n{"step": 4, "loss": 1.2, "kl"')
    assert read_log(str(tmp_path)) == [{"step": 2, "loss": 1.5, "kl": 0.5}]


def test_each_curve_holds_its_fields_by_step_and_skips_what_is_not_a_number():
    records = [{"step": 2, "loss": 3.0, "elbo": -3.0, "iwae": -2.5, "kl": 0.5, "psnr": 20.0},
               {"step": 4, "loss": 2.0, "elbo": -2.0, "iwae": float("nan"), "kl": 0.25, "kl_weight": True}]
    found = {curve.name: curve.points for curve in curves(records)}
    assert list(found) == ["loss", "kl", "bound"]  # no reconstruction, KL weight (a bool is not one) or VQ curves
    assert found["bound"] == ((2, "elbo", -3.0), (2, "iwae", -2.5), (4, "elbo", -2.0))  # NaN left out
    assert found["kl"] == ((2, "kl", 0.5), (4, "kl", 0.25))


@pytest.mark.parametrize("recipe, expected", [
    (TINY_VAE.replace("log_every = 2", "log_every = 2\nkl_warmup_steps = 8"),
     ["loss", "reconstruction", "kl", "bound", "kl_weight"]),
    (TINY_VQVAE, ["loss", "reconstruction", "commitment", "usage", "perplexity"]),
])
def test_a_real_run_gives_the_curves_of_its_model(write_recipe, tmp_path, recipe, expected):
    out = tmp_path / "run"
    train(load_recipe(write_recipe(recipe)), str(out))
    found = {curve.name: curve for curve in read_curves(str(out))}
    assert list(found) == expected
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [point[0] for point in found["loss"].points] == [line["step"] for line in logged]
    if "kl_weight" in found:  # the warm-up shows as a rising KL weight
        weights = [value for _, _, value in found["kl_weight"].points]
        assert weights == sorted(weights) and weights[0] < 1.0 == weights[-1]
