"""Lesson 7: posterior collapse, and free bits as its cure.

When the KL term's price is high (large beta, or a decoder that can model the data alone), the optimum
may set q(z|x) = p(z) for some or all latent dimensions: they carry no information (KL 0), and the
decoder ignores z. Free bits (Kingma et al. 2016, https://arxiv.org/abs/1606.04934) put a floor under
each dimension's KL in the loss, so collapsing a dimension below it saves nothing. The beta sweep and a
beta-4 run with free bits (recipes/digits-vae-z10-b4-free-bits.toml) show both.
"""

from __future__ import annotations

import torch

from vaestudio.lessons.base import Control, Figure, Lesson
from vaestudio.lessons.cache import load_role
from vaestudio.lessons.data import held_out
from vaestudio.lessons.figures import COLOURS, Series, bar_chart, beside, line_chart, stacked, tiles, titled
from vaestudio.lessons.vae_measures import rate_distortion, require_vae

IMAGES = 360
ROLES = ("beta-0.5", "beta-1", "beta-2", "beta-4", "beta-4-free-bits")
SHOWN = 8


def label(model) -> str:
    free_bits = getattr(model.config, "free_bits", 0.0)
    return f"beta {model.config.beta:g}" + (f" + free bits {free_bits:g}" if free_bits else "")


@torch.no_grad()
def compute(value: float) -> Figure:
    threshold = float(value)
    images, _ = held_out("vae", IMAGES)
    rows, curves, reconstructions = [], [], []
    for index, role in enumerate(ROLES):
        model = load_role(role)
        require_vae(model, role)
        measured = rate_distortion(model, images)
        ordered = sorted(measured.kl_per_dimension, reverse=True)
        active = sum(value > threshold for value in measured.kl_per_dimension)
        rows.append({"role": role, "model": label(model), "beta": float(model.config.beta),
                     "free_bits": float(getattr(model.config, "free_bits", 0.0)), "active_dimensions": active,
                     "rate": round(measured.rate, 4), "distortion": round(measured.distortion, 4),
                     "kl_per_dimension_sorted": [round(value, 4) for value in ordered]})
        curves.append(Series(label(model), list(range(1, len(ordered) + 1)), ordered, COLOURS[index % len(COLOURS)]))
        if role in ("beta-4", "beta-4-free-bits"):
            reconstructions.append(titled(tiles(model.reconstruct(images[:SHOWN]), columns=SHOWN, pixels=36),
                                          f"{label(model)}: reconstructions ({active} active dimensions)", size=12))
    kl_chart = line_chart(curves, title="KL of each latent dimension, largest first", x_label="dimension (by KL)",
                          y_label="mean KL (nats)", width=520, height=320, legend="upper")
    bars = bar_chart([row["model"].replace(" + free bits ", "+fb") .replace("beta ", "b") for row in rows],
                     [row["active_dimensions"] for row in rows], title=f"Active dimensions (KL > {threshold:g} nats)",
                     y_label="model (b: beta, fb: free bits)", width=420, height=320, value_format="{:.0f}")
    originals = titled(tiles(images[:SHOWN], columns=SHOWN, pixels=36), "test digits", size=12)
    numbers = {"activity_threshold": threshold, "images": IMAGES, "models": rows}
    return Figure(stacked(beside(kl_chart, bars), originals, *reconstructions), numbers)


LESSON = Lesson(
    name="posterior-collapse",
    number=7,
    title="Posterior collapse, and free bits as a cure",
    paragraph=(
        "A latent dimension collapses when its posterior equals the prior for every input: it carries no "
        "information, costs no KL, and the decoder learns to ignore it. Raising beta makes information in z "
        "more expensive, and dimensions collapse one by one; at beta 4 on these digits all ten have, and every "
        "reconstruction is the same average digit. Free bits change the price: each dimension's KL counts at "
        "least a floor (here 0.5 nats) in the loss, so shutting a dimension below it gains nothing, and the "
        "same beta-4 model keeps all its dimensions in use. The control sets the KL above which a dimension "
        "counts as active."
    ),
    control=Control("Activity threshold (nats)", 0.005, 0.3, 0.005, 0.01,
                    info="a dimension whose mean KL exceeds this counts as active"),
    compute=compute,
    roles=ROLES,
)
