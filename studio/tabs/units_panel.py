"""The training lab's panel, shared by the Train and Models tabs: a Gaussian VAE's active units (Burda et al.'s
covariance criterion) and the KL of each latent dimension, as a sentence and a bar chart."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from studio.engine_api import LatentUnitsReport

DEFAULT_IMAGES = 500
INFORMATIVE_NATS = 0.1  # a dimension whose mean KL is above this carries information (docs/training-lab.md)


def units_table(report: LatentUnitsReport) -> pd.DataFrame:
    """One row per latent dimension: its KL (nats), its activity and whether it is active."""
    width = len(str(len(report.kl_per_dimension)))
    return pd.DataFrame({
        "dimension": [f"z{index + 1:0{width}d}" for index in range(len(report.kl_per_dimension))],
        "KL (nats)": [float(value) for value in report.kl_per_dimension],
        "activity": [float(value) for value in report.activity],
        "state": ["active" if value > report.threshold else "collapsed" for value in report.activity],
    })


def describe_units(report: LatentUnitsReport) -> str:
    total = len(report.activity)
    verdict = ("**posterior collapse**: no dimension carries information" if report.active_units == 0 else
               f"{total - report.active_units} collapsed" if report.active_units < total else "none collapsed")
    informative = sum(value > INFORMATIVE_NATS for value in report.kl_per_dimension)
    return (f"**{report.active_units} of {total} latent dimensions active** ({verdict}); KL {report.kl:.3g} nats in "
            f"all, {informative} dimensions above {INFORMATIVE_NATS:g} nats. Measured on {report.measured_on}: a "
            f"dimension is active when the variance of its posterior mean over the images is above "
            f"{report.threshold:g} (Burda et al. 2016); with a strong decoder (PixelVAE) a mean can still move while "
            "carrying almost nothing, so read the KL per dimension too.")


@dataclass(frozen=True)
class UnitsPanel:
    images: gr.Number
    button: gr.Button
    summary: gr.Markdown
    chart: gr.BarPlot

    @property
    def outputs(self) -> list:
        return [self.summary, self.chart]


def build_units_panel(button_label: str, elem_id: str) -> UnitsPanel:
    """An accordion with the number of images, the button, the sentence and the KL-per-dimension chart."""
    with gr.Accordion("Active units and KL per dimension (Gaussian VAEs)", open=False):
        with gr.Row():
            images = gr.Number(DEFAULT_IMAGES, label="Images to measure on", precision=0, minimum=2, maximum=5000,
                               scale=1)
            button = gr.Button(button_label, scale=1)
        summary = gr.Markdown(elem_id=elem_id)
        chart = gr.BarPlot(x="dimension", y="KL (nats)", color="state", label="KL of each latent dimension",
                           height=240, x_title="latent dimension", y_title="KL (nats)")
    return UnitsPanel(images, button, summary, chart)


def render_units(report: LatentUnitsReport) -> tuple[str, pd.DataFrame]:
    return describe_units(report), units_table(report)
