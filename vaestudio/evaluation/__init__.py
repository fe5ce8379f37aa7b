"""Measuring models: metric arithmetic (``metrics``) and a whole-split report (``evaluate``)."""

from vaestudio.evaluation.report import evaluate, vqvae_for_prior

__all__ = ["evaluate", "vqvae_for_prior"]
