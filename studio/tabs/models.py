"""Models: the zoo with cards and metrics, a VAE's active units, loading from a folder or a Hub id, the operator
backend."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from studio.engine_api import Capability, ModelInfo, StudioEngine
from studio.errors import user_facing
from studio.hosting import Hosting
from studio.pickers import ModelPickers
from studio.tabs.shared import ENGINE_QUEUE
from studio.tabs.units_panel import build_units_panel, render_units

_PLACEHOLDER = {False: "path/to/folder (config.json + model.safetensors), or a Hub id",
                True: "a folder in your workspace, e.g. runs/my-model"}
COLUMNS = ["model", "family", "metrics", "can do", "source"]


def zoo_table(models: list[ModelInfo]) -> pd.DataFrame:
    rows = [
        [
            info.name,
            info.family,
            ", ".join(f"{key} {value:.4g}" for key, value in info.metrics.items()) or "(none recorded)",
            ", ".join(capability.value.replace("_", "-") for capability in Capability if info.can(capability)),
            info.source,
        ]
        for info in models
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


@dataclass(frozen=True)
class ModelsTab:
    table: gr.Dataframe
    loaded: gr.events.Dependency  # after this, the model lists change


def build(engine: StudioEngine, pickers: ModelPickers, hosting: Hosting | None = None) -> ModelsTab:
    hosting = hosting or Hosting()
    with gr.Tab("Models", id="models"):
        models = engine.list_models()
        table = gr.Dataframe(
            zoo_table(models), label="The zoo" if models else "The zoo is empty: load a model folder below",
            interactive=False, wrap=True, column_widths=["18%", "10%", "30%", "30%", "12%"],
        )
        with gr.Row():
            with gr.Column(scale=3):
                chosen = pickers.dropdown(None, label="Model card")
                card = gr.Markdown(models[0].card if models else "Load or train a model to see its card.")
                units = build_units_panel("Measure the picked model", "model-units")
            with gr.Column(scale=2):
                where = gr.Textbox(label="Load a model", placeholder=_PLACEHOLDER[hosting.hosted],
                                   info="Folders hold config.json, model.safetensors and a README.md card.")
                load = gr.Button("Load", variant="primary")
                loaded_note = gr.Markdown()
                gr.Markdown(hosting.describe(), elem_id="studio-mode")
                backend = gr.Textbox(engine.backend_info(), label="Operator backend (vaestudio info)", lines=5,
                                     interactive=False)
                backend_button = gr.Button("Check again")

        @user_facing
        def model_card(name):
            found = next((info for info in engine.list_models() if info.name == name), None)
            return found.card if found else "Pick a model to see its card."

        chosen.change(model_card, chosen, card, api_name="model_card")

        @user_facing
        def model_units(name, count):
            return render_units(engine.latent_units(name, int(count or 0)))

        units.button.click(model_units, [chosen, units.images], units.outputs, api_name="model_units", **ENGINE_QUEUE)

        @user_facing
        def load_model(path_or_hub_id, request: gr.Request):
            with hosting.private(request):
                info = engine.load_folder(hosting.model_source(request, path_or_hub_id))
            return f"Loaded **{info.name}** ({info.family}). It is now offered in the other tabs."

        loaded = load.click(load_model, where, loaded_note, api_name="load_model", **ENGINE_QUEUE)

        @user_facing
        def backend_info():
            return engine.backend_info()

        backend_button.click(backend_info, None, backend, api_name="backend")
    return ModelsTab(table, loaded)
