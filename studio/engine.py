"""Engine: the studio's engine protocol over vaestudio. The only studio module that imports vaestudio or torch.

Every method takes and returns plain Python, PIL and numpy values (see :mod:`studio.engine_api`); tensors
never leave this file; vaestudio's errors become StudioErrors that say what to do. It is an adapter and does
no numeric work: ``vaestudio.hub`` describes models (family, summary, card,
metrics), ``vaestudio.pipelines.capabilities`` says what each can do, the pipelines return their own metrics
(PSNR, codebook perplexity), ``vaestudio.training.catalogue`` lists and re-sizes recipes, and
``vaestudio.describe_backend`` is what ``vaestudio info`` prints. The request limits both engines
enforce are ``REQUEST_LIMITS`` (``vaestudio.common.limits``, which imports no torch).
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from studio.catalogue import Catalogue
from studio.engine_api import (
    Capability,
    CodebookUsage,
    CodeMaps,
    DataSourceStatus,
    Encoding,
    Generation,
    InputError,
    Interpolation,
    LatentScatter,
    LatentUnitsReport,
    LessonSummary,
    LessonView,
    ModelError,
    ModelInfo,
    Recipe,
    RecipeSetting,
    ScoredImage,
    SliderSpec,
    TrainingCurve,
    TrainingSettings,
    TrainingStatus,
)
from studio.jobs import TrainingJobs
from vaestudio.common import limits as REQUEST_LIMITS  # noqa: F401  (for the fake engine; no torch)

log = logging.getLogger(__name__)
PHOTO_KIND = "photo_editing"  # the bundle kind of the general image model (pretrained/photos)

REPOSITORY = Path(__file__).resolve().parent.parent


def read_image(source: str | bytes, max_pixels: int) -> Image.Image:
    """An upload through vaestudio's policy: pixel cap before decoding, EXIF, alpha, modes, frames."""
    from vaestudio.data.images import ImageError, load_image

    try:
        return load_image(source, max_pixels=max_pixels)
    except ImageError as error:  # ImageTooLargeError is an ImageError; both carry a clear message
        message = str(error)
        if isinstance(source, str):  # name the user's file, not the server's upload cache
            message = message.replace(source, Path(source).name)
        raise InputError(message.rstrip(".") + ".") from None


@contextlib.contextmanager
def _user_errors():
    """vaestudio's own user-facing errors (bad names, bad arguments, bad files) as StudioErrors."""
    from vaestudio.checkpoints import CheckpointError
    from vaestudio.hub import ModelNotFoundError

    try:
        yield
    except (ModelNotFoundError, CheckpointError) as error:
        raise ModelError(str(error).strip().rstrip(".") + ".") from None
    except ValueError as error:  # the pipelines' argument checks, RecipeError, ImageError: clear messages
        raise InputError(str(error).strip().rstrip(".") + ".") from None


class Engine:
    def __init__(self, models_dir: str | Path | None = None, runs_dir: str | Path | None = None,
                 max_trainings: int = 1, training_time_limit: float | None = None,
                 setting_caps: Mapping[str, float] | None = None):
        from vaestudio.hub import pretrained_directory, shipped_names

        self.models_dir = Path(models_dir or pretrained_directory())
        self.runs_dir = Path(runs_dir) if runs_dir else Path(tempfile.gettempdir()) / "vaestudio-runs"
        self._models: Catalogue[Any] = Catalogue()  # ServedModel by name
        self._jobs = TrainingJobs(max_running=max_trainings, time_limit_seconds=training_time_limit)
        self._setting_caps = dict(setting_caps or {})  # hosted: the most a recipe setting may be (IWAE k...)
        self._run_dirs: dict[str, Path] = {}  # job id -> the run's folder (its log.jsonl)
        for name in shipped_names(str(self.models_dir)):
            try:
                self._add(self.models_dir / name, source="shipped")
            except Exception:  # one broken model must not keep the studio from starting
                log.exception("could not load the model %s; the studio starts without it", name)

    def _add(self, name_or_path: str | Path, source: str, name: str | None = None) -> ModelInfo:
        from vaestudio.pipelines.served import ServedModel

        with _user_errors():
            loaded = ServedModel(str(name_or_path))
        described = loaded.description
        info = ModelInfo(self._models.unique_name(name or described.name), described.family, described.summary,
                         described.card or "No model card (README.md) in this model's folder.",
                         described.headline_metrics, frozenset(map(Capability, loaded.capabilities)),
                         described.image_size, source)
        self._models.add(info, loaded)
        return info

    def list_models(self) -> list[ModelInfo]:
        return self._models.infos()

    def load_folder(self, path_or_hub_id: str) -> ModelInfo:
        spec = (path_or_hub_id or "").strip()
        if not spec:
            raise InputError("Type the path of a model folder (or a Hub id such as owner/name) first.")
        return self._add(spec, source=spec)

    def backend_info(self) -> str:
        from vaestudio import describe_backend

        return describe_backend()

    def read_image(self, source: str | bytes, max_pixels: int) -> Image.Image:
        return read_image(source, max_pixels)


    def _text_to_image(self, model: str):
        _, loaded = self._models.require(model, Capability.TEXT_TO_IMAGE)
        return loaded.pipeline("text_to_image")

    def text_to_image(
        self, model, prompt, num_images, seed, temperature, top_k, rerank, guidance=0.0, regions=True
    ) -> Generation:
        pipeline = self._text_to_image(model)
        with _user_errors():
            result = pipeline(prompt, **_sampling(num_images, seed, temperature, top_k, rerank, guidance, regions))
        return _generation(result)

    def text_to_image_stream(
        self, model, prompt, num_images, seed, temperature, top_k, rerank, guidance=0.0, regions=True
    ) -> Iterator[Generation]:
        pipeline = self._text_to_image(model)
        with _user_errors():
            # about four progressive frames whatever the code map's height: each frame costs a sampler
            # call over the rows so far, a decode and a round trip to the browser
            rows_per_frame = max(1, pipeline.code_map_shape[0] // STREAM_FRAMES)
            sampling = _sampling(num_images, seed, temperature, top_k, rerank, guidance, regions)
            for frame in pipeline.stream(prompt, **sampling, rows_per_frame=rows_per_frame):
                yield _generation(frame)


    def _editor(self, model: str, capability: Capability):
        _, loaded = self._models.require(model, capability)
        with _user_errors():
            return loaded.pipeline("editor")

    def model_classes(self, model: str) -> list[str]:
        infos = {info.name: info for info in self.list_models()}
        if model not in infos or not infos[model].capabilities:
            return []
        _, loaded = self._models.require(model, next(iter(infos[model].capabilities)))
        try:
            return loaded.pipeline("editor").class_names()
        except (TypeError, ValueError):  # nothing to edit: no classes to pick
            return []

    def model_prompts(self, model: str) -> list[str]:
        """A text-conditional model's example prompts (its neutral prompt first), else []."""
        editor = self._any_editor(model)
        return editor.example_prompts() if editor is not None else []

    def interpolation_classes(self, model: str) -> list[str]:
        """The classes each end of an interpolation can be given (a class-conditional model), else []."""
        infos = {info.name: info for info in self.list_models()}
        editor = self._any_editor(model) if model in infos and infos[model].can(Capability.INTERPOLATE) else None
        return editor.latent_class_names() if editor is not None else []

    def _any_editor(self, model: str):
        """The editor of ``model`` whatever it is asked for, or None (an unknown model, nothing to edit)."""
        infos = {info.name: info for info in self.list_models()}
        if model not in infos or not infos[model].capabilities:
            return None
        _, loaded = self._models.require(model, next(iter(infos[model].capabilities)))
        try:
            return loaded.pipeline("editor")
        except (TypeError, ValueError):
            return None

    def encode(self, model: str, image: Image.Image, label: str = "") -> Encoding:
        photos = self._photo_models()
        routed = self._photo_route(model, image, photos)
        if routed is not None:
            return self._encode_photo(model, image, *routed)
        editor = self._editor(model, Capability.ENCODE)
        with _user_errors():
            encoded = editor.encode(image, _condition(editor, label, editor.latent_class_names(),
                                                      default_first=True))
            specs = _slider_specs(editor, encoded)
            attributes = tuple(editor.attribute_names())
        read = f"; read the prompt {encoded.condition!r}" if isinstance(encoded.condition, str) else ""
        return Encoding(encoded, encoded.image, encoded.reconstruction, specs, attributes,
                        f"{len(specs)} latent sliders; reconstruction PSNR {encoded.psnr:.1f} dB{read}"
                        f"{self._photo_offer(model, image, photos)}")

    def decode_sliders(self, model, state, slider_values: Sequence[float], attribute_strengths: Mapping[str, float],
                       label: str = ""):
        _require_state(state)
        if _is_photo_state(state):  # a photo has no sliders: its reconstruction is what there is
            return state.reconstruction
        editor = self._editor(model, Capability.ENCODE)
        with _user_errors():
            return editor.decode(state, [float(value) for value in slider_values], dict(attribute_strengths),
                                 _condition(editor, label, editor.latent_class_names()))

    def random_slider_values(self, model: str, state, seed: int) -> list[float]:
        """Values drawn around the middle of each slider's range (a normal with a sixth of it as spread)."""
        _require_state(state)
        if _is_photo_state(state):
            return []
        editor = self._editor(model, Capability.ENCODE)
        with _user_errors():
            return editor.random_slider_values(state, int(seed))

    def reset_slider_values(self, model: str, state) -> list[float]:
        _require_state(state)
        if _is_photo_state(state):
            return []
        editor = self._editor(model, Capability.ENCODE)
        return [spec.value for spec in _slider_specs(editor, state)]

    def interpolate(self, model, image_a, image_b, steps, mode, label: str = "", second_label: str = "",
                    frames_label: str = "") -> Interpolation:
        editor = self._editor(model, Capability.INTERPOLATE)
        with _user_errors():
            latent_classes = editor.latent_class_names()
            result = editor.interpolate(image_a, image_b, int(steps), mode,
                                        _condition(editor, label, latent_classes, default_first=True),
                                        second_condition=_condition(editor, second_label, latent_classes),
                                        frame_condition=_condition(editor, frames_label, latent_classes))
        return Interpolation(result.strip, result.gif)

    def inpaint(self, model, image, mask, prompt, num_candidates, seed, label: str = "") -> list[Image.Image]:
        routed = self._photo_route(model, image, self._photo_models())
        if routed is not None:
            return self._inpaint_photo(image, mask, num_candidates, seed, routed[1])
        editor = self._editor(model, Capability.INPAINT)
        with _user_errors():
            result = editor.inpaint(image, mask, prompt or "", int(num_candidates), int(seed),
                                    label=_class_index(editor.class_names(), label))
        return [item.image for item in result]


    def manifold_grid(self, model: str, n: int, label: str = "") -> Image.Image:
        editor = self._editor(model, Capability.MANIFOLD)
        with _user_errors():
            return editor.manifold_grid(int(n), _condition(editor, label, editor.latent_class_names()))

    def list_data_sources(self) -> list[str]:
        from vaestudio.data import KNOWN_SPECS

        return [spec for spec in KNOWN_SPECS if ":" not in spec]

    def latent_scatter(self, model: str, data_spec: str, n: int) -> LatentScatter:
        editor = self._editor(model, Capability.SCATTER)
        spec = (data_spec or "").strip() or None  # None: the data the model was trained on
        with _user_errors():
            scatter = editor.latent_scatter(spec, int(n))
        return LatentScatter([float(x) for x, _ in scatter.points], [float(y) for _, y in scatter.points],
                             [label or "(no label)" for label in scatter.labels], scatter.x_title, scatter.y_title,
                             state=scatter)  # the state decodes: scatter.decode(x, y)

    def decode_point(self, model: str, state, x: float, y: float) -> Image.Image:
        self._editor(model, Capability.SCATTER)
        if state is None:
            raise InputError("Draw a latent scatter first, then pick a point on it.")
        with _user_errors():
            return state.decode(float(x), float(y))

    def codebook_usage(self, model: str) -> CodebookUsage:
        editor = self._editor(model, Capability.CODEBOOK)
        with _user_errors():
            usage = editor.codebook_usage()
        return CodebookUsage([int(count) for count in usage.counts], round(usage.perplexity, 1), usage.dead_codes,
                             usage.measured_on)

    def code_maps(self, model: str, image: Image.Image) -> CodeMaps:
        editor = self._editor(model, Capability.CODEBOOK)
        if image is None:
            raise InputError("Upload an image first: its code maps are drawn.")
        with _user_errors():
            view = editor.code_maps(image)
        return CodeMaps(view.reconstruction, [level.picture for level in view.levels],
                        [level.caption for level in view.levels],
                        f"Reconstruction from these codes: PSNR {view.psnr:.1f} dB. One colour per code.")

    def prior_samples(self, model: str, n: int, seed: int, label: str = "") -> Image.Image:
        from vaestudio.pipelines.convert import grid

        editor = self._editor(model, Capability.PRIOR)
        with _user_errors():
            samples = editor.sample(int(n), seed=int(seed),
                                    condition=_condition(editor, label, editor.class_names()))
        return grid(samples, columns=math.isqrt(len(samples) - 1) + 1, gap=2)

    def data_source_statuses(self) -> list[DataSourceStatus]:
        from vaestudio.data.catalogue import describe, list_sources

        return [DataSourceStatus(entry["name"], entry["title"], entry["installed"], describe(entry))
                for entry in list_sources()]

    def list_lessons(self) -> list[LessonSummary]:
        from vaestudio.lessons import list_lessons

        return [LessonSummary(lesson.name, lesson.number, lesson.title, lesson.control.label, lesson.control.minimum,
                              lesson.control.maximum, lesson.control.step, lesson.control.default, lesson.control.info)
                for lesson in list_lessons()]

    def render_lesson(self, name: str, value: float) -> LessonView:
        from vaestudio.lessons import render

        with _user_errors():  # an unknown lesson, a value out of range, a model not shipped (LessonError)
            result = render(name, value)
        return LessonView(result.name, result.title, result.paragraph, result.figure, result.numbers, result.value,
                          result.models, result.seconds)

    def list_recipes(self) -> list[Recipe]:
        from vaestudio.training.catalogue import list_recipes

        return [Recipe(item.name, item.description, item.data,
                       TrainingSettings(item.steps, item.batch_size, item.learning_rate, item.seed),
                       tuple(RecipeSetting(setting.key, setting.label, setting.value, setting.help, setting.kind,
                                           setting.minimum, setting.maximum) for setting in item.settings))
                for item in list_recipes(str(REPOSITORY / "recipes"))]

    def start_training(self, data_spec: str, recipe: str, settings: TrainingSettings) -> str:
        from vaestudio.training import train
        from vaestudio.training.catalogue import prepare_run

        with _user_errors():
            configured = prepare_run(str(REPOSITORY / "recipes"), recipe, data_spec, settings.steps,
                                     settings.batch_size, settings.learning_rate, settings.seed,
                                     settings.overrides, self._setting_caps)
        out_dir = self.runs_dir / f"{recipe}-{uuid.uuid4().hex[:8]}"

        def run(report, stop_event: threading.Event) -> Path:
            on_progress = lambda event: report(event.step, event.loss, event.sample_grid, event.total_steps)
            with _user_errors():
                result = train(configured, str(out_dir), progress_callback=on_progress, stop_event=stop_event)
            return Path(result.out_dir)

        job_id = self._jobs.start(run, settings.steps or 1, f"Training {recipe} on {data_spec}")
        self._run_dirs[job_id] = out_dir
        return job_id

    def training_curves(self, job_id: str) -> list[TrainingCurve]:
        from vaestudio.training.run_readings import read_curves

        self._jobs.status(job_id)  # an unknown job: the same InputError as a poll
        folder = self._run_dirs.get(job_id.strip())
        return [] if folder is None else [TrainingCurve(curve.name, curve.title, curve.points)
                                          for curve in read_curves(str(folder))]

    def latent_units(self, model: str, n: int) -> LatentUnitsReport:
        entry = self._models.get(model)
        if entry is None:
            self._models.require(model, Capability.ENCODE)  # the catalogue's "no such model" error
        info, loaded = entry
        return _latent_units(loaded.model, info.name, info.family, int(n), self._vae_names())

    def training_latent_units(self, job_id: str, n: int) -> LatentUnitsReport:
        from vaestudio.hub import load

        trained: Path = self._jobs.result(job_id)
        with _user_errors():
            model = load(str(trained))
        return _latent_units(model, f"the run {job_id}", model.model_type, int(n), self._vae_names())

    def _vae_names(self) -> list[str]:
        return [info.name for info in self.list_models() if _model_type(self._models.get(info.name)[1].model) == "vae"]

    def training_status(self, job_id: str) -> TrainingStatus:
        return self._jobs.status(job_id)

    def stop_training(self, job_id: str) -> TrainingStatus:
        return self._jobs.stop(job_id)

    def save_training(self, job_id: str, folder: str) -> str:
        trained: Path = self._jobs.result(job_id)
        target = Path(folder).expanduser()
        shutil.copytree(trained, target, dirs_exist_ok=True)
        return str(target)

    def load_training(self, job_id: str) -> ModelInfo:
        trained: Path = self._jobs.result(job_id)
        return self._add(trained, source="trained in the studio", name=f"trained-{trained.name}")

    # -- photos: uploads from outside a model's world go to the general image model ---------------------
    def _photo_models(self) -> list[tuple[str, Any]]:
        """(name, ServedModel) of every served photos bundle (kind "photo_editing")."""
        served = []
        for info in self.list_models():
            if info.can(Capability.ENCODE):
                _, loaded = self._models.require(info.name, Capability.ENCODE)
                if loaded.description.kind == PHOTO_KIND:
                    served.append((info.name, loaded))
        return served

    def _photo_route(self, model: str, image: Image.Image,
                     photos: list[tuple[str, Any]]) -> tuple[str, Any] | None:
        """(name, PhotoEditing) when the photos model encodes this upload: it is the model picked, or the upload
        is not from the picked model's world (:func:`_from_model_world`) and a photos model (of ``photos``, from
        :meth:`_photo_models`) is served."""
        for name, loaded in photos:
            if name == model:
                return name, loaded.pipeline("photo_editing")
        infos = {info.name: info for info in self.list_models()}
        if not photos or model not in infos or image is None:
            return None
        if _from_model_world(image.size, infos[model].image_size):
            return None
        name, loaded = photos[0]
        return name, loaded.pipeline("photo_editing")

    def _photo_offer(self, model: str, image: Image.Image, photos: list[tuple[str, Any]]) -> str:
        """For an upload fitted to a model's size while a photos model is served: the words that offer it."""
        info, _ = self._models.require(model, Capability.ENCODE)
        size = info.image_size
        if not photos or tuple(image.size) == (size, size):
            return ""
        return (f"; your {image.width}x{image.height} upload was fitted to {model}'s {size}x{size} pictures "
                f"(pick {photos[0][0]} to encode it at its own size)")

    def _encode_photo(self, model: str, image: Image.Image, photos: str, editing) -> Encoding:
        with _user_errors():
            encoded = editing.encode(image)
        infos = {info.name: info for info in self.list_models()}
        if photos == model:
            who = f"Encoded by {photos} (general image VQ-VAE, any size)"
        else:
            size = infos[model].image_size if model in infos else 0
            who = (f"Encoded by {photos} (general image VQ-VAE), not {model}: your {image.width}x{image.height} "
                   f"upload is not from {model}'s world ({size}x{size} pictures)")
        summary = f"{who}. {encoded.summary}. Right: the code map, a colour per code"
        return Encoding(encoded, encoded.image, encoded.reconstruction, (), (), summary, encoded.code_map)

    def _inpaint_photo(self, image, mask, num_candidates, seed, editing) -> list[Image.Image]:
        with _user_errors():
            return list(editing.inpaint(image, mask, int(num_candidates), int(seed)).images)


STREAM_FRAMES = 4  # progressive frames while text-to-image samples


def _sampling(num_images, seed, temperature, top_k, rerank, guidance=0.0, regions=True) -> dict[str, Any]:
    """The pipeline's keyword arguments; temperature or guidance 0 (or None) leaves the model's own default."""
    return {"num_images": int(num_images), "rerank": max(int(rerank), int(num_images)), "seed": int(seed),
            "temperature": float(temperature) if temperature else None, "top_k": int(top_k),
            "guidance_scale": float(guidance) if guidance else None, "regions": bool(regions)}


def _generation(result) -> Generation:
    """A TextToImageResult or StreamFrame (which also counts the rows sampled so far) -> Generation."""
    return Generation([ScoredImage(item.image, item.score) for item in result.images], result.prompt,
                      tuple(result.warnings), getattr(result, "rows_done", 1), getattr(result, "total_rows", 1))


def _class_index(names: list[str], label: str, default_first: bool = False) -> int | None:
    """A class picker's label -> its index among ``names``, the classes the call takes (the editor's
    ``class_names``: what a model draws; ``latent_class_names``: what its encoder and decoder take). "" -> None
    (the editor chooses: every class in turn for samples and inpainting, the first for a manifold), or the first
    class where one is needed (encoding); without classes the label is ignored."""
    if not names:
        return None
    if not label:
        return 0 if default_first else None
    if label not in names:
        raise InputError(f"This model draws the classes {', '.join(names)}; pick one of them, not {label!r}.")
    return names.index(label)


def _model_type(model) -> str:
    return getattr(model, "model_type", "bundle")  # a bundle (VQ-VAE + prior + scorer) has none of its own


def _latent_units(model, name: str, family: str, n: int, vae_names: list[str]) -> LatentUnitsReport:
    from vaestudio.evaluation.latent_units import measure_latent_units

    if _model_type(model) != "vae":
        able = f"Models that have one: {', '.join(vae_names)}." if vae_names else "Load or train a VAE first."
        raise ModelError(f"{name} ({family}) has no Gaussian latent: active units are measured on VAEs. {able}")
    with _user_errors():
        measured = measure_latent_units(model, None, n)
    return LatentUnitsReport(measured["active_units"], tuple(measured["unit_activity"]),
                             tuple(measured["kl_per_dimension"]), measured["threshold"], measured["measured_on"])


def _condition(editor, label: str, names: list[str], default_first: bool = False) -> int | str | None:
    """A picker's label -> what the model is conditioned on: the prompt itself for a text-conditional model
    ("" -> None, the editor's choice, or with ``default_first`` its neutral prompt), else the index of the
    class among ``names`` (:func:`_class_index`)."""
    if editor.space.condition_kind == "text":
        return label if label or default_first else None
    return _class_index(names, label, default_first)


PHOTO_SIDE = 4  # an upload whose shorter side is this many times a model's side is a photo, not from its world


def _from_model_world(upload_size: tuple[int, int], model_size: int) -> bool:
    """Whether an upload of ``upload_size`` (width, height) belongs to a model drawing ``model_size`` squares: a
    picture of about its size (shorter side under ``PHOTO_SIDE`` times its side), or one of its pictures enlarged
    (a square of a whole multiple of its side, as the studio shows them). Larger uploads go to the photos model."""
    width, height = upload_size
    if width == height and model_size and width % model_size == 0:
        return True
    return min(width, height) < PHOTO_SIDE * model_size


def _is_photo_state(state) -> bool:
    return hasattr(state, "code_map") and hasattr(state, "codes")


def _require_state(state) -> None:
    if state is None:
        raise InputError("Upload an image to edit first.")


def _slider_specs(editor, encoded) -> list[SliderSpec]:
    return [SliderSpec(spec.label, spec.minimum, spec.maximum, spec.step, spec.value)
            for spec in editor.slider_specs(encoded)]
