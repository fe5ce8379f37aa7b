"""A tiny zoo of randomly initialised models, written like shipped ones, to run the real Engine
against vaestudio's real pipelines before pretrained/ holds anything."""

from __future__ import annotations

from pathlib import Path

CAPTIONS = ["a red circle", "a blue square", "a green triangle", "a shape"]


def write_tiny_zoo(folder: Path) -> Path:
    """folder/tiny-text-to-image (a bundle: VQ-VAE, text prior, scorer), folder/tiny-vae-2d and
    folder/tiny-vqvae-digits (a class_to_image bundle: VQ-VAE and a prior over the 10 digits)."""
    import torch

    from vaestudio.checkpoints import save_bundle, save_model
    from vaestudio.models import (
        VAE,
        VQVAE,
        ContrastiveScorer,
        ContrastiveScorerConfig,
        PixelCNNPrior,
        PixelCNNPriorConfig,
        VAEConfig,
        VQVAEConfig,
        build_vocabulary,
    )

    torch.manual_seed(0)
    vocabulary = build_vocabulary(CAPTIONS)
    vqvae = VQVAE(VQVAEConfig(image_size=16, hidden_channels=8, residual_channels=4, num_residual_blocks=1,
                              downsample_factor=4, num_codes=16, code_dim=4, kmeans_init=False))
    prior = PixelCNNPrior(PixelCNNPriorConfig(num_codes=16, channels=8, num_layers=2, head_channels=16,
                                              condition="text", text_encoder={"vocabulary": vocabulary, "embedding_dim": 8,
                                                                             "num_layers": 1, "num_heads": 2}))
    scorer = ContrastiveScorer(ContrastiveScorerConfig(image_size=16, hidden_sizes=(4, 8), embedding_dim=8,
                                                       text_encoder={"vocabulary": vocabulary, "embedding_dim": 8,
                                                                     "num_layers": 1, "num_heads": 2}))
    bundle = folder / "tiny-text-to-image"
    save_bundle(str(bundle), "text_to_image", {"vqvae": vqvae, "prior": prior, "scorer": scorer},
                {"neutral_prompt": "a shape", "layout": "shapes"})
    (bundle / "README.md").write_text("# tiny-text-to-image\n\nRandom weights, for tests.\n")
    (bundle / "metrics.json").write_text('{"evaluation": {"bits_per_dim": 4.5, "psnr": 11.0, "seconds": 3.0}, '
                                         '"training": {"steps": 10}}')
    save_model(VAE(VAEConfig(image_size=8, latent_dim=2, hidden_sizes=(16,))), str(folder / "tiny-vae-2d"))
    digits_vqvae = VQVAE(VQVAEConfig(image_channels=1, image_size=8, hidden_channels=8, residual_channels=4,
                                     num_residual_blocks=1, downsample_factor=2, num_codes=16, code_dim=4,
                                     kmeans_init=False))
    digits_prior = PixelCNNPrior(PixelCNNPriorConfig(num_codes=16, channels=8, num_layers=2, head_channels=8,
                                                     condition="class", num_classes=10, condition_dim=4))
    class_bundle = folder / "tiny-vqvae-digits"
    save_bundle(str(class_bundle), "class_to_image", {"vqvae": digits_vqvae, "prior": digits_prior})
    # What each was "trained" on: the editor reads its data sample from here (sliders, attributes, scatter).
    (bundle / "vqvae" / "recipe.toml").write_text('[data]\nsource = "shapes"\n')
    (folder / "tiny-vae-2d" / "recipe.toml").write_text('[data]\nsource = "digits"\n')
    for role in ("vqvae", "prior"):
        (class_bundle / role / "recipe.toml").write_text('[data]\nsource = "digits"\n')
    return folder


def write_conditional_models(folder: Path) -> Path:
    """folder/tiny-cvae (class-conditional, digits) and folder/tiny-text-cvae (text-conditional, shapes): random
    weights, for the requests only conditional models take (each end's class or prompt, samples from a prompt)."""
    import torch

    from vaestudio.checkpoints import save_model
    from vaestudio.models import VAE, VAEConfig, build_vocabulary

    torch.manual_seed(0)
    class_model = VAE(VAEConfig(image_size=8, latent_dim=3, hidden_sizes=(16,), condition="class",
                                class_embedding_dim=4))
    text_model = VAE(VAEConfig(image_channels=3, image_size=16, latent_dim=3, hidden_sizes=(16,), condition="text",
                               text_encoder={"vocabulary": build_vocabulary(CAPTIONS), "embedding_dim": 8,
                                             "num_layers": 1, "num_heads": 2}))
    for name, model, source in (("tiny-cvae", class_model, "digits"), ("tiny-text-cvae", text_model, "shapes")):
        save_model(model, str(folder / name))
        (folder / name / "recipe.toml").write_text(f'[data]\nsource = "{source}"\n')
    return folder
