"""A dVAE end to end from recipes: temperature and KL-weight schedules logged per step, `vaestudio eval`
metrics, a PixelCNN prior over its argmax code maps, and the code_prior bundle that samples through it."""

from __future__ import annotations

import json
import math
import os

import numpy
import pytest

from tests.training.conftest import train_recipe_text
from tests.training.test_prior import TINY_PRIOR
from tests.training.test_training_lab import log_lines
from vaestudio import hub
from vaestudio.checkpoints import Bundle, load_model, save_bundle
from vaestudio.cli import main as cli_main
from vaestudio.models.dvae import DVAEConfig
from vaestudio.pipelines.capabilities import capabilities
from vaestudio.pipelines.convert import to_pil
from vaestudio.pipelines.editing import Editor
from vaestudio.training import load_recipe, train

TINY_DVAE = """
[model]
type = "dvae"
hidden_channels = 8
residual_channels = 4
num_residual_blocks = 1
downsample_factor = 4         # 8x8 digits -> 2x2 code maps
num_codes = 16
code_dim = 4
likelihood = "bernoulli"
temperature_start = 1.0
temperature_end = 0.25
anneal_steps = 4
temperature_schedule = "cosine"
kl_weight = 0.5

[data]
source = "digits"

[training]
steps = 6
batch_size = 16
learning_rate = 1e-3
kl_warmup_steps = 4
log_every = 1
sample_every = 6
checkpoint_every = 0

[evaluation]
limit = 48
iwae_k = 2
"""

TINY_CODE_PRIOR = TINY_PRIOR.replace('condition = "text"', 'condition = "none"')  # unconditional, same size


@pytest.fixture(scope="module")
def trained_dvae(tmp_path_factory):
    return train_recipe_text(tmp_path_factory, TINY_DVAE, "dvae")


def test_every_step_logs_the_temperature_and_kl_weight_its_schedules_give(trained_dvae):
    lines = log_lines(trained_dvae)
    assert [line["step"] for line in lines] == [1, 2, 3, 4, 5, 6]
    config = DVAEConfig(temperature_start=1.0, temperature_end=0.25, anneal_steps=4, temperature_schedule="cosine")
    # step s (1-based) trains at the temperature after s - 1 steps and at KL factor (s - 1) / 4, capped at 1
    assert [line["temperature"] for line in lines] == pytest.approx([config.temperature_at(s) for s in range(6)])
    assert [line["temperature"] for line in lines][:3] == pytest.approx([1.0, 0.25 + 0.75 * (1 + math.sqrt(0.5)) / 2,
                                                                        0.625])
    assert [line["kl_weight"] for line in lines] == pytest.approx([0.0, 0.125, 0.25, 0.375, 0.5, 0.5])
    for line in lines:
        assert {"reconstruction", "kl", "bits_per_dim", "perplexity", "usage"} <= set(line)
    assert float(load_model(trained_dvae).temperature) == pytest.approx(0.25)  # saved annealed


def test_the_training_run_and_vaestudio_eval_report_the_dvae_metrics(trained_dvae, capsys):
    with open(os.path.join(trained_dvae, "metrics.json"), encoding="utf-8") as stream:
        evaluation = json.load(stream)["evaluation"]
    assert {"psnr", "elbo", "iwae", "bits_per_dim", "codebook"} <= set(evaluation)
    assert evaluation["iwae_k"] == 2 and evaluation["codebook"]["codes_counted"] == 48 * 4
    assert cli_main(["eval", trained_dvae, "--data", "digits", "--limit", "20", "--iwae-k", "4"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["model_type"] == "dvae" and printed["iwae_k"] == 4 and printed["iwae"] >= printed["elbo"] - 1e-3
    assert printed["bits_per_dim"] == pytest.approx(-printed["iwae"] / (64 * math.log(2)), rel=1e-6)  # bernoulli
    assert 1.0 <= printed["codebook"]["perplexity"] <= printed["codebook"]["used_codes"] <= 16


def test_a_prior_trains_on_the_dvae_codes_and_a_code_prior_bundle_generates(trained_dvae, write_recipe, tmp_path):
    out = str(tmp_path / "prior")
    result = train(load_recipe(write_recipe(TINY_CODE_PRIOR.format(vqvae=trained_dvae))), out)
    prior = load_model(out)
    assert prior.config.num_codes == 16 and prior.config.condition == "none"  # K from the dVAE
    assert 0 < result.metrics["evaluation"]["bits_per_code"] < 8
    assert os.path.isfile(os.path.join(out, "samples", "step-00000003-samples.png"))  # decoded by the dVAE
    dvae = load_model(trained_dvae)
    bundle_folder = str(tmp_path / "digits-dvae")
    save_bundle(bundle_folder, "code_prior", {"vqvae": dvae, "prior": prior})
    bundle = hub.load(bundle_folder)
    assert isinstance(bundle, Bundle) and bundle.kind == "code_prior"
    with open(os.path.join(bundle_folder, "metrics.json"), "w", encoding="utf-8") as stream:
        json.dump({"vqvae": {"psnr": 20.5, "seconds": 9.0}, "prior": {"bits_per_code": 3.25}}, stream)
    described = hub.describe(bundle_folder)
    assert described.family == "dVAE + PixelCNN prior" and described.kind == "code_prior"
    assert described.headline_metrics == {"vqvae.psnr": 20.5, "prior.bits_per_code": 3.25}  # by component
    editor = Editor(bundle, source="digits", sample_size=32)
    assert {"prior", "codebook", "inpaint", "encode"} <= capabilities(bundle, editor)
    assert "text_to_image" not in capabilities(bundle, editor)
    samples = editor.sample(4, seed=3)
    expected = bundle["vqvae"].decode_codes(prior.sample(4, 2, 2, 1.0, 0, 3))  # (4, 1, 8, 8)
    assert len(samples) == 4 and samples[0].size == (8, 8)
    assert all(numpy.array_equal(numpy.asarray(image), numpy.asarray(picture))
               for image, picture in zip(samples, to_pil(expected)))
