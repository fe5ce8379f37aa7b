"""Lesson 2: the ELBO's two terms, reconstruction and KL, over training and across a beta sweep.

ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)). beta-VAE (Higgins et al. 2017,
https://openreview.net/forum?id=Sy2fzU9gl) weights the KL by beta; in rate-distortion terms
(Alemi et al. 2018, https://arxiv.org/abs/1711.00464) the KL is the rate, the negative
reconstruction the distortion, and raising beta buys a lower rate with a higher distortion.
"""

from __future__ import annotations

import json
import os

from vaestudio.lessons.base import Control, Figure, Lesson, LessonError
from vaestudio.lessons.cache import load_role, role_folder
from vaestudio.lessons.data import held_out
from vaestudio.lessons.figures import COLOURS, Series, beside, line_chart, stacked, tiles, titled
from vaestudio.lessons.models import BETA_ROLES
from vaestudio.lessons.vae_measures import rate_distortion, require_vae, traversal

IMAGES = 360
TRAVERSAL_ROLES = ("beta-0.5", "beta-1", "beta-4")
TRAVERSED_DIMENSIONS = 4  # the dimensions with the most KL


def training_log(role: str) -> list[dict]:
    path = os.path.join(role_folder(role), "log.jsonl")
    if not os.path.isfile(path):
        raise LessonError(f"the model of role {role!r} was shipped without its training log ({path}); ship it with "
                          "`python scripts/ship_zoo.py model RUN NAME --with-log`")
    with open(path, encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def compute(value: float) -> Figure:
    span = float(value)
    log = [entry for entry in training_log("vae") if "kl" in entry and "reconstruction" in entry]
    steps = [entry["step"] for entry in log]
    curves = line_chart(
        [Series("-reconstruction (distortion)", steps, [-entry["reconstruction"] for entry in log], COLOURS[1],
                markers=False),
         Series("KL (rate)", steps, [entry["kl"] for entry in log], COLOURS[0], markers=False),
         Series("-ELBO (the loss)", steps, [-entry["elbo"] for entry in log], COLOURS[7], markers=False)],
        title="The two terms over training (beta 1, from the run's log)", x_label="training step",
        y_label="nats per image", width=520, height=330, legend="upper")
    images, _ = held_out("vae", IMAGES)
    sweep = []
    for role in BETA_ROLES:
        model = load_role(role)
        require_vae(model, role)
        sweep.append((role, float(model.config.beta), rate_distortion(model, images)))
    points = [Series("the sweep", [m.rate for _, _, m in sweep], [m.distortion for _, _, m in sweep], COLOURS[7],
                     markers=False)]
    points += [Series(f"beta = {beta:g}", [m.rate], [m.distortion], COLOURS[index % len(COLOURS)])
               for index, (_, beta, m) in enumerate(sweep)]
    frontier = line_chart(points, title="Rate-distortion over the beta sweep (test set)", x_label="rate: KL (nats)",
                          y_label="distortion: -E log p(x|z) (nats)", width=520, height=330, legend="upper")
    grids = []
    for role in TRAVERSAL_ROLES:
        model = load_role(role)
        require_vae(model, role)
        measured = next(m for r, _, m in sweep if r == role) if role in BETA_ROLES else rate_distortion(model, images)
        order = sorted(range(len(measured.kl_per_dimension)), key=lambda d: -measured.kl_per_dimension[d])
        dimensions = order[:TRAVERSED_DIMENSIONS]
        grid = tiles(traversal(model, images[:1], dimensions, span), columns=7, pixels=32)
        kls = ", ".join(f"{measured.kl_per_dimension[d]:.2f}" for d in dimensions)
        grids.append(titled(grid, f"beta {model.config.beta:g}: KL of rows {kls}", size=12))
    numbers = {
        "traversal_span": span,
        "sweep": [{"role": role, "beta": beta, "rate": round(m.rate, 4), "distortion": round(m.distortion, 4),
                   "elbo": round(-(m.rate + m.distortion), 4), "active_dimensions": m.active_dimensions}
                  for role, beta, m in sweep],
        "training_final": {"step": steps[-1], "reconstruction": round(log[-1]["reconstruction"], 4),
                           "kl": round(log[-1]["kl"], 4)},
        "training_first": {"step": steps[0], "reconstruction": round(log[0]["reconstruction"], 4),
                           "kl": round(log[0]["kl"], 4)},
    }
    traversals = titled(beside(*grids, gap=20), f"Traversals of the 4 most informative dimensions, -{span:g} to "
                        f"+{span:g}, from test image 0's mean")
    return Figure(stacked(beside(curves, frontier), traversals), numbers)


LESSON = Lesson(
    name="elbo-terms",
    number=2,
    title="The ELBO's two terms: reconstruction vs KL, and how beta trades them",
    paragraph=(
        "The ELBO is a reconstruction term, how well z explains x, minus a KL term, how far the encoder's q(z|x) "
        "strays from the prior. Early in training the KL is nearly free and the reconstruction poor; as the "
        "decoder learns to use z, the model pays KL (information about x) for better reconstructions. "
        "Weighting the KL by beta sets the exchange rate: across the sweep below, higher beta means a lower "
        "rate (KL, nats of information in z) and a higher distortion (worse reconstructions), and the "
        "traversals show fewer dimensions doing anything. beta = 0 is a plain autoencoder. The control sets "
        "how far the traversals go."
    ),
    control=Control("Traversal span (prior standard deviations)", 0.5, 4.0, 0.5, 2.5,
                    info="each traversal row sweeps one latent dimension from -span to +span"),
    compute=compute,
    roles=("vae", *BETA_ROLES),
)
