"""The Train and Models tabs' training lab, driven with gradio_client against the FakeEngine: the recipe's main
settings with its own help, a run started with them, live curves while it runs, the active-units panels, and
a hosted studio's caps."""

from __future__ import annotations

import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from studio import limits
from studio.fake_engine import FakeEngine
from studio.hosting import Hosting
from tests.studio.support import running_studio

SETTING_KEYS = ["model.beta", "model.latent_dim", "evaluation.iwae_k", "training.kl_warmup_steps", "model.free_bits",
                "model.num_codes"]  # the fake's recipes' settings, in the order the boxes are made


def boxes(defaults) -> dict[str, dict]:
    """/recipe_defaults' setting-box updates by key (after description, data, steps, batch, learning rate, seed)."""
    return dict(zip(SETTING_KEYS, defaults[6:]))


def wait_done(client, job_id, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, _, _ = client.predict(job_id, api_name="/train_poll")
        if "finished" in status or "stopped" in status:
            return status
        time.sleep(0.05)
    raise AssertionError("the run did not end")


def shown_curves(outputs) -> dict[str, list]:
    """/train_curves' plot updates (the timer's last) -> {title: rows} of the visible plots."""
    return {plot["label"]: plot["value"]["data"] for plot in outputs[:limits.MAX_CURVES] if plot.get("visible")}


def test_each_recipe_shows_the_settings_it_has_with_its_help(client):
    vq = boxes(client.predict("shapes-vqvae", api_name="/recipe_defaults"))
    assert [key for key, box in vq.items() if box["visible"]] == ["model.num_codes"]
    assert vq["model.num_codes"]["value"] == 1024 and vq["model.num_codes"]["info"] == "fake help for Codebook size"
    vae = boxes(client.predict("digits-vae-2d", api_name="/recipe_defaults"))
    assert [key for key, box in vae.items() if box["visible"]] == SETTING_KEYS[:5]
    assert vae["model.latent_dim"]["value"] == 2


def test_a_run_started_with_a_new_latent_size_trains_it_and_the_panel_measures_it(client):
    client.predict("digits-vae-2d", api_name="/recipe_defaults")
    job_id = client.predict("digits", "digits-vae-2d", 20, 8, 1e-3, 0, 1.0, 6, api_name="/train_start")  # latent 6
    wait_done(client, job_id)
    summary, chart = client.predict(job_id, 100, api_name="/training_units")
    assert "of 6 latent dimensions active" in summary and len(chart["data"]) == 6
    assert {row[3] for row in chart["data"]} == {"active", "collapsed"}


def test_the_boxes_of_another_recipe_are_not_sent_with_a_recipe(client):
    """An API call naming a recipe the boxes were not filled for trains the recipe's own settings."""
    client.predict("shapes-vqvae", api_name="/recipe_defaults")  # the boxes now show the VQ-VAE's
    job_id = client.predict("digits", "digits-vae-2d", 20, 8, 1e-3, 0, 1.0, 7, api_name="/train_start")
    wait_done(client, job_id)
    assert "of 2 latent dimensions" in client.predict(job_id, 100, api_name="/training_units")[0]


def test_curves_show_the_terms_of_the_bound_for_a_vae_and_the_codebook_for_a_vq_model(client):
    job_id = client.predict("digits", "digits-vae-2d", 30, 8, 1e-3, 0, api_name="/train_start")
    wait_done(client, job_id)
    vae = shown_curves(client.predict(job_id, api_name="/train_curves"))
    assert set(vae) == {"loss", "reconstruction", "kl", "bound", "kl_weight"} and len(vae["kl"]) == 30
    job_id = client.predict("shapes", "shapes-vqvae", 30, 8, 1e-3, 0, api_name="/train_start")
    wait_done(client, job_id)
    outputs = client.predict(job_id, api_name="/train_curves")
    assert set(shown_curves(outputs)) == {"loss", "commitment", "usage", "perplexity"}
    assert outputs[-1]["active"] is False  # the run is over: the curves stop refreshing


def test_curves_refresh_while_the_run_goes_and_the_units_wait_for_its_end():
    with running_studio(FakeEngine(step_delay=0.05)) as url:
        client = Client(url, verbose=False)
        job_id = client.predict("digits", "digits-vae-2d", 400, 8, 1e-3, 0, api_name="/train_start")
        time.sleep(0.5)
        first = client.predict(job_id, api_name="/train_curves")
        time.sleep(0.5)
        later = client.predict(job_id, api_name="/train_curves")
        assert first[-1]["active"] is True  # still running: the timer keeps going
        assert len(shown_curves(later)["kl"]) > len(shown_curves(first)["kl"]) > 0
        with pytest.raises(AppError, match="still going"):
            client.predict(job_id, 100, api_name="/training_units")
        client.predict(job_id, api_name="/train_stop")


def test_the_models_tab_measures_a_vae_and_says_which_models_it_can_measure(client):
    summary, chart = client.predict("fake-digits-vae", 200, api_name="/model_units")
    assert "4 of 8 latent dimensions active" in summary and "200 images" in summary and len(chart["data"]) == 8
    assert "4 dimensions above 0.1 nats" in summary  # the fake's KLs: 1, 1/2, 1/3, 1/4, then 0
    with pytest.raises(AppError, match="no Gaussian latent.*fake-digits-vae"):
        client.predict("fake-shapes-vqvae", 200, api_name="/model_units")


def test_bad_settings_are_refused_with_a_clear_message(client):
    client.predict("digits-vae-2d", api_name="/recipe_defaults")
    with pytest.raises(AppError, match="Latent size|minimum"):
        client.predict("digits", "digits-vae-2d", 20, 8, 1e-3, 0, 1.0, 0, api_name="/train_start")
    with pytest.raises(AppError, match="greater than maximum value 100"):  # free bits: at most 100 nats
        client.predict("digits", "digits-vae-2d", 20, 8, 1e-3, 0, 1.0, 2, 500, 0, 101.0, api_name="/train_start")


def test_a_hosted_studio_caps_the_importance_samples(tmp_path):
    hosting = Hosting(hosted=True, root=tmp_path / "workspaces")
    with running_studio(FakeEngine(step_delay=0.01, **hosting.engine_options()), hosting) as url:
        visitor = Client(url, verbose=False)
        vae = boxes(visitor.predict("digits-vae-2d", api_name="/recipe_defaults"))
        assert "at most 1000 in this hosted studio" in vae["evaluation.iwae_k"]["info"]
        with pytest.raises(AppError, match="1000"):
            visitor.predict("digits", "digits-vae-2d", 20, 8, 1e-3, 0, 1.0, 2, 1001, api_name="/train_start")
        job_id = visitor.predict("digits", "digits-vae-2d", 20, 8, 1e-3, 0, 1.0, 2, 1000, api_name="/train_start")
        stranger = Client(url, verbose=False)
        for endpoint, arguments in (("/train_curves", (job_id,)), ("/training_units", (job_id, 100))):
            with pytest.raises(AppError, match="no training job .* of yours"):  # a visitor sees only their runs
                stranger.predict(*arguments, api_name=endpoint)
