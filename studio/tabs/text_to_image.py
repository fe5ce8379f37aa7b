"""Text to image: a prompt in, a gallery out, filled row by row while the prior samples."""

from __future__ import annotations

import gradio as gr

from studio import limits
from studio.engine_api import Capability, Generation, ScoredImage, StudioEngine
from studio.errors import user_facing
from studio.pickers import ModelPickers
from studio.tabs.shared import ENGINE_QUEUE, show

# shipped model -> prompts it reads in full (tests/studio/test_example_prompts.py parses each with the model's
# own text encoders and, where the model names a world, that world's prompt parser: no unknown word)
EXAMPLES_BY_MODEL = {
    "shapes": ["a red circle", "a blue square in the top left and a yellow triangle in the bottom right",
               "a small green triangle on the left", "a large purple star on a black background"],
    "emoji": ["cat face in openmoji style", "smiling face with hearts in noto style", "red apple in twemoji style"],
}
EXAMPLE_PROMPTS = [prompt for prompts in EXAMPLES_BY_MODEL.values() for prompt in prompts]
PLACEHOLDER = "a red circle in the top left and a blue square at the bottom"  # a shapes prompt too


def _caption(item: ScoredImage, done: bool) -> str | None:
    """"sampling…" while rows are still coming; then the score (none for a model without a scorer)."""
    if not done:
        return "sampling…"
    return None if item.score is None else f"score {item.score:.3f}"


def describe(generation: Generation) -> str:
    """What the model read, how far sampling is, and any notes about the prompt."""
    progress = "" if generation.done else f" Sampling code row {generation.rows_done} of {generation.total_rows}…"
    notes = "".join(f"\n\n{note}" for note in generation.notes)
    return f"The model read: *{generation.prompt_read}*.{progress}{notes}"


def build(engine: StudioEngine, pickers: ModelPickers) -> None:
    with gr.Tab("Text to image", id="text-to-image"):
        with gr.Row():
            with gr.Column(scale=2, min_width=300):
                prompt = gr.Textbox(
                    label="Prompt", placeholder=PLACEHOLDER, lines=2, max_length=500,
                    elem_id="prompt",
                )
                generate = gr.Button("Generate", variant="primary", elem_id="generate")
                gr.Examples(EXAMPLE_PROMPTS, inputs=prompt, label="Try a prompt", api_name="prompt_example")
                model = pickers.dropdown(Capability.TEXT_TO_IMAGE)
                with gr.Accordion("Sampling", open=True):
                    num_images = gr.Slider(1, limits.MAX_IMAGES, 4, step=1, label="Images")
                    rerank = gr.Slider(
                        1, limits.MAX_RERANK, 16, step=1, label="Rerank",
                        info="Sample this many, keep the best-scoring (text-image scorer).",
                    )
                    temperature = gr.Slider(0.0, 2.0, 0.0, step=0.05, label="Temperature",
                                            info="Lower: safer, more alike. Higher: wilder. "
                                                 "0 = the model's own default.")
                    top_k = gr.Slider(0, 512, 0, step=1, label="Top-k", info="Sample only the k likeliest codes; 0 = all.")
                    guidance = gr.Slider(
                        0.0, 8.0, 0.0, step=0.25, label="Guidance",
                        info="Classifier-free guidance: 1 = none, higher follows the prompt more closely; "
                             "0 = the model's own default.",
                    )
                    regions = gr.Checkbox(
                        True, label="Regions",
                        info="For prompts that place several objects ('a red heart in the top left and a blue "
                             "circle on the right'): draw each part of the image from its own object's words "
                             "(models with a layout, such as shapes). Off: the whole image follows the whole prompt.",
                    )
                    seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1)
            with gr.Column(scale=3):
                gallery = gr.Gallery(
                    label="Images", elem_id="text-to-image-gallery",
                    columns=4, height=460, object_fit="contain", buttons=["download", "fullscreen"],
                )
                reading = gr.Markdown("Type a prompt and press Generate: images appear here row by row, "
                                      "then ranked by how well they match the prompt.", label="Prompt as read")

        @user_facing
        def text_to_image(model, prompt, num_images, seed, temperature, top_k, rerank, guidance=0.0, regions=True):
            for generation in engine.text_to_image_stream(model, prompt, num_images, seed, temperature, top_k, rerank,
                                                          guidance, regions):
                gallery = [(show(item.image), _caption(item, generation.done)) for item in generation.images]
                yield gallery, describe(generation)

        gr.on(
            [generate.click, prompt.submit],
            text_to_image,
            inputs=[model, prompt, num_images, seed, temperature, top_k, rerank, guidance, regions],
            outputs=[gallery, reading],
            api_name="text_to_image",
            **ENGINE_QUEUE,
        )
