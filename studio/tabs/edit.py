"""Edit: an upload encoded and reconstructed side by side, latent and attribute sliders that
re-render live, interpolation towards a second image, and inpainting of a painted region (from a prompt,
or as a chosen class for a class-to-image model such as mnist-vqvae)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import gradio as gr

from studio import limits
from studio.engine_api import Capability, InputError, SliderSpec, StudioEngine
from studio.errors import user_facing
from studio.masks import mask_from_layers
from studio.pickers import ModelPickers
from studio.tabs.shared import ENGINE_QUEUE, read_upload, show, write_file
from studio.uploads import UploadedImage, UploadedMask

SOURCES = ["upload", "clipboard", "webcam"]  # "upload" takes drag-and-drop too


@dataclass(frozen=True)
class EditSession:
    """What the sliders edit: the model and the engine's encoding of the upload."""

    model: str
    state: Any
    sliders: tuple[SliderSpec, ...]
    attributes: tuple[str, ...]


def _slider_updates(specs: tuple[SliderSpec, ...], values: list[float] | None = None) -> list[dict]:
    updates = []
    for index in range(limits.MAX_SLIDERS):
        if index < len(specs):
            spec = specs[index]
            value = spec.value if values is None else values[index]
            updates.append(gr.update(visible=True, label=spec.label, minimum=spec.minimum, maximum=spec.maximum,
                                     step=spec.step, value=value))
        else:
            updates.append(gr.update(visible=False))
    return updates


def _attribute_updates(names: tuple[str, ...], reset: bool = True) -> list[dict]:
    return [
        gr.update(visible=True, label=names[index], **({"value": 0.0} if reset else {}))
        if index < len(names) else gr.update(visible=False)
        for index in range(limits.MAX_ATTRIBUTES)
    ]


def _draws_classes(engine: StudioEngine, model: str | None) -> bool:
    """Whether ``model`` draws its classes from a class-conditional prior (CLASS_TO_IMAGE): its classes are for
    inpainting (and samples), while its encoder takes none."""
    return any(info.name == model and info.can(Capability.CLASS_TO_IMAGE) for info in engine.list_models())


def _latent_classes(engine: StudioEngine, model: str | None) -> list[str]:
    """The classes an image is encoded as and drawn as (a class-conditional latent), else []."""
    return [] if not model or _draws_classes(engine, model) else engine.model_classes(model)


def _inpaint_classes(engine: StudioEngine, model: str | None) -> list[str]:
    """The classes a painted region can be redrawn as (a CLASS_TO_IMAGE model), else []."""
    return engine.model_classes(model) if model and _draws_classes(engine, model) else []


def _inpaint_choices(classes: list[str]) -> list:
    return [("each candidate another class", ""), *classes]


def _class_row_updates(engine: StudioEngine, model: str | None) -> tuple[dict, dict, dict]:
    """The row of the image's condition: a class-conditional model's classes, or a text-conditional model's
    example prompts (any prompt may be typed); hidden for other models."""
    classes = _latent_classes(engine, model)
    prompts = [] if classes or not model else engine.model_prompts(model)
    if prompts:
        return (gr.update(visible=True),
                gr.update(choices=prompts, value=prompts[0], label="Caption of your image",
                          info="A text-conditional model encodes what the caption does not say; type your own"),
                gr.update(choices=[("the same caption", ""), *prompts], value="", label="Draw it with",
                          info="Decode the same latent with another caption"))
    return (gr.update(visible=bool(classes)),
            gr.update(choices=[("the first class", ""), *classes], value=classes[0] if classes else "",
                      label="Class of your image", info="A class-conditional model encodes the style given it"),
            gr.update(choices=[("the same class", ""), *classes], value="", label="Draw it as",
                      info="Decode the same style as another class"))


def _interpolation_updates(engine: StudioEngine, model: str | None) -> tuple[dict, dict, dict]:
    """The pickers of an interpolation's second image and frames: a class-conditional model's classes, or a
    text-conditional model's example prompts; hidden for other models."""
    classes = engine.interpolation_classes(model) if model else []
    prompts = [] if classes or not model else engine.model_prompts(model)
    word = "caption" if prompts else "class"
    ends = classes or prompts
    return (gr.update(visible=bool(ends)),
            gr.update(choices=[(f"the {word} of your image", ""), *ends], value="",
                      label=f"{word.capitalize()} of the second image"),
            gr.update(choices=[(f"a blend from the first {word} to the second", ""), *ends], value="",
                      label="Draw the frames as"))


def _require_session(session: EditSession | None) -> EditSession:
    if session is None:
        raise InputError("Upload an image to edit first: drop it on the first image box.")
    return session


def build(engine: StudioEngine, pickers: ModelPickers) -> None:
    with gr.Tab("Edit", id="edit"):
        session = gr.State(None)
        with gr.Row():
            source = UploadedImage(
                type="filepath", image_mode=None, sources=SOURCES, height=300, elem_id="edit-source",
                label="Your image: drop, paste or use the webcam",
            )
            model_input = gr.Image(label="Encoded (what the model sees)", height=300, interactive=False,
                                   type="filepath")
            reconstruction = gr.Image(label="Reconstruction", height=300, interactive=False)
            edited = gr.Image(label="Edited: move the sliders", height=300, interactive=False, elem_id="edit-output")
        with gr.Row():
            model = pickers.dropdown(Capability.ENCODE, scale=2)
            summary = gr.Markdown("Drop an image on the first box to encode it; its latent sliders appear below.",
                                  label="Encoding")
            reset = gr.Button("Reset", scale=0, min_width=140)
            randomise = gr.Button("Randomise", scale=0, min_width=140)
        classes = _latent_classes(engine, model.value)
        with gr.Row(visible=bool(classes)) as class_row:
            encode_as = gr.Dropdown([("the first class", ""), *classes], value=classes[0] if classes else "",
                                    label="Class of your image", allow_custom_value=True,
                                    elem_id="encode-as", info="A class-conditional model encodes the style given it")
            draw_as = gr.Dropdown([("the same class", ""), *classes], value="",
                                  label="Draw it as", elem_id="draw-as", allow_custom_value=True,
                                  info="Decode the same style as another class")
        with gr.Row(elem_id="latent-sliders"):
            sliders = [
                gr.Slider(-3, 3, 0, step=0.01, label=f"z{index}", visible=False, min_width=200)
                for index in range(limits.MAX_SLIDERS)
            ]
        with gr.Accordion("Attribute vectors: add a direction learned from labels or captions", open=True):
            with gr.Row(elem_id="attribute-sliders"):
                attributes = [
                    gr.Slider(-2, 2, 0, step=0.05, label=f"attribute {index}", visible=False, min_width=160)
                    for index in range(limits.MAX_ATTRIBUTES)
                ]
            with gr.Row(elem_id="keyword-attribute"):
                keyword = gr.Textbox("", label="Any keyword of the training captions", placeholder="smiling",
                                     elem_id="keyword", scale=2,
                                     info="Its vector: images whose caption has it minus the rest (captioned data)")
                keyword_strength = gr.Slider(-2, 2, 0, step=0.05, label="Strength of the keyword", scale=2,
                                             elem_id="keyword-strength")
        with gr.Accordion("Interpolate towards a second image", open=False):
            with gr.Row():
                second = UploadedImage(type="filepath", image_mode=None, sources=SOURCES, height=220,
                                       label="Second image", elem_id="edit-second")
                with gr.Column():
                    steps = gr.Slider(2, 16, 8, step=1, label="Steps")
                    mode = gr.Radio(["linear", "spherical"], value="spherical", label="Path",
                                    info="Spherical keeps Gaussian latents at a typical length.")
                    interpolate_button = gr.Button("Interpolate", variant="primary")
            ends = engine.interpolation_classes(model.value) or engine.model_prompts(model.value)
            with gr.Row(visible=bool(ends)) as interpolation_row:  # conditional models: each end's class or caption
                second_as = gr.Dropdown([("the class of your image", ""), *ends], value="", allow_custom_value=True,
                                        label="Class of the second image", elem_id="second-as",
                                        info="Your image keeps the class (or caption) picked above it")
                frames_as = gr.Dropdown([("a blend from the first class to the second", ""), *ends], value="",
                                        allow_custom_value=True, label="Draw the frames as", elem_id="frames-as",
                                        info="One class (or caption) for every frame, or a blend of the two")
            strip = gr.Image(label="From your image to the second one", interactive=False, elem_id="edit-strip")
            animation = gr.Image(label="There and back (GIF)", interactive=False, height=256, format="gif")
        with gr.Accordion("Inpaint a painted region", open=False) as inpaint_section:
            with gr.Row():
                canvas = UploadedMask(type="filepath", image_mode=None, sources=SOURCES, height=360,
                                      label="Paint the region to redraw", layers=False, transforms=(),
                                      elem_id="inpaint-canvas")
                with gr.Column():
                    drawn_classes = _inpaint_classes(engine, model.value)
                    inpaint_prompt = gr.Textbox(label="What to put there (optional)", placeholder="a blue circle",
                                                visible=not drawn_classes)
                    inpaint_label = gr.Dropdown(_inpaint_choices(drawn_classes), value="", visible=bool(drawn_classes),
                                                label="Draw there the class", elem_id="inpaint-class",
                                                allow_custom_value=True,  # the engine checks it, with the classes
                                                info="The painted codes are redrawn as this class; the rest is kept")
                    candidates = gr.Slider(1, limits.MAX_CANDIDATES, 4, step=1, label="Candidates")
                    inpaint_seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1)
                    inpaint_button = gr.Button("Inpaint", variant="primary")
            inpainted = gr.Gallery(label="Candidates", columns=4, height=300, object_fit="contain",
                                   elem_id="inpaint-candidates")

        slider_outputs = [*sliders, *attributes]

        @user_facing
        def encode(model, reference, label=""):
            if reference is None:  # cleared: keep the last sliders' values, hide them
                return [None, None, None, None, "Drop an image on the first box to encode it.", None,
                        *[gr.update(visible=False)] * len(slider_outputs)]
            encoding = engine.encode(model, read_upload(engine, reference), label or "")
            specs = tuple(encoding.sliders)[: limits.MAX_SLIDERS]
            names = tuple(encoding.attributes)[: limits.MAX_ATTRIBUTES]
            note = encoding.summary + ("" if names or encoding.code_map is not None
                                       else ". This model has no attribute vectors.")
            right = (gr.update(value=show(encoding.code_map), label="Code map: a colour per code")
                     if encoding.code_map is not None
                     else gr.update(value=show(encoding.reconstruction), label="Edited: move the sliders"))
            return [EditSession(model, encoding.state, specs, names), show(encoding.model_input),
                    show(encoding.reconstruction), right, note, show(encoding.model_input),
                    *_slider_updates(specs), *_attribute_updates(names)]

        @user_facing
        def model_classes(model):
            return _class_row_updates(engine, model)

        model.change(model_classes, model, [class_row, encode_as, draw_as], api_name="edit_classes")

        @user_facing
        def inpaint_classes(model):
            classes = _inpaint_classes(engine, model)
            return (gr.update(choices=_inpaint_choices(classes), value="", visible=bool(classes)),
                    gr.update(visible=not classes))

        model.change(inpaint_classes, model, [inpaint_label, inpaint_prompt], api_name="inpaint_classes")

        @user_facing
        def interpolation_pickers(model):
            return _interpolation_updates(engine, model)

        model.change(interpolation_pickers, model, [interpolation_row, second_as, frames_as],
                     api_name="interpolation_classes")

        gr.on([source.change, model.change, encode_as.change], encode, inputs=[model, source, encode_as],
              outputs=[session, model_input, reconstruction, edited, summary, canvas, *slider_outputs],
              api_name="encode", **ENGINE_QUEUE)

        @user_facing
        def decode_sliders(session: EditSession | None, *values):
            session = _require_session(session)
            slider_values = list(values[: len(session.sliders)])
            strengths = dict(zip(session.attributes, values[limits.MAX_SLIDERS : limits.MAX_SLIDERS
                                                            + limits.MAX_ATTRIBUTES]))
            label, typed, typed_strength = [*values[len(slider_outputs):], "", "", 0.0][:3]  # the optional inputs
            name = str(typed or "").strip()
            if name and typed_strength:  # a typed keyword adds its own vector
                strengths[name] = strengths.get(name, 0.0) + float(typed_strength)
            return show(engine.decode_sliders(session.model, session.state, slider_values, strengths, label or ""))

        gr.on([*(control.change for control in [*slider_outputs, draw_as, keyword_strength]), keyword.submit],
              decode_sliders, inputs=[session, *slider_outputs, draw_as, keyword, keyword_strength],
              outputs=edited, api_name="decode_sliders", trigger_mode="always_last", show_progress="minimal",
              **ENGINE_QUEUE)

        @user_facing
        def reset_sliders(session: EditSession | None):
            session = _require_session(session)
            values = engine.reset_slider_values(session.model, session.state)
            return [*_slider_updates(session.sliders, values), *_attribute_updates(session.attributes)]

        reset.click(reset_sliders, inputs=session, outputs=slider_outputs, api_name="reset_sliders")

        @user_facing
        def randomise_sliders(session: EditSession | None):
            session = _require_session(session)
            values = engine.random_slider_values(session.model, session.state, random.randrange(2**31))
            return _slider_updates(session.sliders, values)

        randomise.click(randomise_sliders, inputs=session, outputs=sliders, api_name="randomise_sliders")

        @user_facing
        def interpolate(model, first, second, steps, mode, label="", second_label="", frames_label=""):
            image_a = read_upload(engine, first, "your image (the first box)")
            image_b = read_upload(engine, second, "a second image")
            result = engine.interpolate(model, image_a, image_b, steps, mode, label or "", second_label or "",
                                        frames_label or "")
            return show(result.strip), write_file(result.gif, ".gif")

        interpolate_button.click(interpolate, inputs=[model, source, second, steps, mode, encode_as, second_as,
                                                      frames_as],
                                 outputs=[strip, animation], api_name="interpolate", **ENGINE_QUEUE)

        @user_facing
        def inpaint(model, painted, prompt, count, seed, label=""):
            if not painted or painted.get("background") is None:
                raise InputError("Upload an image (first box, or in the painting area), paint a region, then Inpaint.")
            image = read_upload(engine, painted["background"])
            mask = mask_from_layers(painted["layers"], image.size, limits.MAX_PIXELS)
            candidates = engine.inpaint(model, image, mask, prompt, count, seed, label or "")
            return [show(candidate) for candidate in candidates]

        @user_facing
        def paint_on_the_encoded_image(encoded_view):
            return encoded_view  # the canvas mounts when its section opens: give it the picture then

        inpaint_section.expand(paint_on_the_encoded_image, model_input, canvas, api_name="inpaint_canvas")

        inpaint_button.click(inpaint, inputs=[model, canvas, inpaint_prompt, candidates, inpaint_seed, inpaint_label],
                             outputs=inpainted, api_name="inpaint", **ENGINE_QUEUE)

