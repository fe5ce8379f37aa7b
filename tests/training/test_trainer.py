"""The trainer: what a run writes, repeatability, exact resume, stopping, progress events, bad set-ups."""

from __future__ import annotations

import json
import math
import os
import threading

import pytest
import torch
from PIL import Image

from tests.training.conftest import TINY_VAE, TINY_VQVAE, assert_bitwise_equal, read_json, read_text, weights
from vaestudio.checkpoints import load_model
from vaestudio.training import ProgressEvent, RecipeError, load_recipe, train
from vaestudio.training.checkpointing import latest_checkpoint
from vaestudio.training.progress import keep_logged_steps_up_to


def test_a_tiny_run_writes_model_card_metrics_pictures_and_checkpoints(write_recipe, tmp_path):
    out = str(tmp_path / "run")
    result = train(load_recipe(write_recipe(TINY_VAE)), out)
    assert result.step == result.total_steps == 12 and result.saved and not result.stopped_early
    model = load_model(out)  # the out folder is the model folder
    assert model.model_type == "vae" and model.config.image_size == 8 and model.config.image_channels == 1
    for name in ("README.md", "metrics.json", "recipe.toml", "log.jsonl", "loss_curve.png",
                 "samples/step-00000006-reconstructions.png", "samples/step-00000012-samples.png"):
        assert os.path.isfile(os.path.join(out, name)), name
    with Image.open(os.path.join(out, "samples/step-00000012-reconstructions.png")) as picture:
        assert picture.width >= 8 * 32  # 8 x 8 digits are enlarged to readable tiles
    metrics = read_json(os.path.join(out, "metrics.json"))
    assert metrics["training"]["steps"] == 12 and metrics["training"]["images_per_second"] > 0
    evaluation = metrics["evaluation"]
    assert evaluation["split"] == "test" and evaluation["images"] == 64 and evaluation["iwae_k"] == 8
    assert evaluation["iwae"] >= evaluation["elbo"] - 1e-3  # the IWAE bound is the tighter one
    card = read_text(os.path.join(out, "README.md"))
    for expected in ("## Data", "digits", "## Training", "command:", "torch", "## Metrics", "evaluation.iwae", "```toml"):
        assert expected in card
    assert latest_checkpoint(out).endswith("step-00000012")
    assert sorted(os.listdir(os.path.join(out, "checkpoints"))) == ["latest", "step-00000012"]  # older ones pruned
    logged = [json.loads(line) for line in read_text(os.path.join(out, "log.jsonl")).splitlines()]
    assert [entry["step"] for entry in logged] == [2, 4, 6, 8, 10, 12] and "kl" in logged[0]


def test_same_seed_same_weights_other_seed_other_weights(write_recipe, tmp_path):
    path = write_recipe(TINY_VAE)
    settings = ["training.steps=4", "evaluation.enabled=false", "training.sample_every=0"]
    runs = {}
    for name, seed in (("first", 0), ("again", 0), ("other", 1)):
        train(load_recipe(path, [*settings, f"training.seed={seed}"]), str(tmp_path / name))
        runs[name] = weights(str(tmp_path / name))
    assert_bitwise_equal(runs["first"], runs["again"])
    assert any(not runs["first"][name].equal(runs["other"][name]) for name in runs["first"])


def test_a_killed_run_resumed_matches_the_uninterrupted_run_bitwise(write_recipe, tmp_path):
    # 12 steps over 3 epochs of 5 steps; checkpoints every 4; "killed" after step 6 (last checkpoint: 4).
    path = write_recipe(TINY_VAE)
    settings = ["evaluation.enabled=false"]
    train(load_recipe(path, settings), str(tmp_path / "whole"))
    interrupted = str(tmp_path / "interrupted")
    killed = train(load_recipe(path, [*settings, "training.stop_after=6"]), interrupted)
    assert killed.step == 6 and not killed.saved and killed.stopped_early
    assert latest_checkpoint(interrupted).endswith("step-00000004")
    assert not os.path.exists(os.path.join(interrupted, "model.safetensors"))
    with pytest.raises(RecipeError, match="--resume"):
        train(load_recipe(path, settings), interrupted)
    resumed = train(load_recipe(path, settings), interrupted, resume=True)
    assert resumed.step == 12 and resumed.saved
    assert_bitwise_equal(weights(str(tmp_path / "whole")), weights(interrupted))
    whole_log = read_text(tmp_path / "whole" / "log.jsonl").splitlines()
    resumed_steps = [json.loads(line)["step"] for line in read_text(os.path.join(interrupted, "log.jsonl")).splitlines()]
    # steps 5-6 were trained twice (before the kill and after) but are logged once, as in the whole run
    assert resumed_steps == [json.loads(line)["step"] for line in whole_log] == [2, 4, 6, 8, 10, 12]


def test_resuming_drops_later_log_lines_and_a_line_the_kill_cut_off(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 2, "loss": 1.5}\n{"step": 4, "loss": 1.2}\n\n{"step": 6, "loss": 1.0}\n{"step": 8, "lo',
                   encoding="utf-8")
    keep_logged_steps_up_to(str(log), 4)
    assert [json.loads(line) for line in read_text(str(log)).splitlines()] == [{"step": 2, "loss": 1.5},
                                                                              {"step": 4, "loss": 1.2}]
    keep_logged_steps_up_to(str(tmp_path / "never-written.jsonl"), 4)  # a run killed before its first log line
    assert not (tmp_path / "never-written.jsonl").exists()


def test_stop_event_stops_early_and_still_saves(write_recipe, tmp_path):
    stop = threading.Event()
    events: list[ProgressEvent] = []

    def on_progress(event: ProgressEvent) -> None:
        events.append(event)
        if event.step >= 4:
            stop.set()

    out = str(tmp_path / "stopped")
    result = train(load_recipe(write_recipe(TINY_VAE), ["evaluation.enabled=false"]), out,
                   progress_callback=on_progress, stop_event=stop)
    assert result.stopped_early and result.saved and result.step == 5  # the step after the event was set
    assert load_model(out).model_type == "vae"
    assert read_json(os.path.join(out, "metrics.json"))["training"]["steps"] == 5
    assert [event.step for event in events] == [2, 4, 5]
    assert all(event.total_steps == 12 and event.loss == event.loss for event in events)  # finite losses
    assert events[-1].sample_grid is not None and isinstance(events[-1].sample_grid, Image.Image)
    assert "kl" in events[0].logs and events[0].images_per_second > 0


@pytest.mark.parametrize("override, message", [
    ("data.source=nowhere", r"data\.source = 'nowhere' could not be opened: unknown data source"),
    ("data.options.colour=1", r"could not be opened: .*no option"),
    ("model.body=transformer", r"\[model\] is not a valid VAEConfig: .*body"),
    ("training.batch_size=4096", r"fewer than one batch"),
])
def test_bad_set_ups_fail_before_training_with_the_recipe_named(write_recipe, tmp_path, override, message):
    path = write_recipe(TINY_VAE)
    with pytest.raises(RecipeError, match=message) as error:
        train(load_recipe(path, [override]), str(tmp_path / "bad"))
    assert path in str(error.value)


TINY_SCORER = """
[model]
type = "contrastive_scorer"   # its vocabulary comes from the data's captions
hidden_sizes = [8]
embedding_dim = 8
[model.text_encoder]
embedding_dim = 8
num_layers = 1
num_heads = 1

[data]
source = "digits"

[training]
steps = 2
batch_size = 32
sample_every = 0

[evaluation]
limit = 32
"""


def test_a_text_model_gets_its_vocabulary_from_the_captions(write_recipe, tmp_path):
    result = train(load_recipe(write_recipe(TINY_SCORER)), str(tmp_path / "scorer"))
    assert "handwritten" in result.model.config.text_encoder.vocabulary
    assert -1 <= result.metrics["evaluation"]["score"] <= 1


def test_bf16_autocast_trains(write_recipe, tmp_path):
    result = train(load_recipe(write_recipe(TINY_VAE), ["training.precision=bf16", "training.steps=2",
                                                        "evaluation.enabled=false"]), str(tmp_path / "bf16"))
    assert result.step == 2 and math.isfinite(result.metrics["training"]["final_logs"]["loss"])


def test_initialize_from_starts_a_fine_tune_from_a_model_s_weights(write_recipe, tmp_path):
    path = write_recipe(TINY_VAE)
    settings = ["training.steps=4", "evaluation.enabled=false", "training.sample_every=0"]
    start = str(tmp_path / "start")
    train(load_recipe(path, settings), start)
    frozen = str(tmp_path / "frozen")  # a vanishing learning rate: the fine-tune ends where it started
    train(load_recipe(path, [*settings, f"training.initialize_from={start!r}", "training.learning_rate=1e-12",
                             "training.seed=5"]), frozen)
    started, ended = weights(start), weights(frozen)
    assert started.keys() == ended.keys()
    for name in started:
        torch.testing.assert_close(ended[name], started[name], rtol=0, atol=1e-9)
    tuned = str(tmp_path / "tuned")
    train(load_recipe(path, [*settings, f"training.initialize_from={start!r}"]), tuned)
    first_loss = json.loads(read_text(os.path.join(tuned, "log.jsonl")).splitlines()[0])["loss"]
    scratch_loss = json.loads(read_text(os.path.join(start, "log.jsonl")).splitlines()[0])["loss"]
    assert first_loss < scratch_loss  # it goes on from the trained weights, not from a fresh init


def test_train_only_fine_tunes_a_vqvae_decoder_and_keeps_its_codes(write_recipe, tmp_path):
    path = write_recipe(TINY_VQVAE)
    settings = ["evaluation.enabled=false"]
    start = str(tmp_path / "start")
    train(load_recipe(path, settings), start)
    tuned = str(tmp_path / "tuned")
    train(load_recipe(path, [*settings, f"training.initialize_from={start!r}", "training.train_only=['decoder']",
                             "training.learning_rate=1e-2", "training.steps=6"]), tuned)
    started, ended = weights(start), weights(tuned)
    changed = {name for name in started if not torch.equal(started[name], ended[name])}
    assert changed and any(name.startswith("decoder.") for name in changed)
    # encoder, codebook and EMA state kept bit for bit; only the codebook's usage statistics count on
    assert changed - {name for name in changed if name.startswith("decoder.")} <= {"quantizer.usage_counts"}
    assert any(name.startswith(("quantizer.codebook", "quantizer.")) for name in started)
    images = torch.rand(3, 1, 8, 8)  # (B, C, H, W)
    assert torch.equal(load_model(start).encode_codes(images), load_model(tuned).encode_codes(images))
    assert "- trained only: decoder (every other part kept" in read_text(os.path.join(tuned, "README.md"))


@pytest.mark.parametrize("override, message", [
    ("training.train_only=['decoder']", r"train_only freezes the rest of a trained model; set training.initialize_from"),
    ("training.train_only=[]", r"training.train_only is empty"),
])
def test_train_only_without_a_start_or_parts_is_refused(write_recipe, override, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(write_recipe(TINY_VQVAE), [override])


@pytest.mark.parametrize("override, message", [
    ("training.train_only=['painter']", r"train_only: no submodule named \['painter'\] in \w+; its parts are"),
    ("model.latent_dim=3", r"initialize_from = .* has another config than this recipe's model \(differs in \['latent_dim'\]\)"),
    ("training.initialize_from='nowhere/at/all'", r"initialize_from = 'nowhere/at/all' could not be loaded"),
])
def test_initialize_from_a_model_that_does_not_fit_fails_clearly(write_recipe, tmp_path, override, message):
    path = write_recipe(TINY_VAE)
    settings = ["training.steps=2", "evaluation.enabled=false", "training.sample_every=0"]
    start = str(tmp_path / "start")
    train(load_recipe(path, settings), start)
    with pytest.raises(RecipeError, match=message):
        train(load_recipe(path, [*settings, f"training.initialize_from={start!r}", override]), str(tmp_path / "bad"))
