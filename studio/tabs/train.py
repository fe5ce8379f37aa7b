"""Train: pick data and a recipe, edit its main settings, start, watch the loss, the terms of the bound (or the
codebook's health) and samples live, stop, measure the active units, save, load."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr
import pandas as pd

from studio import limits
from studio.engine_api import (
    DataSourceStatus,
    InputError,
    Recipe,
    RecipeSetting,
    StudioEngine,
    TrainingCurve,
    TrainingSettings,
    TrainingStatus,
)
from studio import archive, workspace
from studio.errors import user_facing
from studio.hosting import Hosting
from studio.plots import loss_table
from studio.tabs.shared import ENGINE_QUEUE, show, write_file
from studio.tabs.units_panel import build_units_panel, render_units

_DATA_INFO = {False: "A built-in source, or folder:PATH, idx:PATH, hf:NAME",
              True: "A built-in source, or folder:uploads/NAME after uploading your data below"}
WATCH_QUEUE = {"concurrency_id": "training_watch", "concurrency_limit": limits.WATCHERS}


def describe(status: TrainingStatus) -> str:
    loss = f", loss {status.losses[-1][1]:.4f}" if status.losses else ""
    headline = f"**{status.state.value}**: step {status.step} of {status.total_steps}{loss} (job `{status.job_id}`)"
    return f"{headline}\n\n{status.message}" if status.message else headline


def data_sources_table(statuses: list[DataSourceStatus]) -> str:
    """Markdown: every data source, whether it is here, and the command that gets the missing ones."""
    rows = [f"| `{status.name}` | {status.title} | {'yes' if status.installed else '**no**'} | "
            f"{status.note.replace('|', '/')} |" for status in statuses]
    return "\n".join(["| source | what | here | status |", "|---|---|---|---|", *rows])


def _render(status: TrainingStatus) -> tuple:
    return describe(status), loss_table(status.losses), show(status.samples)


def curve_table(curve: TrainingCurve) -> pd.DataFrame:
    return pd.DataFrame({"step": [point[0] for point in curve.points], "series": [point[1] for point in curve.points],
                         "value": [point[2] for point in curve.points]})


def curve_updates(curves: list[TrainingCurve]) -> list:
    """One update per plot slot: the run's curves in order, the slots left over hidden."""
    shown = [gr.LinePlot(curve_table(curve), label=curve.title, visible=True) for curve in curves[:limits.MAX_CURVES]]
    return shown + [gr.LinePlot(visible=False)] * (limits.MAX_CURVES - len(shown))


def setting_keys(recipes: dict[str, Recipe]) -> dict[str, RecipeSetting]:
    """Every main setting any recipe has, by key, in the order the recipes list them (one number box each)."""
    keys: dict[str, RecipeSetting] = {}
    for recipe in recipes.values():
        for setting in recipe.settings:
            keys.setdefault(setting.key, setting)
    return keys


def _box(key: str, setting: RecipeSetting | None, caps: dict[str, float], hidden_value: float) -> dict:
    """A setting box's value, visibility and help for a recipe (hidden when the recipe has no such setting; it
    still holds a number, so that API clients may leave it out)."""
    if setting is None:
        return {"value": hidden_value, "visible": False}
    most = caps.get(key)
    value = setting.value if most is None else min(setting.value, most)
    capped = f" (at most {most:g} in this hosted studio)" if most is not None else ""
    return {"value": value, "visible": True, "info": setting.help + capped}


def chosen_overrides(recipe: Recipe | None, keys: list[str], values: tuple) -> dict[str, float]:
    """The recipe's settings whose boxes differ from its own values (an empty box keeps the recipe's; the hidden
    boxes of settings the recipe has not are left out)."""
    own = {setting.key: setting.value for setting in recipe.settings} if recipe is not None else {}
    return {key: float(value) for key, value in zip(keys, values)
            if key in own and value is not None and float(value) != float(own[key])}


def build(engine: StudioEngine, hosting: Hosting | None = None) -> gr.events.Dependency:
    """Builds the tab; returns the "load into the studio" event, after which the model lists change."""
    hosting = hosting or Hosting()
    recipes: dict[str, Recipe] = {recipe.name: recipe for recipe in engine.list_recipes()}
    first = next(iter(recipes.values()), None)
    defaults = first.defaults if first else TrainingSettings(1000, 64, 1e-3, 0)
    with gr.Tab("Train", id="train"):
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                sources = engine.list_data_sources()
                data = gr.Dropdown(sources, value=first.data if first else None, allow_custom_value=True,
                                   label="Data", info=_DATA_INFO[hosting.hosted])
                if hosting.hosted:
                    with gr.Accordion("Upload your own data", open=False):
                        uploads = gr.File(label="Images, or a zip of a folder (with an optional metadata.jsonl)",
                                          file_count="multiple", file_types=["image", ".zip"], type="filepath")
                        upload_name = gr.Textbox(label="Name", placeholder="my-data")
                        upload_button = gr.Button("Upload")
                        upload_note = gr.Markdown()
                with gr.Accordion("Data sources: which are here, how to get the others", open=False):
                    gr.Markdown(data_sources_table(engine.data_source_statuses()), elem_id="data-sources")
                recipe = gr.Dropdown(list(recipes), value=first.name if first else None, label="Recipe",
                                     info=None if recipes else "No recipes found in recipes/.")
                recipe_note = gr.Markdown(first.description if first else "")
                with gr.Row():
                    steps = gr.Number(defaults.steps, label="Steps", precision=0, minimum=0, maximum=1_000_000,
                                      info="0: the recipe's own length")
                    batch_size = gr.Number(defaults.batch_size, label="Batch size", precision=0, minimum=1,
                                           maximum=4096)
                with gr.Row():
                    learning_rate = gr.Number(defaults.learning_rate, label="Learning rate", minimum=1e-7, maximum=1.0)
                    seed = gr.Number(defaults.seed, label="Seed", precision=0, minimum=0, maximum=2**31 - 1)
                known = setting_keys(recipes)
                caps = hosting.setting_caps()
                first_own = {setting.key: setting for setting in first.settings} if first else {}
                with gr.Accordion("Recipe settings (the recipe's own comments as help)", open=True):
                    setting_boxes = [
                        gr.Number(**_box(key, first_own.get(key), caps, setting.value), label=setting.label,
                                  precision=0 if setting.kind == "int" else None, minimum=setting.minimum,
                                  maximum=min(setting.maximum, caps.get(key, setting.maximum)),
                                  elem_id=f"setting-{key.replace('.', '-').replace('_', '-')}")
                        for key, setting in known.items()
                    ]
                    boxes_recipe = gr.State(first.name if first else None)  # the recipe the boxes show
                with gr.Row():
                    start = gr.Button("Start", variant="primary")
                    stop = gr.Button("Stop", variant="stop")
                    refresh = gr.Button("Refresh status")
                job = gr.Textbox(label="Training job", placeholder="filled in when you press Start")
            with gr.Column(scale=3):
                status = gr.Markdown("Pick data and a recipe, then press Start. The loss and samples show here.",
                                     elem_id="training-status")
                loss = gr.LinePlot(x="step", y="loss", label="Loss", height=260, x_title="step", y_title="loss")
                with gr.Accordion("Live curves from the run's log.jsonl: the terms of the bound, or the codebook's "
                                  "health", open=True):
                    curve_plots = [gr.LinePlot(x="step", y="value", color="series", height=200, x_title="step",
                                               y_title="", visible=False) for _ in range(limits.MAX_CURVES)]
                    curve_timer = gr.Timer(limits.CURVE_REFRESH_SECONDS, active=False)
                samples = gr.Image(label="Samples", interactive=False, height=260, elem_id="training-samples")
                units = build_units_panel("Measure this run", "training-units")
                with gr.Row():
                    folder = gr.Textbox(label="Save to folder", placeholder="runs/my-model", scale=3)
                    save = gr.Button("Save", scale=1)
                    load = gr.Button("Load into the studio", scale=1)
                saved = gr.Markdown()
                if hosting.hosted:
                    download_button = gr.Button("Download the saved folder as a zip")
                    download = gr.File(label="Download", interactive=False)

        @user_facing
        def recipe_defaults(name):
            chosen = recipes.get(name)
            if chosen is None:
                return [gr.update()] * (7 + len(setting_boxes))
            settings = chosen.defaults
            own = {setting.key: setting for setting in chosen.settings}
            return (chosen.description, chosen.data, settings.steps, settings.batch_size, settings.learning_rate,
                    settings.seed, *(gr.Number(**_box(key, own.get(key), caps, known[key].value)) for key in known), chosen.name)

        recipe.change(recipe_defaults, recipe, [recipe_note, data, steps, batch_size, learning_rate, seed,
                                                *setting_boxes, boxes_recipe], api_name="recipe_defaults")

        @user_facing
        def train_start(request: gr.Request, data, recipe_name, steps, batch_size, learning_rate, seed, boxes_for,
                        *setting_values):
            # the boxes count only when they show this recipe's settings (an API call that names another recipe
            # without /recipe_defaults first would otherwise send the first recipe's values)
            chosen = recipes.get(recipe_name)
            overrides = chosen_overrides(chosen, list(known), setting_values) if boxes_for == recipe_name else {}
            settings = TrainingSettings(int(steps or 0), int(batch_size or 0), float(learning_rate or 0), int(seed or 0),
                                        overrides)
            spec, settings = hosting.data_spec(request, data), hosting.settings(settings)

            def is_running(job_id):
                return not engine.training_status(job_id).done

            with hosting.private(request):
                return hosting.start(request, is_running, lambda: engine.start_training(spec, recipe_name, settings))

        started = start.click(train_start, [data, recipe, steps, batch_size, learning_rate, seed, boxes_recipe,
                                            *setting_boxes], job,
                              api_name="train_start", **ENGINE_QUEUE)

        @user_facing
        def train_curves(job_id, request: gr.Request):
            job_id = hosting.job(request, job_id)
            running = not engine.training_status(job_id).done
            return (*curve_updates(engine.training_curves(job_id)), gr.Timer(active=running))

        started.success(lambda: gr.Timer(active=True), None, curve_timer, api_name="train_curves_start")
        curve_timer.tick(train_curves, job, [*curve_plots, curve_timer], api_name="train_curves",
                         show_progress="hidden")

        @user_facing
        def training_units(job_id, count, request: gr.Request):
            return render_units(engine.training_latent_units(hosting.job(request, job_id), int(count or 0)))

        units.button.click(training_units, [job, units.images], units.outputs, api_name="training_units",
                           **ENGINE_QUEUE)

        @user_facing
        def train_watch(job_id, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - how Gradio injects it
            job_id = hosting.job(request, job_id)
            deadline = time.monotonic() + limits.TRAINING_WATCH_LIMIT_SECONDS
            last = None
            while True:
                status = engine.training_status(job_id)
                if (status.step, status.state) != last:
                    last = (status.step, status.state)
                    progress((status.step, max(status.total_steps, 1)), desc="Training", unit="steps")
                    yield _render(status)
                if status.done or time.monotonic() > deadline:
                    return
                time.sleep(limits.TRAINING_POLL_SECONDS)

        started.success(train_watch, job, [status, loss, samples], api_name="train_watch", **WATCH_QUEUE)

        @user_facing
        def train_poll(job_id, request: gr.Request):
            return _render(engine.training_status(hosting.job(request, job_id)))

        refresh.click(train_poll, job, [status, loss, samples], api_name="train_poll")

        @user_facing
        def train_stop(job_id, request: gr.Request):
            return _render(engine.stop_training(hosting.job(request, job_id)))

        stop.click(train_stop, job, [status, loss, samples], api_name="train_stop")

        @user_facing
        def train_save(job_id, target, request: gr.Request):
            if not str(target or "").strip():
                raise InputError("Type a folder to save into first, e.g. runs/my-model.")
            job_id = hosting.job(request, job_id)
            folder = Path(hosting.path(request, target.strip())).expanduser()
            shown = hosting.shown(request, str(folder))
            if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
                raise InputError(f"{shown} already exists and is not an empty folder. Choose a new folder name.")
            return f"Saved to `{hosting.shown(request, engine.save_training(job_id, str(folder)))}`."

        save.click(train_save, [job, folder], saved, api_name="train_save")

        @user_facing
        def train_load(job_id, request: gr.Request):
            info = engine.load_training(hosting.job(request, job_id))
            return f"Loaded as **{info.name}**: pick it in the other tabs."

        if hosting.hosted:

            @user_facing
            def upload_data(files, name, request: gr.Request):
                if not files:
                    raise InputError("Choose images, or a zip of a folder of images, to upload first.")
                name = (name or "").strip() or "my-data"
                if "/" in name:
                    raise InputError("Name the upload with one word, e.g. my-data (no /).")
                home = hosting.workspace(request)
                room = hosting.limits.workspace_bytes - workspace.folder_size(home)
                caps = archive.UploadCaps(max_total_bytes=max(0, min(archive.UploadCaps().max_total_bytes, room)))
                destination = Path(hosting.path(request, f"uploads/{name}"))
                kept, skipped = archive.unpack([str(file) for file in files], destination, caps)
                note = f"Uploaded {kept} files into `uploads/{name}`" + (f" ({skipped} other files skipped)" if skipped
                                                                         else "") + "; it is now the data to train on."
                return note, f"folder:uploads/{name}"

            upload_button.click(upload_data, [uploads, upload_name], [upload_note, data], api_name="upload_data")

            @user_facing
            def download_folder(target, request: gr.Request):
                if not str(target or "").strip():
                    raise InputError("Type the folder you saved into first, e.g. runs/my-model.")
                folder = Path(hosting.path(request, target.strip()))
                return write_file(archive.zip_folder(folder), ".zip")

            download_button.click(download_folder, folder, download, api_name="download_folder")

        return load.click(train_load, job, saved, api_name="train_load")
