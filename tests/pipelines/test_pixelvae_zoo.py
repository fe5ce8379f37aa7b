"""The shipped PixelVAE study: trained plainly the PixelCNN decoder ignores z (posterior collapse); free bits keep
every latent dimension in use. Measured again here on held-out MNIST, not read from the cards (where MNIST is not
installed, on the 100 test digits shipped in the package)."""

from __future__ import annotations

import pytest

from vaestudio import hub
from vaestudio.evaluation.latent_units import measure_latent_units

INFORMATIVE_NATS = 0.1  # a dimension whose mean KL is above this carries information


@pytest.fixture(scope="module")
def measured():
    return {name: measure_latent_units(hub.load(name), num_images=200)
            for name in ("mnist-pixelvae-plain", "mnist-pixelvae-free-bits", "mnist-pixelvae-warmup")}


def informative(result) -> int:
    return sum(value > INFORMATIVE_NATS for value in result["kl_per_dimension"])


def test_the_plain_pixelvae_has_collapsed(measured):
    plain = measured["mnist-pixelvae-plain"]
    assert plain["kl"] < 1.5 and informative(plain) <= 2  # 16 dimensions, almost no information


def test_free_bits_keep_every_dimension_and_the_warm_up_keeps_more_than_plain(measured):
    free_bits = measured["mnist-pixelvae-free-bits"]
    assert informative(free_bits) == 16 and free_bits["kl"] > 3.0  # about the floor of 0.25 nats each
    assert measured["mnist-pixelvae-warmup"]["kl"] > measured["mnist-pixelvae-plain"]["kl"]


def test_the_pixelvaes_are_pixelvaes():
    described = {info.name: info for info in hub.list_models()}
    assert {described[name].family for name in ("mnist-pixelvae-plain", "mnist-pixelvae-free-bits")} == {"PixelVAE"}
