"""build_demo(engine): the studio's tabs assembled into one gr.Blocks, wired to one engine."""

from __future__ import annotations

import gradio as gr

from studio.engine_api import StudioEngine
from studio.hosting import Hosting
from studio.pickers import ModelPickers
from studio.tabs import edit, explore, learn, models, text_to_image, train

INTRODUCTION = (
    "# VAE Studio\n"
    "Type a prompt, or drop an image and edit it in latent space. Explore what a model learned, "
    "train your own, learn the theory on live figures, and compare models."
)


def build_demo(engine: StudioEngine, hosting: Hosting | None = None) -> gr.Blocks:
    """hosting: local (full paths) by default; a hosted Hosting confines every visitor to a workspace."""
    hosting = hosting or Hosting()
    with gr.Blocks(title="VAE Studio", analytics_enabled=False) as demo:
        gr.Markdown(INTRODUCTION)
        pickers = ModelPickers(engine)
        with gr.Tabs():
            text_to_image.build(engine, pickers)
            edit.build(engine, pickers)
            explore.build(engine, pickers, hosting)
            trained_model_loaded = train.build(engine, hosting)
            learn.build(engine)
            models_tab = models.build(engine, pickers, hosting)

        # Whenever the model list changes, every picker and the zoo table follow.
        def refresh_models(*current_choices):
            return [*pickers.refresh(*current_choices), models.zoo_table(engine.list_models())]

        outputs = [*pickers.components, models_tab.table]
        trained_model_loaded.success(refresh_models, pickers.components, outputs,
                                     api_name="refresh_models_after_training")
        models_tab.loaded.success(refresh_models, pickers.components, outputs, api_name="refresh_models_after_load")
        demo.load(refresh_models, pickers.components, outputs, api_name="refresh_models")
    return demo
