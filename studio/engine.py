"""Engine: the studio's engine protocol over vaestudio. The only studio module that imports vaestudio or torch.

Every method takes and returns plain Python, PIL and numpy values (see :mod:`studio.engine_api`);
tensors never leave this file. vaestudio's own errors become :class:`studio.engine_api.StudioError`
subclasses with messages that say what to do.

It drives ``vaestudio.load`` and ``vaestudio.hub``, the pipelines
(``vaestudio.pipelines.text_to_image.TextToImage``, ``vaestudio.pipelines.editing.Editor``), the
upload policy (``vaestudio.data.images.load_image``) and training (``vaestudio.training.train``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from studio.catalogue import Catalogue
from studio.engine_api import (
    Capability,
    CodebookUsage,
    Encoding,
    Generation,
    InputError,
    Interpolation,
    LatentScatter,
    LessonSummary,
    LessonView,
    ModelError,
    ModelInfo,
    Recipe,
    ScoredImage,
    SliderSpec,
    TrainingSettings,
    TrainingStatus,
)
from studio.jobs import TrainingJobs

log = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parent.parent


def upload_policy_available() -> bool:
    """Whether vaestudio's upload policy (`vaestudio.data.images`) is installed yet."""
    try:
        return importlib.util.find_spec("vaestudio.data.images") is not None
    except ModuleNotFoundError:
        return False


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


KIND_FAMILIES = {
    "text_to_image": "VQ-VAE + text-conditioned PixelCNN prior",
    "vae": "VAE",
    "vqvae": "VQ-VAE",
    "dvae": "dVAE",
    "pixelcnn_prior": "PixelCNN prior",
    "contrastive_scorer": "text-image scorer",
}


@contextlib.contextmanager
def _user_errors():
    """vaestudio's own user-facing errors (bad names, bad arguments, bad files) as StudioErrors."""
    from vaestudio.hub import ModelNotFoundError
    from vaestudio.models.base import CheckpointError

    try:
        yield
    except (ModelNotFoundError, CheckpointError) as error:
        raise ModelError(_sentence(error)) from None
    except ValueError as error:  # the pipelines' argument checks, RecipeError, ImageError: clear messages
        raise InputError(_sentence(error)) from None


def _sentence(error: Exception) -> str:
    return str(error).strip().rstrip(".") + "."


@dataclass
class _Loaded:
    """A model the engine serves (what vaestudio.load returned), with its pipelines built on first use."""

    model: Any  # a StudioModel, or a Bundle of them
    kind: str
    _pipelines: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def component(self, role: str):
        """The bundle's component for `role` (e.g. "vqvae"), or the model itself when it is no bundle."""
        return self.model.get(role) if hasattr(self.model, "components") else self.model

    def pipeline(self, kind: str) -> Any:
        with self._lock:
            if kind not in self._pipelines:
                if kind == "text_to_image":
                    from vaestudio.pipelines.text_to_image import TextToImage

                    self._pipelines[kind] = TextToImage(self.model)
                else:
                    from vaestudio.pipelines.editing import Editor

                    self._pipelines[kind] = Editor(self.model)
            return self._pipelines[kind]


class Engine:
    def __init__(self, models_dir: str | Path | None = None, runs_dir: str | Path | None = None):
        self.models_dir = Path(models_dir) if models_dir else pretrained_directory()
        self.runs_dir = Path(runs_dir) if runs_dir else Path(tempfile.gettempdir()) / "vaestudio-runs"
        self._models: Catalogue[_Loaded] = Catalogue()
        self._jobs = TrainingJobs(max_running=1)
        for folder in shipped_model_folders(self.models_dir):
            try:
                self._add(folder, source="shipped")
            except Exception:  # one broken model must not keep the studio from starting
                log.exception("could not load the model in %s; the studio starts without it", folder)

    # ----------------------------------------------------------------- models

    def _add(self, name_or_path: str | Path, source: str, name: str | None = None) -> ModelInfo:
        import vaestudio
        from vaestudio import hub

        with _user_errors():
            folder = hub.resolve(str(name_or_path))
            description = hub.describe(folder)
            model = vaestudio.load(folder)
        loaded = _Loaded(model, description.kind)
        config = getattr(loaded.component("vqvae"), "config", None)
        info = ModelInfo(
            name=self._models.unique_name(name or description.name),
            family=_family(description.kind, config),
            summary=_summary(description.kind, config),
            card=description.card or "No model card (README.md) in this model's folder.",
            metrics=_headline_metrics(description.metrics),
            capabilities=_capabilities(loaded),
            image_size=int(getattr(config, "image_size", 0) or 0),
            source=source,
        )
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
        import torch

        import vaestudio
        from vaestudio.ops import backend

        active = backend()
        return "\n".join([
            f"vaestudio {vaestudio.__version__}, torch {torch.__version__}",
            f"operators: {active.name} (CUDA kernels: {'yes' if active.cuda else 'no'})",
            f"why: {active.reason}",
            f"CUDA device: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}",
            f"CPU threads: {torch.get_num_threads()}",
        ])

    def read_image(self, source: str | bytes, max_pixels: int) -> Image.Image:
        return read_image(source, max_pixels)

    # ----------------------------------------------------------------- text to image

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

    # ----------------------------------------------------------------- edit

    def _editor(self, model: str, capability: Capability):
        _, loaded = self._models.require(model, capability)
        with _user_errors():
            return loaded.pipeline("editor")

    def encode(self, model: str, image: Image.Image) -> Encoding:
        editor = self._editor(model, Capability.ENCODE)
        with _user_errors():
            encoded = editor.encode(image)
            specs = _slider_specs(editor, encoded)
            attributes = tuple(editor.attribute_names())
        psnr = _psnr(encoded.image, encoded.reconstruction)
        return Encoding(encoded, encoded.image, encoded.reconstruction, specs, attributes,
                        f"{len(specs)} latent sliders; reconstruction PSNR {psnr:.1f} dB")

    def decode_sliders(self, model, state, slider_values: Sequence[float], attribute_strengths: Mapping[str, float]):
        editor = self._editor(model, Capability.ENCODE)
        _require_state(state)
        with _user_errors():
            return editor.decode(state, [float(value) for value in slider_values], dict(attribute_strengths))

    def random_slider_values(self, model: str, state, seed: int) -> list[float]:
        """Values drawn around the middle of each slider's range (a normal with a sixth of it as spread)."""
        editor = self._editor(model, Capability.ENCODE)
        _require_state(state)
        specs = _slider_specs(editor, state)
        draws = np.random.default_rng(int(seed)).normal(0.0, 1.0, len(specs))
        return [
            round(float(np.clip((spec.minimum + spec.maximum) / 2 + draw * (spec.maximum - spec.minimum) / 6,
                                spec.minimum, spec.maximum)), 4)
            for draw, spec in zip(draws, specs)
        ]

    def reset_slider_values(self, model: str, state) -> list[float]:
        editor = self._editor(model, Capability.ENCODE)
        _require_state(state)
        return [spec.value for spec in _slider_specs(editor, state)]

    def interpolate(self, model, image_a, image_b, steps, mode) -> Interpolation:
        editor = self._editor(model, Capability.INTERPOLATE)
        with _user_errors():
            result = editor.interpolate(image_a, image_b, int(steps), mode)
        return Interpolation(result.strip, result.gif)

    def inpaint(self, model, image, mask, prompt, num_candidates, seed) -> list[Image.Image]:
        editor = self._editor(model, Capability.INPAINT)
        with _user_errors():
            result = editor.inpaint(image, mask, prompt or "", int(num_candidates), int(seed))
        return [item.image for item in result]

    # ----------------------------------------------------------------- explore

    def manifold_grid(self, model: str, n: int) -> Image.Image:
        editor = self._editor(model, Capability.MANIFOLD)
        with _user_errors():
            return editor.manifold_grid(int(n))

    def list_data_sources(self) -> list[str]:
        from vaestudio.data import KNOWN_SPECS

        return [spec for spec in KNOWN_SPECS if ":" not in spec]

    def latent_scatter(self, model: str, data_spec: str, n: int) -> LatentScatter:
        editor = self._editor(model, Capability.SCATTER)
        spec = (data_spec or "").strip() or None  # None: the data the model was trained on
        with _user_errors():
            try:
                scatter = editor.latent_scatter(spec, int(n))
            except RuntimeError as error:  # the source's images do not fit the model (channels, size)
                if spec is None:
                    raise
                raise InputError(f"{model} cannot encode the images of {spec!r} ({error}). Pick the model's "
                                 "training data, or a source like the one it was trained on.") from None
        points = np.asarray(scatter.points, dtype=np.float64)  # (N, 2)
        return LatentScatter(points[:, 0].round(4).tolist(), points[:, 1].round(4).tolist(),
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
        counts = [int(count) for count in np.asarray(usage.counts).ravel()]
        total = max(sum(counts), 1)
        probabilities = np.array([count / total for count in counts if count > 0])
        perplexity = float(np.exp(-(probabilities * np.log(probabilities)).sum())) if probabilities.size else 0.0
        return CodebookUsage(counts, round(perplexity, 1), counts.count(0), usage.measured_on)

    def prior_samples(self, model: str, n: int, seed: int) -> Image.Image:
        from vaestudio.pipelines.convert import grid

        editor = self._editor(model, Capability.PRIOR)
        with _user_errors():
            samples = editor.sample(int(n), seed=int(seed))
        return grid(samples, columns=int(np.ceil(np.sqrt(len(samples)))), gap=2)

    # ----------------------------------------------------------------- learn

    def list_lessons(self) -> list[LessonSummary]:
        from vaestudio.lessons import list_lessons

        return [LessonSummary(lesson.name, lesson.number, lesson.title, lesson.control.label, lesson.control.minimum,
                              lesson.control.maximum, lesson.control.step, lesson.control.default, lesson.control.info)
                for lesson in list_lessons()]

    def render_lesson(self, name: str, value: float) -> LessonView:
        from vaestudio.lessons import LessonError, render

        try:
            result = render(name, value)
        except LessonError as error:  # an unknown lesson, a value out of range, a model not shipped
            raise InputError(_sentence(error)) from None
        return LessonView(result.name, result.title, result.paragraph, result.figure, result.numbers, result.value,
                          result.models, result.seconds)

    # ----------------------------------------------------------------- train

    def list_recipes(self) -> list[Recipe]:
        recipes = []
        for path in sorted((REPOSITORY / "recipes").glob("*.toml")):
            try:
                recipes.append(_read_recipe(path))
            except Exception:  # a recipe being written right now must not break the tab
                log.warning("skipping the recipe %s: it does not load", path, exc_info=True)
        return recipes

    def start_training(self, data_spec: str, recipe: str, settings: TrainingSettings) -> str:
        from vaestudio.training import load_recipe, train

        path = REPOSITORY / "recipes" / f"{recipe}.toml"
        if not path.is_file():
            raise InputError(f"There is no recipe {recipe!r}. Pick one of the listed recipes.")
        with _user_errors():
            configured = _configured_recipe(load_recipe(str(path)), data_spec, settings)
        out_dir = self.runs_dir / f"{recipe}-{uuid.uuid4().hex[:8]}"

        def run(report, stop_event: threading.Event) -> Path:
            def on_progress(event) -> None:
                report(event.step, event.loss, event.sample_grid, event.total_steps)

            with _user_errors():
                result = train(configured, str(out_dir), progress_callback=on_progress, stop_event=stop_event)
            return Path(result.out_dir)

        return self._jobs.start(run, settings.steps or 1, f"Training {recipe} on {data_spec}")

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


# --------------------------------------------------------------------------- models, recipes, results


STREAM_FRAMES = 4  # progressive frames while text-to-image samples


def pretrained_directory() -> Path:
    """pretrained/ in the repository, or VAESTUDIO_PRETRAINED (as vaestudio.hub reads it)."""
    return Path(os.environ.get("VAESTUDIO_PRETRAINED") or REPOSITORY / "pretrained")


def shipped_model_folders(models_dir: Path) -> list[Path]:
    """The model folders (config.json) and bundle folders (bundle.json) directly under `models_dir`."""
    from vaestudio.hub import FEATURED_ORDER

    if not models_dir.is_dir():
        return []
    folders = [folder for folder in models_dir.iterdir()
               if (folder / "config.json").is_file() or (folder / "bundle.json").is_file()]

    def flagship_first(folder: Path) -> tuple[int, str]:
        rank = FEATURED_ORDER.index(folder.name) if folder.name in FEATURED_ORDER else len(FEATURED_ORDER)
        return rank, folder.name

    return sorted(folders, key=flagship_first)


def _family(kind: str, config) -> str:
    family = KIND_FAMILIES.get(kind, kind)
    if kind == "vae" and getattr(config, "beta", 1.0) != 1.0:
        family = "beta-VAE"
    if kind == "vae" and getattr(config, "condition", "none") not in (None, "none"):
        family = "conditional VAE"
    if kind == "vqvae" and getattr(config, "levels", 1) == 2:
        family = "VQ-VAE-2"
    return family


def _summary(kind: str, config) -> str:
    parts = [_family(kind, config)]
    if getattr(config, "latent_dim", None):
        parts.append(f"{config.latent_dim}-D latent")
    if getattr(config, "num_codes", None):
        parts.append(f"{config.num_codes} codes")
    if getattr(config, "image_size", None):
        parts.append(f"{config.image_size}x{config.image_size} images")
    return ", ".join(parts)


EDITOR_CAPABILITIES = {
    "encode": (Capability.ENCODE, Capability.ATTRIBUTES),
    "interpolate": (Capability.INTERPOLATE,),
    "scatter": (Capability.SCATTER,),
    "sample": (Capability.PRIOR,),
    "codebook": (Capability.CODEBOOK,),
    "inpaint": (Capability.INPAINT,),
    "manifold": (Capability.MANIFOLD,),
}
NEEDS_NO_CONDITION = {"scatter", "manifold", "sample"}  # the editor picks a condition for these


def _capabilities(loaded: _Loaded) -> frozenset[Capability]:
    """Text to image for text_to_image bundles, plus what the editor says it can do with the model.

    The studio has no condition input, so conditional models are offered only where the editor
    chooses a condition itself (scatter, manifold, class-conditional samples)."""
    capabilities = {Capability.TEXT_TO_IMAGE} if loaded.kind == "text_to_image" else set()
    try:
        editor = loaded.pipeline("editor")
    except (TypeError, ValueError):  # a prior or scorer alone, a two-level VQ-VAE: nothing to edit
        return frozenset(capabilities)
    condition = editor.space.condition_kind
    for name in editor.capabilities:
        if condition == "none" or (name in NEEDS_NO_CONDITION and not (name == "sample" and condition == "text")):
            capabilities.update(EDITOR_CAPABILITIES.get(name, ()))
    return frozenset(capabilities)


NOT_METRICS = ("seconds", "images", "per_second", "_k", "steps", "epochs")  # counts and timings


def _headline_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The evaluation numbers of metrics.json (bits/dim, ELBO, IWAE, PSNR...), without counts and
    timings; the model card has everything else."""
    table = metrics.get("evaluation", metrics)
    return {
        str(key): float(value)
        for key, value in table.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        and not any(word in str(key) for word in NOT_METRICS)
    }


def _read_recipe(path: Path) -> Recipe:
    from vaestudio.training import load_recipe

    recipe = load_recipe(str(path))
    comment = " ".join(
        line.lstrip("#").strip() for line in path.read_text(encoding="utf-8").splitlines()[:4] if line.startswith("#")
    )
    training = recipe.training
    defaults = TrainingSettings(int(training.steps or 0), int(training.batch_size), float(training.learning_rate),
                                int(training.seed))
    return Recipe(path.stem, comment, recipe.data.source, defaults)


def _configured_recipe(recipe, data_spec: str, settings: TrainingSettings):
    """The recipe with the studio's data source and settings (steps 0 keeps the recipe's own length).

    With a step count, the loss is reported about a hundred times and samples about five times, so
    the curve and the sample grid move while the studio watches."""
    from dataclasses import replace

    training = replace(recipe.training, batch_size=int(settings.batch_size),
                       learning_rate=float(settings.learning_rate), seed=int(settings.seed))
    if settings.steps > 0:
        steps = int(settings.steps)
        training = replace(training, steps=steps, epochs=None,
                           log_every=max(1, min(training.log_every, steps // 100)),
                           sample_every=max(1, min(training.sample_every or steps, steps // 5)))
    data = replace(recipe.data, source=(data_spec or recipe.data.source).strip())
    return replace(recipe, training=training, data=data)


def _sampling(num_images, seed, temperature, top_k, rerank, guidance=0.0, regions=True) -> dict[str, Any]:
    """The pipeline's keyword arguments; temperature or guidance 0 (or None) leaves the model's own default."""
    return {"num_images": int(num_images), "rerank": max(int(rerank), int(num_images)), "seed": int(seed),
            "temperature": float(temperature) if temperature else None, "top_k": int(top_k),
            "guidance_scale": float(guidance) if guidance else None, "regions": bool(regions)}


def _generation(result) -> Generation:
    """A TextToImageResult or StreamFrame -> Generation."""
    images = [ScoredImage(item.image, item.score) for item in result.images]
    rows_done = getattr(result, "rows_done", 1)
    total_rows = getattr(result, "total_rows", 1)
    return Generation(images, result.prompt, tuple(result.warnings), rows_done, total_rows)


def _psnr(first: Image.Image, second: Image.Image) -> float:
    a = np.asarray(first.convert("RGB").resize(second.size), dtype=np.float32)
    b = np.asarray(second.convert("RGB"), dtype=np.float32)
    error = float(np.mean((a - b) ** 2))
    return 10 * np.log10(255.0**2 / max(error, 1e-6))


def _require_state(state) -> None:
    if state is None:
        raise InputError("Upload an image to edit first.")


def _slider_specs(editor, encoded) -> list[SliderSpec]:
    return [SliderSpec(spec.label, spec.minimum, spec.maximum, spec.step, spec.value)
            for spec in editor.slider_specs(encoded)]
