"""Each lesson's claim, checked on its numbers, and the numbers checked against an independent computation
where there is one: a test here fails if a figure drew something the models do not do."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from tests.lessons.conftest import rendered
from vaestudio.lessons import list_lessons
from vaestudio.lessons.cache import load_role
from vaestudio.lessons.data import held_out


@pytest.mark.parametrize("name", [lesson.name for lesson in list_lessons()])
def test_every_lesson_renders_a_figure_and_json_numbers(name):
    result = rendered(name)
    assert isinstance(result.figure, Image.Image) and min(result.figure.size) >= 200
    assert result.value == result.control.default
    document = json.loads(json.dumps(result.to_json()))
    assert document["numbers"] and document["name"] == name and document["models"]
    pixels = np.asarray(result.figure.convert("L"))
    assert pixels.std() > 10, "the figure is blank"


# -- 4: estimating log p(x) -------------------------------------------------------------------------------

def test_iwae_bound_rises_with_k_from_the_elbo_and_prior_sampling_lags():
    numbers = rendered("log-likelihood").numbers
    iwae, naive = numbers["iwae_bound"], numbers["naive_prior_sampling"]
    assert all(later >= earlier for earlier, later in zip(iwae, iwae[1:])), iwae
    assert iwae[0] == pytest.approx(numbers["elbo"], abs=1e-3)  # k = 1 averages the ELBO's own weights
    assert numbers["kl_q_to_true_posterior_estimate"] > 0 and iwae[-1] - iwae[0] > 0.05
    assert all(n <= i + 1e-6 for n, i in zip(naive, iwae))  # the posterior is the better proposal at every k
    assert naive[0] < iwae[0] - 5  # one prior draw explains x far worse than one posterior draw


def test_the_lessons_log_p_agrees_with_the_models_own_iwae_bound():
    numbers = rendered("log-likelihood").numbers
    model = load_role("vae")
    images, _ = held_out("vae", 100)
    bounds = model.bounds(images[:1], 5000, generator=torch.Generator().manual_seed(123))  # other draws
    assert float(bounds.iwae[0]) == pytest.approx(numbers["log_p_estimate"], abs=0.05)


# -- 3: reparameterisation --------------------------------------------------------------------------------

def test_score_function_gradients_vary_far_more_than_pathwise_ones_yet_agree_on_average():
    one = rendered("reparameterisation").numbers
    variance = one["variance"]
    assert variance["reinforce"] > 50 * variance["pathwise"]
    assert variance["pathwise"] < variance["reinforce_baseline"] < variance["reinforce"]  # a baseline helps, not enough
    assert one["means_agree_within_3_standard_errors"] > 0.95  # both unbiased for the same gradient
    sixteen = rendered("reparameterisation", 16).numbers
    assert sixteen["variance"]["pathwise"] == pytest.approx(variance["pathwise"] / 16, rel=1e-3)


# -- 2: the ELBO's terms ----------------------------------------------------------------------------------

def test_rate_falls_and_distortion_rises_as_beta_rises():
    numbers = rendered("elbo-terms").numbers
    sweep = numbers["sweep"]
    betas = [row["beta"] for row in sweep]
    assert betas == sorted(betas) and betas[0] == 0.0
    rates = [row["rate"] for row in sweep]
    distortions = [row["distortion"] for row in sweep]
    assert all(later < earlier for earlier, later in zip(rates, rates[1:])), rates
    assert all(later > earlier for earlier, later in zip(distortions, distortions[1:])), distortions
    first, final = numbers["training_first"], numbers["training_final"]
    assert final["reconstruction"] > first["reconstruction"] + 5 and final["kl"] > first["kl"]


def test_the_beta_1_rate_is_the_closed_form_kl_of_the_test_set():
    numbers = rendered("elbo-terms").numbers
    images, _ = held_out("vae", 360)
    with torch.no_grad():
        kl = float(load_role("beta-1").encode(images).kl().mean())
    (row,) = [row for row in numbers["sweep"] if row["role"] == "beta-1"]
    assert row["rate"] == pytest.approx(kl, abs=1e-3)


# -- 1: autoencoder vs VAE --------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 7])
def test_the_autoencoders_prior_samples_read_as_digits_less_often_than_the_vaes(seed):
    numbers = rendered("autoencoder-vs-vae", seed).numbers
    assert numbers["classifier_test_accuracy"] > 0.85
    autoencoder, vae = numbers["autoencoder"], numbers["vae"]
    assert vae["fraction_read_as_a_digit"] > autoencoder["fraction_read_as_a_digit"] + 0.05
    assert autoencoder["reconstruction_psnr_db"] > vae["reconstruction_psnr_db"]  # the better compressor
    assert autoencoder["code_norm_mean"] > autoencoder["prior_norm_mean"]  # its codes sit off the prior


# -- 6: CVAE ------------------------------------------------------------------------------------------------

def test_one_style_decodes_as_every_class():
    numbers = rendered("cvae").numbers
    assert numbers["mean_over_styles"] > 0.8 > 8 * numbers["chance"] - 0.01
    assert numbers["readings"] == list(range(10))  # the default style: every label read as itself


# -- 9: Gumbel-softmax --------------------------------------------------------------------------------------

def test_relaxed_samples_harden_as_the_temperature_falls():
    numbers = rendered("gumbel-softmax").numbers
    sweep = numbers["sweep"]  # temperatures falling
    weights = [row["mean_max_weight"] for row in sweep]
    sharpness = [row["psnr_to_its_hard_sample_db"] for row in sweep]
    assert all(later > earlier for earlier, later in zip(weights, weights[1:])), weights
    assert all(later > earlier for earlier, later in zip(sharpness, sharpness[1:])), sharpness
    assert weights[-1] > 0.9 and weights[0] < 0.2
    # the Gumbel-max trick samples the categorical: as close to it as direct sampling is
    assert numbers["gumbel_max_total_variation"] < numbers["direct_sampling_total_variation"] + 0.02


# -- 8: VQ-VAE ------------------------------------------------------------------------------------------------

def test_pixelcnn_codes_are_likely_and_drawable_uniform_codes_are_neither():
    numbers = rendered("vq-vae").numbers
    uniform, learned, real = numbers["uniform_prior"], numbers["PixelCNN_prior"], numbers["test_images"]
    assert learned["prior_bits_per_code"] < numbers["uniform_bits_per_code"] < uniform["prior_bits_per_code"]
    assert learned["round_trip_agreement"] > uniform["round_trip_agreement"] + 0.5
    assert real["round_trip_agreement"] > 0.5 and real["prior_bits_per_code"] < 3
    assert numbers["codes_used"] + numbers["dead_codes"] == numbers["codes"] and 1 < numbers["perplexity"]


# -- 5: latent size -------------------------------------------------------------------------------------------

def test_two_dimensions_fit_worse_and_extra_dimensions_go_unused():
    sizes = {row["latent_dim"]: row for row in rendered("latent-size").numbers["sizes"]}
    assert set(sizes) == {2, 5, 10, 20}
    assert all(sizes[2]["nll"] > sizes[size]["nll"] + 0.05 for size in (5, 10, 20))
    assert all(row["active_dimensions"] <= size for size, row in sizes.items())
    assert sizes[20]["active_dimensions"] < 10


def test_the_latent_size_nll_agrees_with_the_models_iwae_bound():
    sizes = {row["latent_dim"]: row for row in rendered("latent-size").numbers["sizes"]}
    images, _ = held_out("vae", 360)
    from vaestudio.lessons.latent_size import IWAE_K

    bound = load_role("latent-2").bounds(images, IWAE_K, generator=torch.Generator().manual_seed(5)).iwae
    assert float(-bound.mean()) == pytest.approx(sizes[2]["nll"], abs=0.05)


# -- 7: posterior collapse --------------------------------------------------------------------------------------

def test_dimensions_collapse_as_beta_rises_and_free_bits_keep_them():
    models = {row["role"]: row for row in rendered("posterior-collapse").numbers["models"]}
    active = [models[role]["active_dimensions"] for role in ("beta-0.5", "beta-1", "beta-2", "beta-4")]
    assert all(later <= earlier for earlier, later in zip(active, active[1:])) and active[-1] == 0
    cured, collapsed = models["beta-4-free-bits"], models["beta-4"]
    assert cured["beta"] == collapsed["beta"] and cured["free_bits"] > 0
    assert cured["active_dimensions"] >= 5 and cured["distortion"] < collapsed["distortion"] - 3
    for strict_row, default_row in zip(rendered("posterior-collapse", 0.3).numbers["models"], models.values()):
        assert strict_row["active_dimensions"] == sum(kl > 0.3 for kl in strict_row["kl_per_dimension_sorted"])
        assert strict_row["active_dimensions"] <= default_row["active_dimensions"]


# -- 10: text to image ---------------------------------------------------------------------------------------------

def test_reranking_raises_faithfulness_over_one_sample():
    numbers = rendered("text-to-image").numbers
    assert numbers["faithful_best_of_16"] > numbers["faithful_one_sample"]
    assert max(numbers["faithful_by_n"]) > numbers["faithful_one_sample"] + 0.1
    scores = numbers["score_of_best_by_n"]
    assert all(later >= earlier - 1e-9 for earlier, later in zip(scores, scores[1:]))
    assert numbers["faithful_one_sample"] == pytest.approx(numbers["candidates_right"], abs=1e-4)


def test_best_of_n_is_exact_over_every_subset():
    from vaestudio.lessons.text_to_image import best_of

    values = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0])  # sorted by score, best first
    for count in range(1, len(values) + 1):
        subsets = list(itertools.combinations(range(len(values)), count))
        brute = sum(values[min(subset)] for subset in subsets) / len(subsets)  # the lowest rank is the best score
        assert best_of(values, count) == pytest.approx(brute)
    assert math.isclose(best_of(values, 1), values.mean()) and best_of(values, len(values)) == values[0]
