"""The training lab through both engines (the FakeEngine the UI tests use, the real Engine on a tiny zoo): active
units of a VAE, a run started with new recipe settings, its live curves; refusals alike."""

from __future__ import annotations

import time

import pytest

from studio.engine import Engine
from studio.engine_api import Capability, InputError, ModelError, TrainingSettings
from studio.fake_engine import FakeEngine
from tests.studio.tiny_zoo import write_tiny_zoo

VAE_CURVES = {"loss", "reconstruction", "kl", "bound", "kl_weight"}


@pytest.fixture(scope="module", params=["fake", "real"])
def engine(request, tmp_path_factory):
    if request.param == "fake":
        return FakeEngine()
    return Engine(models_dir=write_tiny_zoo(tmp_path_factory.mktemp("zoo")), runs_dir=tmp_path_factory.mktemp("runs"))


def a_vae(engine) -> str:
    return next(info.name for info in engine.list_models() if "VAE" in info.family and not info.can(Capability.CODEBOOK)
                and info.can(Capability.ENCODE))


def not_a_vae(engine) -> str:
    return next(info.name for info in engine.list_models() if info.can(Capability.TEXT_TO_IMAGE))


def finished(engine, job_id: str, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while not engine.training_status(job_id).done:
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.1)
    return engine.training_status(job_id)


def test_a_vaes_active_units_and_kl_per_dimension(engine):
    report = engine.latent_units(a_vae(engine), 100)
    assert len(report.activity) == len(report.kl_per_dimension) >= 2
    assert report.active_units == sum(value > report.threshold for value in report.activity)
    assert report.kl == pytest.approx(sum(report.kl_per_dimension)) and "100 images" in report.measured_on


@pytest.mark.parametrize("request_units, error, message", [
    (lambda e: e.latent_units(not_a_vae(e), 100), ModelError, "no Gaussian latent"),
    (lambda e: e.latent_units("no-such-model", 100), ModelError, "no model called"),
    (lambda e: e.latent_units(a_vae(e), 1), InputError, "5000"),
    (lambda e: e.latent_units(a_vae(e), 5001), InputError, "5000"),
])
def test_latent_units_refusals_are_alike(engine, request_units, error, message):
    with pytest.raises(error, match=message):
        request_units(engine)


def test_a_run_with_new_settings_trains_them_and_shows_its_curves(engine):
    recipe = next(item for item in engine.list_recipes() if item.name == "digits-vae-2d")
    own = {setting.key: setting.value for setting in recipe.settings}
    assert own["model.latent_dim"] == 2 and "model.num_codes" not in own  # the settings a VAE recipe has
    settings = TrainingSettings(4, 16, 1e-3, 0, {"model.latent_dim": 3, "evaluation.iwae_k": 2})
    job_id = engine.start_training("digits", "digits-vae-2d", settings)
    assert finished(engine, job_id).state.value == "finished"
    curves = {curve.name: curve for curve in engine.training_curves(job_id)}
    assert VAE_CURVES <= set(curves)
    assert all(step >= 1 for step, _, _ in curves["kl"].points)
    report = engine.training_latent_units(job_id, 50)
    assert len(report.activity) == 3  # the latent size asked for, not the recipe's 2


@pytest.mark.parametrize("overrides, message", [
    ({"model.num_codes": 64}, "no .*setting"),
    ({"model.latent_dim": 0}, "must lie between 1 and 1024"),
    ({"model.free_bits": -1.0}, "must lie between 0 and 100"),
    ({"training.steps": 5}, "not a setting the Train tab edits"),
])
def test_bad_recipe_settings_are_refused_alike(engine, overrides, message):
    with pytest.raises(InputError, match=message):
        engine.start_training("digits", "digits-vae-2d", TrainingSettings(4, 16, 1e-3, 0, overrides))


def test_curves_of_an_unknown_run_are_refused(engine):
    with pytest.raises(InputError, match="no training job"):
        engine.training_curves("deadbeef")


def test_a_hosted_engine_refuses_settings_above_its_caps():
    for engine in (FakeEngine(setting_caps={"evaluation.iwae_k": 1000}),
                   Engine(models_dir="/nonexistent", setting_caps={"evaluation.iwae_k": 1000})):
        with pytest.raises(InputError, match="between 0 and 1000"):
            engine.start_training("digits", "digits-vae-2d", TrainingSettings(4, 16, 1e-3, 0,
                                                                              {"evaluation.iwae_k": 1001}))
