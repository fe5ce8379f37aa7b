"""Engine: the studio's engine protocol over vaestudio. The only studio module that imports vaestudio or torch.

Every method takes and returns plain Python, PIL and numpy values (see :mod:`studio.engine_api`);
tensors never leave this file. vaestudio's own errors become :class:`studio.engine_api.StudioError`
subclasses with messages that say what to do.

It is written against the pipelines' expected API (``vaestudio.load``,
``vaestudio.pipelines.text_to_image.TextToImage``, ``vaestudio.pipelines.editing.Editor``,
``vaestudio.data.images.load_image``, ``vaestudio.training.train``). Where that API's details are
still open, the guess sits in one small ``_adapt_*`` function at the bottom of this file.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import tempfile
import threading
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from studio import pictures
from studio.catalogue import Catalogue
from studio.engine_api import (
    Capability,
    CodebookUsage,
    Encoding,
    InputError,
    Interpolation,
    LatentScatter,
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
DATA_SOURCES = ["shapes", "digits", "emoji"]


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


@dataclass
class _Loaded:
    """A model the engine serves, with its pipelines built on first use."""

    model: Any  # what vaestudio.load returned: a model or a bundle (model + prior + text encoder)
    folder: Path | None
    _pipelines: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
        self.models_dir = Path(models_dir) if models_dir else REPOSITORY / "pretrained"
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

        folder = Path(name_or_path) if Path(name_or_path).is_dir() else None
        model = vaestudio.load(str(name_or_path))
        loaded = _Loaded(model, folder)
        info = ModelInfo(
            name=self._models.unique_name(name or (folder.name if folder else str(name_or_path).split("/")[-1])),
            family=_adapt_family(model),
            summary=_adapt_summary(model),
            card=_read_card(folder),
            metrics=_read_metrics(folder),
            capabilities=_adapt_capabilities(model),
            image_size=_adapt_image_size(model),
            source=source,
        )
        self._models.add(info, loaded)
        return info

    def list_models(self) -> list[ModelInfo]:
        return self._models.infos()

    def load_folder(self, path_or_hub_id: str) -> ModelInfo:
        spec = (path_or_hub_id or "").strip()
        if not spec:
            raise InputError("Type the path of a model folder (or a Hub id such as user/model) first.")
        try:
            return self._add(spec, source=spec)
        except FileNotFoundError as error:
            raise ModelError(
                f"Could not find a model at {spec!r} ({error}). Give a folder with config.json and "
                "model.safetensors, or a Hub id when the studio is online."
            ) from None
        except (OSError, ValueError, KeyError) as error:
            raise ModelError(f"{spec!r} is not a model vaestudio can load: {error}") from None

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

    def _text_to_image_call(self, model, prompt, num_images, seed, temperature, top_k, rerank):
        _, loaded = self._models.require(model, Capability.TEXT_TO_IMAGE)
        prompt = (prompt or "").strip()
        if not prompt:
            raise InputError("Type a prompt first, e.g. 'a red circle above a blue square'.")
        arguments = dict(num_images=int(num_images), seed=int(seed), temperature=float(temperature),
                         top_k=int(top_k), rerank=max(int(rerank), int(num_images)))
        return loaded.pipeline("text_to_image"), prompt, arguments

    def text_to_image(self, model, prompt, num_images, seed, temperature, top_k, rerank) -> list[ScoredImage]:
        pipeline, prompt, arguments = self._text_to_image_call(
            model, prompt, num_images, seed, temperature, top_k, rerank)
        return [_adapt_generated(item) for item in pipeline(prompt, **arguments)]

    def text_to_image_stream(
        self, model, prompt, num_images, seed, temperature, top_k, rerank
    ) -> Iterator[list[ScoredImage]]:
        pipeline, prompt, arguments = self._text_to_image_call(
            model, prompt, num_images, seed, temperature, top_k, rerank)
        for partial in pipeline.stream(prompt, **arguments):
            yield [_adapt_generated(item) for item in partial]

    # ----------------------------------------------------------------- edit

    def _editor(self, model: str, capability: Capability):
        _, loaded = self._models.require(model, capability)
        return loaded.pipeline("editor")

    def encode(self, model: str, image: Image.Image) -> Encoding:
        editor = self._editor(model, Capability.ENCODE)
        encoded = editor.encode(image)
        specs = _adapt_slider_specs(editor, encoded)
        attributes = tuple(editor.attribute_names()) if hasattr(editor, "attribute_names") else ()
        reconstruction = _adapt_reconstruction(editor, encoded, specs)
        model_input = getattr(encoded, "image", None) or image.resize(reconstruction.size)
        psnr = _psnr(model_input, reconstruction)
        return Encoding(encoded, model_input, reconstruction, specs, attributes,
                        f"{len(specs)} latent sliders; reconstruction PSNR {psnr:.1f} dB")

    def decode_sliders(self, model, state, slider_values: Sequence[float], attribute_strengths: Mapping[str, float]):
        editor = self._editor(model, Capability.ENCODE)
        _require_state(state)
        count = len(_adapt_slider_specs(editor, state))
        return editor.decode(state, [float(v) for v in slider_values[:count]], dict(attribute_strengths))

    def random_slider_values(self, model: str, state, seed: int) -> list[float]:
        editor = self._editor(model, Capability.ENCODE)
        _require_state(state)
        specs = _adapt_slider_specs(editor, state)
        values = np.random.default_rng(int(seed)).normal(0.0, 1.0, len(specs))
        return [float(np.clip(v, spec.minimum, spec.maximum)) for v, spec in zip(values, specs)]

    def reset_slider_values(self, model: str, state) -> list[float]:
        editor = self._editor(model, Capability.ENCODE)
        _require_state(state)
        return [spec.value for spec in _adapt_slider_specs(editor, state)]

    def interpolate(self, model, image_a, image_b, steps, mode) -> Interpolation:
        editor = self._editor(model, Capability.INTERPOLATE)
        if mode not in ("linear", "spherical"):
            raise InputError(f"Interpolation mode must be 'linear' or 'spherical', not {mode!r}.")
        if int(steps) < 2:
            raise InputError("Interpolation needs at least 2 steps.")
        frames = list(editor.interpolate(image_a, image_b, int(steps), mode))
        return Interpolation(pictures.strip(frames), pictures.gif_bytes(frames))

    def inpaint(self, model, image, mask, prompt, num_candidates, seed) -> list[Image.Image]:
        editor = self._editor(model, Capability.INPAINT)
        if not mask.convert("L").point(lambda v: 255 if v > 127 else 0).getbbox():
            raise InputError("The mask is empty. Paint over the part of the image to redraw, then try again.")
        results = editor.inpaint(image, mask, (prompt or "").strip(), int(num_candidates), int(seed))
        return [_adapt_generated(item).image for item in results]

    # ----------------------------------------------------------------- explore

    def manifold_grid(self, model: str, n: int) -> Image.Image:
        return _adapt_image(self._editor(model, Capability.MANIFOLD).manifold_grid(int(n)))

    def list_data_sources(self) -> list[str]:
        return list(DATA_SOURCES)

    def latent_scatter(self, model: str, data_spec: str, n: int) -> LatentScatter:
        editor = self._editor(model, Capability.SCATTER)
        spec = (data_spec or "").strip()
        if not spec:
            raise InputError("Pick a data source (shapes, digits, emoji) or type folder:PATH, idx:PATH or hf:NAME.")
        try:
            scatter = editor.latent_scatter(spec, int(n))
        except FileNotFoundError as error:
            raise InputError(f"The data source {spec!r} was not found ({error}).") from None
        return _adapt_scatter(scatter)

    def decode_point(self, model: str, state, x: float, y: float) -> Image.Image:
        self._editor(model, Capability.SCATTER)
        if state is None:
            raise InputError("Draw a latent scatter first, then pick a point on it.")
        return _adapt_image(state.decode(float(x), float(y)))

    def codebook_usage(self, model: str) -> CodebookUsage:
        usage = self._editor(model, Capability.CODEBOOK).codebook_usage()
        counts = [int(c) for c in np.asarray(usage.counts).ravel()]
        total = max(sum(counts), 1)
        probabilities = np.array([c / total for c in counts if c > 0])
        perplexity = float(np.exp(-(probabilities * np.log(probabilities)).sum())) if len(probabilities) else 0.0
        return CodebookUsage(counts, round(perplexity, 1), counts.count(0), getattr(usage, "measured_on", ""))

    def prior_samples(self, model: str, n: int, seed: int) -> Image.Image:
        samples = self._editor(model, Capability.PRIOR).sample(int(n), seed=int(seed))
        return pictures.grid([_adapt_image(sample) for sample in samples])

    # ----------------------------------------------------------------- train

    def list_recipes(self) -> list[Recipe]:
        return [_read_recipe(path) for path in sorted((REPOSITORY / "recipes").glob("*.toml"))]

    def start_training(self, data_spec: str, recipe: str, settings: TrainingSettings) -> str:
        from vaestudio.training import load_recipe, train

        path = REPOSITORY / "recipes" / f"{recipe}.toml"
        if not path.is_file():
            raise InputError(f"There is no recipe {recipe!r}. Pick one of the listed recipes.")
        configured = _adapt_recipe(load_recipe(path), data_spec, settings)
        out_dir = self.runs_dir / f"{recipe}-{np.random.default_rng().integers(1 << 32):08x}"

        def run(report, stop_event: threading.Event) -> Path:
            train(configured, out_dir, progress_callback=lambda event: report(*_adapt_progress(event)),
                  stop_event=stop_event)
            return out_dir

        return self._jobs.start(run, settings.steps, f"Training {recipe} on {data_spec}")

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


# --------------------------------------------------------------------------- folders and files


def shipped_model_folders(models_dir: Path) -> list[Path]:
    """The model folders (each with a config.json) directly under `models_dir`."""
    if not models_dir.is_dir():
        return []
    return sorted(folder for folder in models_dir.iterdir() if (folder / "config.json").is_file())


def _read_card(folder: Path | None) -> str:
    card = folder / "README.md" if folder else None
    if card and card.is_file():
        return card.read_text(encoding="utf-8")
    return "No model card (README.md) in this model's folder."


def _read_metrics(folder: Path | None) -> dict[str, float]:
    """metrics.json beside the weights, else a `metrics` table in config.json, else nothing."""
    for name, key in (("metrics.json", None), ("config.json", "metrics")):
        path = folder / name if folder else None
        if path and path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            data = data.get(key, {}) if key else data
            if isinstance(data, dict) and data:
                return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}
    return {}


def _read_recipe(path: Path) -> Recipe:
    text = path.read_text(encoding="utf-8")
    table = _flatten(tomllib.loads(text))
    comment = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")), "")
    defaults = TrainingSettings(
        steps=int(table.get("steps", table.get("max_steps", 1000))),
        batch_size=int(table.get("batch_size", 64)),
        learning_rate=float(table.get("learning_rate", table.get("lr", 1e-3))),
        seed=int(table.get("seed", 0)),
    )
    return Recipe(path.stem, comment, defaults)


def _flatten(table: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update({k: v for k, v in _flatten(value).items() if k not in flat})
        else:
            flat[key] = value
    return flat


def _psnr(first: Image.Image, second: Image.Image) -> float:
    a = np.asarray(first.convert("RGB").resize(second.size), dtype=np.float32)
    b = np.asarray(second.convert("RGB"), dtype=np.float32)
    error = float(np.mean((a - b) ** 2))
    return 10 * np.log10(255.0**2 / max(error, 1e-6))


def _require_state(state) -> None:
    if state is None:
        raise InputError("Upload an image to edit first.")


# --------------------------------------------------------------------------- the pipelines' API, adapted
# Each function below holds one guess about the pipelines' return values. Adjust here when they land.


def _adapt_image(value) -> Image.Image:
    if isinstance(value, Image.Image):
        return value
    image = getattr(value, "image", None)
    if isinstance(image, Image.Image):
        return image
    raise TypeError(f"expected a PIL image from the pipeline, got {type(value).__name__}")


def _adapt_generated(item) -> ScoredImage:
    """GeneratedImage(image, score) -> ScoredImage; a bare image has no score yet."""
    if isinstance(item, Image.Image):
        return ScoredImage(item, None)
    score = getattr(item, "score", None)
    return ScoredImage(_adapt_image(item), None if score is None else float(score))


def _adapt_slider_specs(editor, encoded) -> list[SliderSpec]:
    specs = editor.slider_specs(encoded) if _takes_argument(editor.slider_specs) else editor.slider_specs()
    values = list(getattr(encoded, "slider_values", []) or [])
    adapted = []
    for index, spec in enumerate(specs):
        value = values[index] if index < len(values) else getattr(spec, "value", 0.0)
        adapted.append(SliderSpec(
            label=str(getattr(spec, "label", None) or getattr(spec, "name", f"z{index}")),
            minimum=float(getattr(spec, "minimum", -3.0)),
            maximum=float(getattr(spec, "maximum", 3.0)),
            step=float(getattr(spec, "step", 0.01)),
            value=float(value),
        ))
    return adapted


def _adapt_reconstruction(editor, encoded, specs: Sequence[SliderSpec]) -> Image.Image:
    reconstruction = getattr(encoded, "reconstruction", None)
    if isinstance(reconstruction, Image.Image):
        return reconstruction
    return _adapt_image(editor.decode(encoded, [spec.value for spec in specs], {}))


def _adapt_scatter(scatter) -> LatentScatter:
    points = np.asarray(scatter.points, dtype=np.float64)
    return LatentScatter(
        x=points[:, 0].round(4).tolist(),
        y=points[:, 1].round(4).tolist(),
        labels=[str(label) for label in scatter.labels],
        x_title=getattr(scatter, "x_title", "latent 1"),
        y_title=getattr(scatter, "y_title", "latent 2"),
        state=scatter,  # has .decode(x, y)
    )


def _adapt_family(model) -> str:
    config = getattr(model, "config", None)
    return str(getattr(config, "family", None) or type(model).__name__)


def _adapt_summary(model) -> str:
    config = getattr(model, "config", None)
    return str(getattr(config, "description", "") or f"{_adapt_family(model)} model")


def _adapt_image_size(model) -> int:
    config = getattr(model, "config", None)
    return int(getattr(config, "image_size", 0) or 0)


def _adapt_capabilities(model) -> frozenset[Capability]:
    declared = getattr(model, "capabilities", None)
    if declared:
        return frozenset(Capability(str(name)) for name in declared)
    capabilities = {Capability.ENCODE, Capability.INTERPOLATE, Capability.SCATTER}
    if getattr(model, "prior", None) is not None:
        capabilities |= {Capability.PRIOR, Capability.INPAINT}
        if getattr(model, "text_encoder", None) is not None:
            capabilities.add(Capability.TEXT_TO_IMAGE)
    if getattr(getattr(model, "config", None), "num_codes", None):
        capabilities.add(Capability.CODEBOOK)
    if getattr(getattr(model, "config", None), "latent_dim", None) == 2:
        capabilities.add(Capability.MANIFOLD)
    return frozenset(capabilities)


def _adapt_recipe(recipe, data_spec: str, settings: TrainingSettings):
    from dataclasses import fields, replace

    names = {f.name for f in fields(recipe)}
    wanted = {"data": data_spec, "steps": settings.steps, "batch_size": settings.batch_size,
              "learning_rate": settings.learning_rate, "seed": settings.seed}
    return replace(recipe, **{key: value for key, value in wanted.items() if key in names})


def _adapt_progress(event) -> tuple[int, float, Image.Image | None]:
    samples = getattr(event, "samples", None)
    return int(event.step), float(event.loss), samples if isinstance(samples, Image.Image) else None


def _takes_argument(method) -> bool:
    import inspect

    try:
        return len(inspect.signature(method).parameters) > 0
    except (TypeError, ValueError):
        return False
