"""Every model type against every studio capability, from one expected table.

The table says what each kind of model should offer in the studio. A type that lacks a capability it should
have fails here; so does one that claims a capability it should not have (the studio would offer a button
that errors). Capabilities the project still owes (issue 19) are listed in KNOWN_GAPS: each is a strict
xfail, visible in every run's summary, and fails as soon as it starts working, so the entry must then move
into the table.
"""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from tests.pipelines.conftest import make_tiny_bundle, make_tiny_class_bundle, make_tiny_two_level_bundle
from vaestudio.checkpoints import Bundle
from vaestudio.data import open_source
from vaestudio.models import (
    AE,
    DVAE,
    VAE,
    VQVAE,
    WAE,
    AEConfig,
    PhotoVQVAE,
    PhotoVQVAEConfig,
    ContrastiveScorer,
    ContrastiveScorerConfig,
    DVAEConfig,
    PixelCNNBottomPrior,
    PixelCNNBottomPriorConfig,
    PixelCNNPrior,
    PixelCNNPriorConfig,
    VAEConfig,
    VQVAEConfig,
    WAEConfig,
)
from vaestudio.models.text import build_vocabulary
from vaestudio.pipelines.capabilities import capabilities
from vaestudio.pipelines.editing import Editor
from vaestudio.worlds.shapes.source import ShapesSource

STUDIO_CAPABILITIES = ("encode", "sliders", "interpolation", "samples", "manifold", "scatter", "codebook",
                       "text or class generation", "inpainting")
LATENT = {"encode", "sliders", "interpolation", "scatter"}  # what any model with an editable latent offers

EXPECTED = {
    "vae": LATENT | {"samples"},
    "vae 2-D": LATENT | {"samples", "manifold"},
    "vae class-conditional": LATENT | {"samples", "manifold", "text or class generation"},
    "vae text-conditional": LATENT | {"samples", "text or class generation"},
    "ae": LATENT,  # no prior: nothing to sample, no manifold
    "wae": LATENT | {"samples"},
    "wae 2-D": LATENT | {"samples", "manifold"},
    "vqvae": LATENT | {"codebook"},  # alone it has no prior to sample from
    "vqvae two-level": LATENT | {"codebook"},
    "photo_vqvae": LATENT | {"codebook"},  # alone, as a VQ-VAE at its crop size; photos go to PhotoEditing
    "dvae": LATENT | {"codebook"},  # editor latent: the argmax code embeddings
    "dvae with prior": LATENT | {"samples", "codebook", "inpainting"},  # a code_prior bundle (mnist-dvae)
    "text_to_image bundle": LATENT | {"samples", "codebook", "text or class generation", "inpainting"},
    "class_to_image bundle": LATENT | {"samples", "codebook", "text or class generation", "inpainting"},
    "two_level bundle": LATENT | {"samples", "codebook", "inpainting"},  # VQ-VAE-2 + top and bottom priors
    "pixelcnn_prior": set(),  # alone: it models codes of a VQ-VAE it does not hold
    "pixelcnn_bottom_prior": set(),  # alone: it models the bottom codes of a VQ-VAE-2 it does not hold
    "contrastive_scorer": set(),
}
KNOWN_GAPS: set[tuple[str, str]] = set()  # (type, capability) the studio does not offer yet (a strict xfail each)


@pytest.fixture(scope="module")
def shapes():
    return ShapesSource("train", image_size=16, num_images=48, cache=False)


@pytest.fixture(scope="module")
def digits():
    return open_source("digits", split="train")


@pytest.fixture(scope="module")
def built(shapes, digits):
    """Each kind of model, tiny and untrained, with the data its editor reads (None: no editor)."""
    torch.manual_seed(0)
    vocabulary = build_vocabulary(shapes[index].caption for index in range(len(shapes)))
    text = {"vocabulary": vocabulary, "embedding_dim": 8, "num_layers": 1, "num_heads": 2, "max_tokens": 16}
    digit_model = {"image_channels": 1, "image_size": 8, "hidden_sizes": (16,)}
    code_model = {"image_size": 16, "hidden_channels": 8, "residual_channels": 4, "num_residual_blocks": 1,
                  "num_codes": 16, "code_dim": 4, "kmeans_init": False, "dead_code_threshold": 0.0}
    return {
        "vae": (VAE(VAEConfig(latent_dim=4, **digit_model)), digits),
        "vae 2-D": (VAE(VAEConfig(latent_dim=2, **digit_model)), digits),
        "vae class-conditional": (VAE(VAEConfig(latent_dim=2, condition="class", class_embedding_dim=4,
                                                **digit_model)), digits),
        "vae text-conditional": (VAE(VAEConfig(image_channels=3, image_size=16, latent_dim=4, hidden_sizes=(16,),
                                               condition="text", text_encoder=text)), shapes),
        "ae": (AE(AEConfig(latent_dim=4, **digit_model)), digits),
        "wae": (WAE(WAEConfig(latent_dim=4, **digit_model)), digits),
        "wae 2-D": (WAE(WAEConfig(latent_dim=2, **digit_model)), digits),
        "vqvae": (VQVAE(VQVAEConfig(**code_model)), shapes),
        "vqvae two-level": (VQVAE(VQVAEConfig(levels=2, downsample_factor=2, **code_model)), shapes),
        "photo_vqvae": (PhotoVQVAE(PhotoVQVAEConfig(encoder_channels=8, encoder_residual_channels=4,
                                                    **code_model)), shapes),
        "dvae": (DVAE(DVAEConfig(image_size=16, hidden_channels=8, num_residual_blocks=1, residual_channels=4,
                                 num_codes=16, code_dim=4)), shapes),
        "dvae with prior": (Bundle("code_prior", {
            "vqvae": DVAE(DVAEConfig(image_size=16, hidden_channels=8, num_residual_blocks=1, residual_channels=4,
                                     num_codes=16, code_dim=4)),
            "prior": PixelCNNPrior(PixelCNNPriorConfig(num_codes=16, channels=8, num_layers=2, head_channels=8)),
        }), shapes),
        "text_to_image bundle": (make_tiny_bundle(vocabulary), shapes),
        "class_to_image bundle": (make_tiny_class_bundle(), digits),
        "two_level bundle": (make_tiny_two_level_bundle(), shapes),
        "pixelcnn_prior": (PixelCNNPrior(PixelCNNPriorConfig(num_codes=16, channels=8, num_layers=2,
                                                             head_channels=8)), None),
        "pixelcnn_bottom_prior": (PixelCNNBottomPrior(PixelCNNBottomPriorConfig(
            num_codes=16, channels=8, num_layers=2, head_channels=8, top_num_codes=16)), None),
        "contrastive_scorer": (ContrastiveScorer(ContrastiveScorerConfig(image_size=16, hidden_sizes=(8, 8),
                                                                         embedding_dim=8, text_encoder=text)), None),
    }


def studio_capabilities(model, source) -> set[str]:
    """What the studio offers ``model``, in the table's words, from vaestudio.pipelines.capabilities."""
    try:  # kl_threshold 0: an untrained VAE's dimensions all count as sliders (trained ones: KL > 0.05 nats)
        editor = Editor(model, source=source, sample_size=32, kl_threshold=0.0)
    except (TypeError, ValueError, KeyError):
        editor = None
    names = capabilities(model, editor)
    offered = {table: name for name, table in (("encode", "encode"), ("interpolate", "interpolation"),
                                                ("prior", "samples"), ("manifold", "manifold"), ("scatter", "scatter"),
                                                ("codebook", "codebook"), ("inpaint", "inpainting"))
               if name in names for table in [table]}
    result = set(offered)
    if "encode" in names and len(editor.sliders()) > 0:
        result.add("sliders")
    condition = editor.space.condition_kind if editor is not None else "none"
    if {"text_to_image", "class_to_image"} & names or ("prior" in names and condition in ("class", "text")):
        result.add("text or class generation")
    return result


def test_the_table_covers_every_registered_model_type_and_names_only_known_capabilities():
    from vaestudio.models import MODEL_TYPES

    covered = {name.split(" ")[0] for name in EXPECTED}
    assert set(MODEL_TYPES) <= covered, f"add these model types to EXPECTED: {set(MODEL_TYPES) - covered}"
    for name, expected in EXPECTED.items():
        assert expected <= set(STUDIO_CAPABILITIES), name
    assert {name for name, _ in KNOWN_GAPS} <= set(EXPECTED)
    assert all(capability in EXPECTED[name] for name, capability in KNOWN_GAPS)


@pytest.mark.parametrize("kind, capability", [
    pytest.param(kind, capability, marks=pytest.mark.xfail(
        strict=True, reason="issue 19: the studio does not offer this yet")) if (kind, capability) in KNOWN_GAPS
    else (kind, capability)
    for kind in EXPECTED for capability in sorted(EXPECTED[kind])
])
def test_a_model_type_offers_each_capability_it_should(built, kind, capability):
    model, source = built[kind]
    assert capability in studio_capabilities(model, source)


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_a_model_type_claims_no_capability_it_should_not_have(built, kind):
    model, source = built[kind]
    extra = studio_capabilities(model, source) - EXPECTED[kind]
    assert not extra, f"{kind} is offered {extra}, which it cannot serve"


@pytest.mark.parametrize("kind", ["ae", "wae", "vqvae", "vae class-conditional", "vae text-conditional",
                                  "class_to_image bundle", "vqvae two-level", "two_level bundle", "dvae",
                                  "dvae with prior"])
def test_claimed_capabilities_run(built, kind):
    """What a model is offered works on it (and what it is not offered says why)."""
    model, source = built[kind]
    editor = Editor(model, source=source, sample_size=32)
    offered = studio_capabilities(model, source)
    condition = {"vae class-conditional": 3, "vae text-conditional": "a red circle"}.get(kind)
    second = {"vae class-conditional": 5, "vae text-conditional": "a blue square"}.get(kind)
    picture = editor.decode_flat(torch.zeros(1, *editor.space.latent_shape()), condition)[0]
    assert editor.encode(picture, condition).latents.shape[0] == 1
    if "interpolation" in offered:
        assert len(editor.interpolate(picture, picture, 3, condition=condition, second_condition=second)) == 3
    assert len(editor.latent_scatter(num_points=20).points) == 20
    if "samples" in offered:
        assert len(editor.sample(2, seed=0, condition=condition)) == 2
    else:
        with pytest.raises(ValueError, match="prior"):
            editor.sample(2, seed=0)
    if "manifold" in offered:
        assert editor.manifold_grid(3, condition=condition).width > 0
    if "codebook" in offered:
        assert editor.codebook_usage(num_images=8).counts.sum() > 0
    if "inpainting" in offered:
        assert len(editor.inpaint(picture, Image.new("L", picture.size, 255), "", 2, 0)) == 2
