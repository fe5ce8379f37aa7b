"""Lesson 5: latent size. Samples, NLL and the dimensions actually used, at latent sizes 2, 5, 10 and 20.

The same network and training at four latent sizes (recipes/digits-vae-z*.toml). The NLL is estimated
with the IWAE bound at k = 100 on the test set (cached, keyed by the weights); a dimension is active when
its mean KL exceeds 0.01 nats (Burda et al.'s activity, https://arxiv.org/abs/1509.00519).
"""

from __future__ import annotations

import torch

from vaestudio.lessons.base import Control, Figure, Lesson
from vaestudio.lessons.cache import cached, load_role
from vaestudio.lessons.data import held_out
from vaestudio.lessons.figures import COLOURS, Series, beside, line_chart, stacked, tiles, titled
from vaestudio.lessons.models import LATENT_ROLES
from vaestudio.lessons.vae_measures import rate_distortion, require_vae

IMAGES = 360
IWAE_K = 100
SHOWN = 16


def negative_log_likelihood(role: str, images: torch.Tensor) -> float:
    """-IWAE-k on ``images``, mean nats per image (cached by weights)."""
    model = load_role(role)

    def compute() -> dict:
        bounds = model.bounds(images, IWAE_K, generator=torch.Generator().manual_seed(0))
        return {"nll": float(-bounds.iwae.mean()), "negative_elbo": float(-bounds.elbo.mean())}

    return float(cached("latent-size-nll", (role,), {"images": len(images), "k": IWAE_K}, compute)["nll"])


@torch.no_grad()
def compute(value: float) -> Figure:
    seed = int(value)
    images, _ = held_out("vae", IMAGES)
    rows, panels = [], []
    for role in LATENT_ROLES:
        model = load_role(role)
        require_vae(model, role)
        measured = rate_distortion(model, images)
        size = model.config.latent_dim
        rows.append({"role": role, "latent_dim": size, "nll": round(negative_log_likelihood(role, images), 4),
                     "active_dimensions": measured.active_dimensions, "rate": round(measured.rate, 4),
                     "distortion": round(measured.distortion, 4)})
        samples = model.sample(SHOWN, generator=torch.Generator().manual_seed(seed))
        panels.append(titled(tiles(samples, columns=4, pixels=36),
                             f"{size}-D: NLL {rows[-1]['nll']:.2f}, {measured.active_dimensions} active", size=12))
    sizes = [row["latent_dim"] for row in rows]
    nll = line_chart([Series(f"NLL (IWAE-{IWAE_K}), nats", sizes, [row["nll"] for row in rows], COLOURS[0])],
                     title="Test NLL by latent size (lower is better)", x_label="latent size", y_label="nats",
                     width=400, height=280, legend="upper")
    active = line_chart([Series("active dimensions", sizes, [row["active_dimensions"] for row in rows], COLOURS[2]),
                         Series("latent size", sizes, sizes, COLOURS[7], dashed=True, markers=False)],
                        title="Dimensions the model actually uses", x_label="latent size",
                        y_label="dimensions", width=400, height=280, legend="upper")
    numbers = {"seed": seed, "iwae_k": IWAE_K, "images": IMAGES, "sizes": rows}
    return Figure(stacked(beside(*panels, gap=18), beside(nll, active)), numbers)


LESSON = Lesson(
    name="latent-size",
    number=5,
    title="Latent size: how many dimensions does the data need?",
    paragraph=(
        "A bigger latent space can describe more, but the KL term charges for every nat of information z carries. "
        "With 2 dimensions the VAE cannot say enough and its likelihood suffers; past what the data needs, "
        "the extra dimensions are left unused: their posterior stays equal to the prior (KL 0), they decode "
        "to nothing, and the likelihood stops improving. On 8x8 digits that point comes early. The figure "
        "shows prior samples and the test NLL at latent sizes 2, 5, 10 and 20, and how many dimensions each "
        "model actually uses. The control draws other samples."
    ),
    control=Control("Sample seed", 0, 99, 1, 0, info="another draw of prior samples"),
    compute=compute,
    roles=LATENT_ROLES,
)
