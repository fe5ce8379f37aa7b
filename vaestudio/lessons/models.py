"""The one table of which model each lesson role uses.

Switch a lesson to another model (e.g. a real-MNIST one once it is shipped) by editing this table,
or per process with ``VAESTUDIO_LESSON_MODELS='{"vae": "mnist-vae"}'``. A role's model must be of
the kind the lesson expects (the lesson says so in its error when it is not).
"""

from __future__ import annotations

import json
import os

LESSON_MODELS: dict[str, str] = {
    # Gaussian VAEs on the built-in 8x8 digits (recipes/digits-*.toml)
    "vae": "digits-vae-z10",  # the reference VAE: 10-D latent, beta 1
    "autoencoder": "digits-ae-z10",  # the same network with the KL term off (beta 0)
    "beta-0.5": "digits-vae-z10-b0.5",
    "beta-1": "digits-vae-z10",
    "beta-2": "digits-vae-z10-b2",
    "beta-4": "digits-vae-z10-b4",
    "beta-4-free-bits": "digits-vae-z10-b4-free-bits",  # beta 4 with a floor of 0.5 nats per dimension
    "latent-2": "digits-vae-z2",
    "latent-5": "digits-vae-z5",
    "latent-10": "digits-vae-z10",
    "latent-20": "digits-vae-z20",
    "cvae": "digits-cvae",  # class-conditional VAE
    # discrete codes: bundles of a VQ-VAE and a PixelCNN prior (lessons 8, 9); with a scorer too (lesson 10)
    "vq-bundle": "shapes",
    "text-to-image": "shapes",
}

BETA_ROLES = ("autoencoder", "beta-0.5", "beta-1", "beta-2", "beta-4")  # the beta sweep, beta rising
LATENT_ROLES = ("latent-2", "latent-5", "latent-10", "latent-20")
OVERRIDE_VARIABLE = "VAESTUDIO_LESSON_MODELS"


def model_for(role: str) -> str:
    """The model name (or folder) that a lesson role uses."""
    overrides = {}
    if os.environ.get(OVERRIDE_VARIABLE):
        try:
            overrides = json.loads(os.environ[OVERRIDE_VARIABLE])
        except json.JSONDecodeError as error:
            raise ValueError(f"{OVERRIDE_VARIABLE} must be a JSON object of role -> model name: {error}") from None
    if role not in LESSON_MODELS and role not in overrides:
        raise KeyError(f"no lesson role {role!r}; roles: {', '.join(LESSON_MODELS)}")
    return overrides.get(role, LESSON_MODELS.get(role))
