"""Train: pick data and a recipe, start, watch the loss and samples live, stop, save, load."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from studio import limits
from studio.engine_api import DataSourceStatus, InputError, Recipe, StudioEngine, TrainingSettings, TrainingStatus
from studio import archive, workspace
from studio.errors import user_facing
from studio.hosting import Hosting
from studio.plots import loss_table
from studio.tabs.shared import ENGINE_QUEUE, show, write_file

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
                with gr.Row():
                    start = gr.Button("Start", variant="primary")
                    stop = gr.Button("Stop", variant="stop")
                    refresh = gr.Button("Refresh status")
                job = gr.Textbox(label="Training job", placeholder="filled in when you press Start")
            with gr.Column(scale=3):
                status = gr.Markdown("Pick data and a recipe, then press Start. The loss and samples show here.",
                                     elem_id="training-status")
                loss = gr.LinePlot(x="step", y="loss", label="Loss", height=260, x_title="step", y_title="loss")
                samples = gr.Image(label="Samples", interactive=False, height=260, elem_id="training-samples")
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
                return [gr.update()] * 6
            settings = chosen.defaults
            return (chosen.description, chosen.data, settings.steps, settings.batch_size, settings.learning_rate,
                    settings.seed)

        recipe.change(recipe_defaults, recipe, [recipe_note, data, steps, batch_size, learning_rate, seed],
                      api_name="recipe_defaults")

        @user_facing
        def train_start(data, recipe_name, steps, batch_size, learning_rate, seed, request: gr.Request):
            settings = TrainingSettings(int(steps or 0), int(batch_size or 0), float(learning_rate or 0), int(seed or 0))
            spec, settings = hosting.data_spec(request, data), hosting.settings(settings)

            def is_running(job_id):
                return not engine.training_status(job_id).done

            with hosting.private(request):
                return hosting.start(request, is_running, lambda: engine.start_training(spec, recipe_name, settings))

        started = start.click(train_start, [data, recipe, steps, batch_size, learning_rate, seed], job,
                              api_name="train_start", **ENGINE_QUEUE)

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
