"""Measuring models: a whole-split report (``evaluate``; the metric arithmetic is ``vaestudio.common.metrics``)
and the shapes faithfulness study."""

from vaestudio.evaluation.report import evaluate, vqvae_for_prior

__all__ = ["evaluate", "vqvae_for_prior"]
