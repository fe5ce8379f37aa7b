"""The models of VAE Studio: nn.Modules only, one model per file. Importing this package registers every
model type in ``MODEL_TYPES`` (what :mod:`vaestudio.checkpoints` builds from a ``config.json``)."""

from vaestudio.models.ae import AE, AEConfig
from vaestudio.models.base import MODEL_TYPES, StudioModel, TrainingOutput, register_model
from vaestudio.models.bottom_prior import PixelCNNBottomPrior, PixelCNNBottomPriorConfig, TopCondition
from vaestudio.models.dvae import DVAE, DVAEConfig
from vaestudio.models.outputs import (
    AEOutput,
    Bounds,
    ContrastiveEmbeddings,
    DVAEOutput,
    Hierarchy,
    Posterior,
    TokenFeatures,
    TokenizedText,
    VAEOutput,
    VQVAEOutput,
)
from vaestudio.models.photo_vqvae import PhotoVQVAE, PhotoVQVAEConfig
from vaestudio.models.pixelcnn import GatedPixelCNN, PixelCNNPrior, PixelCNNPriorConfig
from vaestudio.models.quantizer import QuantizerConfig, QuantizerOutput, VectorQuantizer
from vaestudio.models.scorer import ContrastiveScorer, ContrastiveScorerConfig
from vaestudio.models.text import TextEncoder, TextEncoderConfig, Tokenizer, build_vocabulary, tokenize
from vaestudio.models.vae import VAE, VAEConfig
from vaestudio.models.vqvae import VQVAE, VQVAEConfig
from vaestudio.models.wae import WAE, WAEConfig

__all__ = [
    "AE",
    "DVAE",
    "MODEL_TYPES",
    "VAE",
    "VQVAE",
    "AEConfig",
    "AEOutput",
    "Bounds",
    "ContrastiveEmbeddings",
    "ContrastiveScorer",
    "ContrastiveScorerConfig",
    "DVAEConfig",
    "DVAEOutput",
    "GatedPixelCNN",
    "Hierarchy",
    "PixelCNNBottomPrior",
    "PixelCNNBottomPriorConfig",
    "PhotoVQVAE",
    "PhotoVQVAEConfig",
    "PixelCNNPrior",
    "PixelCNNPriorConfig",
    "Posterior",
    "QuantizerConfig",
    "QuantizerOutput",
    "StudioModel",
    "TextEncoder",
    "TextEncoderConfig",
    "TokenFeatures",
    "TopCondition",
    "TokenizedText",
    "Tokenizer",
    "TrainingOutput",
    "VAEConfig",
    "VAEOutput",
    "VQVAEConfig",
    "VQVAEOutput",
    "VectorQuantizer",
    "WAE",
    "WAEConfig",
    "build_vocabulary",
    "register_model",
    "tokenize",
]
