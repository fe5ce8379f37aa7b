"""Explore: a 2-D manifold of decodes, a dataset's latents (click a point to decode it), codebook
usage, an image's code maps and samples from the prior."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from studio.engine_api import Capability, InputError, StudioEngine
from studio.errors import user_facing
from studio.pickers import ModelPickers
from studio.hosting import Hosting
from studio.plots import PlotFrame, codebook_table, draw_scatter
from studio.tabs.shared import ENGINE_QUEUE, read_upload, show
from studio.uploads import UploadedImage

OWN_DATA = "the model's training data"


def _class_choices(engine: StudioEngine, model: str | None) -> tuple[list, bool]:
    """(choices, visible) of a class picker: a class-conditional model's classes, a text-conditional model's
    example prompts (any prompt may be typed), hidden for other models."""
    classes = (engine.model_classes(model) or engine.model_prompts(model)) if model else []
    return [("every class (samples) / the first (manifold)", ""), *classes], bool(classes)


@dataclass(frozen=True)
class ScatterSession:
    model: str
    state: Any
    frame: PlotFrame


def build(engine: StudioEngine, pickers: ModelPickers, hosting: Hosting | None = None) -> None:
    hosting = hosting or Hosting()
    with gr.Tab("Explore", id="explore"):
        scatter_session = gr.State(None)
        model = pickers.dropdown(None, prefer=Capability.MANIFOLD,  # opens on a 2-D VAE (mnist-vae-2d)
                                 info="Each panel says which kinds of model it needs.")
        with gr.Row():
            with gr.Column():
                gr.Markdown("### Manifold\nDecodes of a grid over a 2-D latent (a VAE with a 2-D latent).")
                grid_size = gr.Slider(2, 32, 12, step=1, label="Grid size (n x n)")
                choices, visible = _class_choices(engine, model.value)
                label = gr.Dropdown(choices, value="", visible=visible, label="Class", elem_id="explore-class",
                                    allow_custom_value=True,  # the engine checks it, with the classes
                                    info="Class-conditional models (and mnist-vqvae's class prior): the class "
                                         "to draw (manifold and samples)")
                manifold_button = gr.Button("Draw the manifold", variant="primary")
                manifold = gr.Image(label="Manifold", interactive=False, height=420, elem_id="manifold")
            with gr.Column():
                gr.Markdown("### Prior samples\nNew images drawn from the model's prior.")
                with gr.Row():
                    sample_count = gr.Slider(1, 64, 16, step=1, label="Samples")
                    sample_seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1)
                prior_button = gr.Button("Sample", variant="primary")
                prior = gr.Image(label="Samples", interactive=False, height=420)
        gr.Markdown("### Latent scatter\nA dataset encoded and laid out in 2-D, coloured by label. "
                    "Click a point (or type x and y) to decode it.")
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Row():
                    data = gr.Dropdown([(OWN_DATA, ""), *engine.list_data_sources()], value="",
                                       allow_custom_value=True, label="Data",
                                       info="The model's own, a built-in source, or folder:PATH, idx:PATH, hf:NAME")
                    points = gr.Slider(10, 5000, 500, step=10, label="Points")
                scatter_button = gr.Button("Encode and plot", variant="primary")
                scatter = gr.Image(label="Latent scatter (click a point)", interactive=False, elem_id="scatter")
            with gr.Column(scale=2):
                with gr.Row():
                    x = gr.Number(0.0, label="x")
                    y = gr.Number(0.0, label="y")
                decode_button = gr.Button("Decode this point")
                decoded = gr.Image(label="Decoded point", interactive=False, height=300, elem_id="decoded-point")
        gr.Markdown("### Codebook usage\nHow often each code is chosen (VQ-VAE, dVAE). Dead codes are never chosen.")
        codebook_button = gr.Button("Count code usage")
        codebook_note = gr.Markdown()
        codebook = gr.BarPlot(x="code", y="count", label="Code usage", height=280, x_title="code index",
                              y_title="times chosen")
        gr.Markdown("### Code map\nAn image's code maps, one colour per code: one map for a VQ-VAE, the coarse top "
                    "map and the detailed bottom map for a VQ-VAE-2.")
        with gr.Row():
            code_image = UploadedImage(label="Image", type="filepath", image_mode=None,
                                       sources=["upload", "clipboard"], height=256, elem_id="code-map-image")
            code_maps = gr.Gallery(label="Reconstruction and code maps", columns=3, height=280,
                                   elem_id="code-maps")
        code_button = gr.Button("Draw the code maps")
        code_note = gr.Markdown()

        @user_facing
        def draw_manifold(model, n, label=""):
            return show(engine.manifold_grid(model, n, label or ""))

        manifold_button.click(draw_manifold, [model, grid_size, label], manifold, api_name="manifold", **ENGINE_QUEUE)

        @user_facing
        def sample_prior(model, n, seed, label=""):
            return show(engine.prior_samples(model, n, seed, label or ""))

        prior_button.click(sample_prior, [model, sample_count, sample_seed, label], prior, api_name="prior_samples",
                           **ENGINE_QUEUE)

        @user_facing
        def model_classes(model):
            choices, visible = _class_choices(engine, model)
            return gr.update(choices=choices, value="", visible=visible)

        model.change(model_classes, model, label, api_name="explore_classes")

        @user_facing
        def plot_scatter(model, data, n, request: gr.Request):
            with hosting.private(request):
                result = engine.latent_scatter(model, hosting.data_spec(request, data), n)
            picture, frame = draw_scatter(result)
            return ScatterSession(model, result.state, frame), show(picture)

        scatter_button.click(plot_scatter, [model, data, points], [scatter_session, scatter], api_name="scatter",
                             **ENGINE_QUEUE)

        def _decode(session: ScatterSession | None, x_value: float, y_value: float):
            if session is None:
                raise InputError("Plot a latent scatter first (Encode and plot), then pick a point.")
            return show(engine.decode_point(session.model, session.state, x_value, y_value))

        @user_facing
        def decode_point(session, x_value, y_value):
            return _decode(session, float(x_value or 0.0), float(y_value or 0.0))

        decode_button.click(decode_point, [scatter_session, x, y], decoded, api_name="decode_point", **ENGINE_QUEUE)

        @user_facing
        def pick_point(session: ScatterSession | None, event: gr.SelectData):
            if session is None:
                raise InputError("Plot a latent scatter first (Encode and plot), then click a point.")
            x_value, y_value = (round(value, 3) for value in session.frame.to_data(*event.index))
            return x_value, y_value, _decode(session, x_value, y_value)

        scatter.select(pick_point, scatter_session, [x, y, decoded], api_name="pick_point", **ENGINE_QUEUE)

        @user_facing
        def count_codes(model):
            usage = engine.codebook_usage(model)
            used = len(usage.counts) - usage.dead_codes
            note = (f"{used} of {len(usage.counts)} codes used, {usage.dead_codes} dead; perplexity "
                    f"{usage.perplexity:g}" + (f" (measured on {usage.measured_on})." if usage.measured_on else "."))
            return note, codebook_table(usage)

        codebook_button.click(count_codes, model, [codebook_note, codebook], api_name="codebook", **ENGINE_QUEUE)

        @user_facing
        def draw_code_maps(model, image):
            result = engine.code_maps(model, read_upload(engine, image))
            pictures = [(result.reconstruction, "reconstruction"), *zip(result.pictures, result.captions)]
            return [(show(picture), caption) for picture, caption in pictures], result.note

        code_button.click(draw_code_maps, [model, code_image], [code_maps, code_note], api_name="code_maps",
                          **ENGINE_QUEUE)
