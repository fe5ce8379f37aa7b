"""FakeEngine: the studio's engine protocol answered with cheap, deterministic PIL drawings.

The fast UI tests, the screenshots and ``bench/bench_studio.py --fake`` run on it. Same inputs,
same pictures; nothing here imports torch. It refuses what the real engine refuses, with the same
request limits (``studio.engine.REQUEST_LIMITS``), recipe names, data sources and shapes-world vocabulary:
``tests/studio/test_engine_contract.py`` runs the same requests against both and requires that.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from studio import pictures
from studio.catalogue import Catalogue
from studio.engine import REQUEST_LIMITS as LIMITS
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

C = Capability
COLOURS = {
    "red": (220, 50, 47), "orange": (240, 140, 30), "yellow": (235, 200, 40), "green": (60, 170, 80),
    "cyan": (30, 190, 200), "blue": (40, 100, 220), "purple": (140, 70, 190), "pink": (240, 120, 170),
    "black": (20, 20, 20), "white": (250, 250, 250), "gray": (128, 128, 128),
}
SHAPES = ("circle", "square", "triangle")  # what the fake draws; "star" and "heart" are drawn as triangles
DATA_SOURCES = {"shapes": SHAPES, "digits": tuple("0123456789"), "mnist": tuple("0123456789"),
                "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                                  "Bag", "Ankle boot"),
                "emoji": ("smile", "heart", "star", "cat")}
NOT_INSTALLED = {"mnist": "vaestudio data get mnist"}  # the fake's one source to get, so the UI shows both states
DATA_PREFIXES = ("folder:", "idx:", "hf:")
SAMPLING_ROWS = 4  # the fake "code map" has this many rows; the stream yields once per row
NEUTRAL_PROMPT = "a shape"
FAKE_PROMPTS = (NEUTRAL_PROMPT, "a large red circle in the center on a white background",
                "a small blue square in the top left on a black background")
# the shipped shapes model's vocabulary (docs/specs/shapes-world.md; a test holds the two together)
KNOWN_WORDS = {*COLOURS, *SHAPES, "star", "heart", "a", "the", "on", "background", "in", "small", "large", "and",
               "left", "right", "bottom", "top", "center", "at", "shape"}


def _setting(key: str, label: str, value: float, kind: str = "int") -> RecipeSetting:
    minimum, maximum = LIMITS.RECIPE_SETTINGS[key]
    return RecipeSetting(key, label, value, f"fake help for {label}", kind, minimum, maximum)


VAE_SETTINGS = (  # digits-vae-2d's main settings (an ELBO VAE: no training k)
    _setting("model.beta", "beta (weight of the KL term)", 1.0, "float"), _setting("model.latent_dim", "Latent size", 2),
    _setting("evaluation.iwae_k", "k of IWAE (evaluation)", 500),
    _setting("training.kl_warmup_steps", "KL warm-up (steps)", 0),
    _setting("model.free_bits", "Free bits (nats per dimension)", 0.0, "float"),
)
RECIPES = [  # real recipe names and settings (recipes/*.toml; a test holds the two together)
    Recipe("digits-vae-2d", "A VAE with a 2-D latent space on scikit-learn's 8x8 digits", "digits",
           TrainingSettings(0, 64, 0.002, 0), VAE_SETTINGS),
    Recipe("shapes-vqvae", "VQ-VAE of the shapes world: 64x64 RGB -> a 16x16 map of 1024 codes", "shapes",
           TrainingSettings(5000, 32, 0.001, 0), (_setting("model.num_codes", "Codebook size", 1024),)),
    Recipe("emoji-vqvae", "VQ-VAE of the emoji source (Noto, Twemoji, OpenMoji): 64x64 RGB -> an 8x8 map of 512 codes",
           "emoji", TrainingSettings(500, 16, 0.0015, 0), (_setting("model.num_codes", "Codebook size", 512),)),
]
EPOCH_RECIPE_STEPS = 300  # how long the fake runs a recipe that counts epochs (steps 0)


@dataclass(frozen=True)
class FakeModel:
    latent_dims: int
    attributes: tuple[str, ...]
    num_codes: int  # 0 for a continuous latent
    classes: tuple[str, ...] = ()  # a class-conditional model's classes
    class_prior: bool = False  # the classes are its prior's (samples, inpainting), not its latent's
    prompts: tuple[str, ...] = ()  # a text-conditional model's example prompts (its neutral prompt first)


@dataclass(frozen=True)
class FakeEncoding:
    pixels: np.ndarray  # (size, size, 3) float32, 0..255: the model input
    values: tuple[float, ...]  # the encoded latent values
    class_index: int = 0  # the class it was encoded as (class-conditional models)
    prompt: str = ""  # the prompt it was encoded with (text-conditional models)


def _seeded(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def default_image_reader():
    """vaestudio's upload policy, through the one studio module that imports vaestudio."""
    from studio import engine

    return engine.read_image


class FakeEngine:
    def __init__(self, image_size: int = 64, step_delay: float = 0.0, image_reader=None, max_trainings: int = 1,
                 training_time_limit: float | None = None, setting_caps: Mapping[str, float] | None = None):
        self.image_size = image_size
        self.step_delay = step_delay  # seconds per sampling row / training step, for demos and benches
        self._read_image = image_reader or default_image_reader()
        self._models: Catalogue[FakeModel] = Catalogue()
        self._jobs = TrainingJobs(max_running=max_trainings, time_limit_seconds=training_time_limit)
        self._trained: dict[str, tuple[str, TrainingSettings]] = {}
        self._setting_caps = dict(setting_caps or {})
        self._logs: dict[str, tuple[str, list[tuple[int, float]]]] = {}  # job id -> recipe, (step, loss) "logged"
        self._lock = threading.Lock()
        for info, model in _shipped_models(image_size):
            self._models.add(info, model)

    # ----------------------------------------------------------------- models

    def list_models(self) -> list[ModelInfo]:
        return self._models.infos()

    def load_folder(self, path_or_hub_id: str) -> ModelInfo:
        folder = Path((path_or_hub_id or "").strip()).expanduser()
        if not str(path_or_hub_id or "").strip():
            raise InputError("Type the path of a model folder (with config.json) first.")
        config_path = folder / "config.json"
        if not config_path.is_file():
            raise ModelError(
                f"{folder} is not a model folder: it has no config.json. Point at a folder written by "
                "'Save to folder' or by `vaestudio train`."
            )
        config = json.loads(config_path.read_text())
        model = FakeModel(int(config.get("latent_dims", 4)), tuple(config.get("attributes", ())), 0)
        info = _info(self._models.unique_name(folder.name), config.get("family", "VAE"), model,
                     self.image_size, source=str(folder), card=(folder / "README.md").read_text()
                     if (folder / "README.md").is_file() else f"# {folder.name}\n\nLoaded from `{folder}`.")
        self._models.add(info, model)
        return info

    def backend_info(self) -> str:
        return "FakeEngine: deterministic drawings for UI tests. No vaestudio, no torch, no operators."

    def read_image(self, source: str | bytes, max_pixels: int) -> Image.Image:
        return self._read_image(source, max_pixels)

    # ----------------------------------------------------------------- text to image

    def text_to_image(
        self, model, prompt, num_images, seed, temperature, top_k, rerank, guidance=0.0, regions=True
    ) -> Generation:
        *_, final = self.text_to_image_stream(model, prompt, num_images, seed, temperature, top_k, rerank, guidance,
                                              regions)
        return final

    def text_to_image_stream(
        self, model, prompt, num_images, seed, temperature, top_k, rerank, guidance=0.0, regions=True
    ) -> Iterator[Generation]:
        _, fake = self._models.require(model, C.TEXT_TO_IMAGE)
        if not 0.0 <= float(guidance) <= LIMITS.MAX_GUIDANCE:
            raise InputError(f"guidance_scale must be a number in [0, {LIMITS.MAX_GUIDANCE:g}] (1: no guidance).")
        if float(temperature) < 0:
            raise InputError("temperature must be positive (0: the model's default).")
        _check_count(top_k, "top_k", 0, fake.num_codes)
        prompt = " ".join((prompt or "").split())[: LIMITS.MAX_PROMPT_CHARACTERS] or NEUTRAL_PROMPT
        unknown = [word for word in prompt.lower().split() if word not in KNOWN_WORDS]
        notes = [f"unknown words ignored by the model: {', '.join(unknown)}"] if unknown else []
        num_images = _check_count(num_images, "num_images", *LIMITS.IMAGES)
        candidates = _check_count(max(int(rerank), num_images), "rerank", *LIMITS.RERANK)
        images = [self._draw_prompt(prompt, int(seed), index, float(temperature)) for index in range(candidates)]
        for row in range(1, SAMPLING_ROWS):
            time.sleep(self.step_delay)
            partial = [ScoredImage(_reveal(image, row / SAMPLING_ROWS), None) for image in images[:num_images]]
            yield Generation(partial, prompt, notes, row, SAMPLING_ROWS)
        scored = [ScoredImage(image, round(float(_seeded(prompt, seed, i).uniform(-0.2, 0.6)), 3))
                  for i, image in enumerate(images)]
        best = sorted(scored, key=lambda item: -item.score)[:num_images]
        yield Generation(best, prompt, notes, SAMPLING_ROWS, SAMPLING_ROWS)

    def _draw_prompt(self, prompt: str, seed: int, index: int, temperature: float) -> Image.Image:
        rng = _seeded(prompt, seed, index)
        words = prompt.lower().split()
        colour = next((COLOURS[word] for word in words if word in COLOURS), tuple(rng.integers(30, 220, 3)))
        shape = next((word for word in words if word in SHAPES), SHAPES[int(rng.integers(3))])
        jitter = 0.15 * min(max(temperature, 0.1), 3.0)
        size = self.image_size
        image = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(200, 256, 3)))
        centre = size * (0.5 + rng.uniform(-jitter, jitter, 2))
        radius = size * rng.uniform(0.18, 0.3)
        _draw_shape(ImageDraw.Draw(image), shape, centre, radius, tuple(int(v) for v in colour))
        return image

    # ----------------------------------------------------------------- edit

    def model_classes(self, model: str) -> list[str]:
        infos = {info.name: info for info in self._models.infos()}
        if model not in infos or not infos[model].capabilities:
            return []
        return list(self._models.require(model, next(iter(infos[model].capabilities)))[1].classes)

    def model_prompts(self, model: str) -> list[str]:
        infos = {info.name: info for info in self._models.infos()}
        if model not in infos or not infos[model].capabilities:
            return []
        return list(self._models.require(model, next(iter(infos[model].capabilities)))[1].prompts)

    def interpolation_classes(self, model: str) -> list[str]:
        infos = {info.name: info for info in self._models.infos()}
        if model not in infos or not infos[model].can(C.INTERPOLATE):
            return []
        fake = self._models.require(model, C.INTERPOLATE)[1]
        return [] if fake.class_prior else list(fake.classes)

    def encode(self, model: str, image: Image.Image, label: str = "") -> Encoding:
        _, fake = self._models.require(model, C.ENCODE)
        class_index = _latent_class(fake, label) or 0
        model_input = ImageOps.fit(image.convert("RGB"), (self.image_size,) * 2)
        pixels = np.asarray(model_input, dtype=np.float32)
        bands = np.array_split(pixels.mean(axis=2), fake.latent_dims, axis=0)
        values = tuple(round(float(band.mean()) / 64.0 - 2.0, 2) for band in bands)
        state = FakeEncoding(pixels, values, class_index, (label or NEUTRAL_PROMPT) if fake.prompts else "")
        reconstruction = self._decode(fake, state, values, {})
        sliders = [SliderSpec(f"z{index}", -3.0, 3.0, 0.01, value) for index, value in enumerate(values)]
        error = float(np.mean((np.asarray(reconstruction, dtype=np.float32) - pixels) ** 2))
        psnr = 10 * math.log10(255**2 / max(error, 1e-6))
        return Encoding(state, model_input, reconstruction, sliders, fake.attributes,
                        f"{fake.latent_dims} latent dimensions; reconstruction PSNR {psnr:.1f} dB")

    def decode_sliders(self, model, state, slider_values: Sequence[float], attribute_strengths: Mapping[str, float],
                       label: str = ""):
        _, fake = self._models.require(model, C.ENCODE)
        _check_state(state, FakeEncoding, "Upload an image to edit first.")
        if len(slider_values) < fake.latent_dims:
            raise InputError(f"{model} needs {fake.latent_dims} slider values; got {len(slider_values)}.")
        drawn_as = _latent_class(fake, label)
        if drawn_as is not None and drawn_as != state.class_index:  # another class: a tint per class
            state = FakeEncoding(state.pixels + 12.0 * (drawn_as - state.class_index), state.values, drawn_as)
        if fake.prompts and label:  # another prompt: a tint per prompt
            shift = _condition_tint(fake, label) - _condition_tint(fake, state.prompt)
            state = FakeEncoding(state.pixels + shift, state.values, 0, label)
        return self._decode(fake, state, slider_values[: fake.latent_dims], attribute_strengths)

    def _decode(self, fake: FakeModel, state: FakeEncoding, values, strengths: Mapping[str, float]) -> Image.Image:
        pixels = state.pixels.copy()
        rows = np.array_split(np.arange(pixels.shape[0]), fake.latent_dims)
        for band, value, original in zip(rows, values, state.values):
            pixels[band] += (float(value) - original) * 64.0
        folded: dict[str, float] = {}  # a typed keyword is its attribute in any case ("Thicker" is "thicker")
        known = {attribute.casefold() for attribute in fake.attributes}
        for name, strength in strengths.items():
            key = str(name).strip().casefold()
            if float(strength) and key not in known:
                raise InputError(f"0 of its training images have {key!r} in their caption; try a keyword such as "
                                 f"{', '.join(fake.attributes) or 'none: this model has no captions'}.")
            folded[key] = folded.get(key, 0.0) + float(strength)
        for channel, name in enumerate(fake.attributes):
            pixels[..., channel % 3] += 60.0 * folded.get(name.casefold(), 0.0)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        if fake.num_codes:
            return ImageOps.posterize(image, 3)
        return image.filter(ImageFilter.BoxBlur(1))

    def random_slider_values(self, model: str, state, seed: int) -> list[float]:
        _, fake = self._models.require(model, C.ENCODE)
        _check_state(state, FakeEncoding, "Upload an image to edit first.")
        values = _seeded("random sliders", seed).normal(0.0, 1.0, fake.latent_dims).clip(-3, 3)
        return [round(float(value), 2) for value in values]

    def reset_slider_values(self, model: str, state) -> list[float]:
        self._models.require(model, C.ENCODE)
        _check_state(state, FakeEncoding, "Upload an image to edit first.")
        return list(state.values)

    def interpolate(self, model, image_a, image_b, steps, mode, label="", second_label="",
                    frames_label="") -> Interpolation:
        _, fake = self._models.require(model, C.INTERPOLATE)
        if mode not in ("linear", "spherical"):
            raise InputError(f"Interpolation mode must be 'linear' or 'spherical', not {mode!r}.")
        steps = _check_count(steps, "steps", *LIMITS.INTERPOLATION_STEPS)
        first, last = (ImageOps.fit(image.convert("RGB"), (self.image_size,) * 2) for image in (image_a, image_b))
        weights = np.linspace(0.0, 1.0, steps)
        if mode == "spherical":
            weights = (1 - np.cos(weights * math.pi)) / 2
        # a conditional model: each frame tinted by its condition (the chosen one, or the ends' blend)
        start = _condition_tint(fake, label)
        end = start if not second_label else _condition_tint(fake, second_label)
        tints = [_condition_tint(fake, frames_label)] * steps if frames_label else [
            start + (end - start) * float(weight) for weight in weights]
        frames = [_tinted(Image.blend(first, last, float(weight)), tint) for weight, tint in zip(weights, tints)]
        return Interpolation(pictures.strip(frames), pictures.gif_bytes(frames))

    def inpaint(self, model, image, mask, prompt, num_candidates, seed, label: str = "") -> list[Image.Image]:
        _, fake = self._models.require(model, C.INPAINT)
        _check_count(num_candidates, "num_candidates", *LIMITS.INPAINT_CANDIDATES)
        drawn_as = _fake_class(fake, label)  # a class prior draws its class there (None: the classes in turn)
        base = ImageOps.fit(image.convert("RGB"), (self.image_size,) * 2)
        region = mask.convert("L").resize(base.size, Image.Resampling.NEAREST).point(lambda v: 255 if v > 127 else 0)
        candidates = []  # an empty mask keeps the image, as the real inpainter does (with a warning)
        for index in range(int(num_candidates)):
            if fake.class_prior:
                prompt = f"class {fake.classes[index % len(fake.classes) if drawn_as is None else drawn_as]}"
            fill = self._draw_prompt((prompt or "").strip() or NEUTRAL_PROMPT, int(seed), index, 1.0)
            candidates.append(Image.composite(fill, base, region))
        return candidates

    # ----------------------------------------------------------------- explore

    def manifold_grid(self, model: str, n: int, label: str = "") -> Image.Image:
        _, fake = self._models.require(model, C.MANIFOLD)
        n = _check_count(n, "the grid size", *LIMITS.MANIFOLD_GRID)
        shift = 0.1 * (_latent_class(fake, label) or 0)  # each class its own (shifted) manifold
        return pictures.grid([self._decode_position(x + shift, y) for y in np.linspace(-2, 2, n)
                              for x in np.linspace(-2, 2, n)], columns=n, gap=0)

    def _decode_position(self, x: float, y: float) -> Image.Image:
        size = self.image_size
        image = Image.new("RGB", (size, size), (int(128 + 60 * x), int(128 + 60 * y), 160))
        radius = size * (0.2 + 0.05 * (x + 2))
        _draw_shape(ImageDraw.Draw(image), SHAPES[int((y + 2) / 4 * 2.999)], (size / 2, size / 2), radius, (30, 30, 30))
        return image

    def list_data_sources(self) -> list[str]:
        return list(DATA_SOURCES)

    def data_source_statuses(self) -> list[DataSourceStatus]:
        return [DataSourceStatus(name, name, name not in NOT_INSTALLED,
                                 f"not installed: get it with `{NOT_INSTALLED[name]}`" if name in NOT_INSTALLED
                                 else "available") for name in DATA_SOURCES]

    def latent_scatter(self, model: str, data_spec: str, n: int) -> LatentScatter:
        self._models.require(model, C.SCATTER)
        labels_of_source = _data_labels(data_spec)
        n = _check_count(n, "num_points", *LIMITS.SCATTER_POINTS)
        rng = _seeded("scatter", model, data_spec, n)
        labels = [labels_of_source[int(i)] for i in rng.integers(0, len(labels_of_source), n)]
        angles = {label: 2 * math.pi * index / len(labels_of_source) for index, label in enumerate(labels_of_source)}
        x = [round(1.5 * math.cos(angles[label]) + float(rng.normal(0, 0.35)), 3) for label in labels]
        y = [round(1.5 * math.sin(angles[label]) + float(rng.normal(0, 0.35)), 3) for label in labels]
        return LatentScatter(x, y, labels, "latent 1", "latent 2", state=("scatter", model, data_spec))

    def decode_point(self, model: str, state, x: float, y: float) -> Image.Image:
        self._models.require(model, C.SCATTER)
        _check_state(state, tuple, "Draw a latent scatter first, then pick a point on it.")
        return self._decode_position(float(np.clip(x, -2, 2)), float(np.clip(y, -2, 2)))

    def codebook_usage(self, model: str) -> CodebookUsage:
        _, fake = self._models.require(model, C.CODEBOOK)
        rng = _seeded("codebook", model)
        counts = (1000 / np.arange(1, fake.num_codes + 1) ** 1.1 * rng.uniform(0.5, 1.5, fake.num_codes)).astype(int)
        rng.shuffle(counts)
        probabilities = counts / counts.sum()
        nonzero = probabilities[probabilities > 0]
        perplexity = float(np.exp(-(nonzero * np.log(nonzero)).sum()))
        return CodebookUsage([int(c) for c in counts], round(perplexity, 1), int((counts == 0).sum()), "shapes (fake)")

    def code_maps(self, model: str, image: Image.Image) -> CodeMaps:
        _, fake = self._models.require(model, C.CODEBOOK)
        if image is None:
            raise InputError("Upload an image first: its code maps are drawn.")
        base = ImageOps.fit(image.convert("RGB"), (self.image_size,) * 2)
        cells = base.resize((8, 8), Image.Resampling.BOX).quantize(colors=min(16, fake.num_codes)).convert("RGB")
        picture = cells.resize((256, 256), Image.Resampling.NEAREST)
        return CodeMaps(base, [picture], ["codes (8 x 8, fake)"], "Reconstruction from these codes (fake).")

    def prior_samples(self, model: str, n: int, seed: int, label: str = "") -> Image.Image:
        _, fake = self._models.require(model, C.PRIOR)
        n = _check_count(n, "num_samples", *LIMITS.PRIOR_SAMPLES)
        prompt = "sample" if _fake_class(fake, label) is None else f"sample of class {label}"
        if fake.prompts:  # a text-conditional model draws its prompt
            prompt = " ".join((label or "").split()) or NEUTRAL_PROMPT
        return pictures.grid([self._draw_prompt(prompt, int(seed), index, 1.0) for index in range(n)])

    # ----------------------------------------------------------------- learn

    def list_lessons(self) -> list[LessonSummary]:
        return list(FAKE_LESSONS)

    def render_lesson(self, name: str, value: float) -> LessonView:
        lesson = next((item for item in FAKE_LESSONS if item.name == name), None)
        if lesson is None:
            raise InputError(f"There is no lesson {name!r}. Pick one of the listed lessons.")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{lesson.control_label} must be a number.") from None
        if not lesson.minimum <= value <= lesson.maximum:
            raise InputError(f"{lesson.control_label} must be between {lesson.minimum:g} and {lesson.maximum:g}.")
        # a bar chart whose bar heights are the numbers: the picture and the numbers cannot disagree
        heights = [round(value * (index + 1) / lesson.maximum, 4) for index in range(3)]
        figure = Image.new("RGB", (360, 240), (255, 255, 255))
        draw = ImageDraw.Draw(figure)
        for index, height in enumerate(heights):
            draw.rectangle([30 + 110 * index, 220 - int(200 * height / 3), 110 + 110 * index, 220], fill=(31, 119, 180))
        return LessonView(lesson.name, lesson.title, f"A fake lesson ({lesson.title.lower()}) for the UI tests.",
                          figure, {"value": value, "bar_heights": heights}, value, {"vae": "fake-vae"}, 0.0)

    # ----------------------------------------------------------------- train

    def list_recipes(self) -> list[Recipe]:
        return list(RECIPES)

    def start_training(self, data_spec: str, recipe: str, settings: TrainingSettings) -> str:
        _data_labels(data_spec)
        recipes = {known.name: known for known in self.list_recipes()}
        if recipe not in recipes:
            raise InputError(f"There is no recipe {recipe!r}. Pick one of the listed recipes.")
        if settings.steps < 0 or settings.batch_size < 1 or settings.learning_rate <= 0:
            raise InputError("Steps must be 0 (the recipe's own) or more, the batch size at least 1, and the "
                             "learning rate above 0.")
        _check_overrides(recipes[recipe], settings.overrides, self._setting_caps)
        if settings.steps == 0:
            settings = replace(settings, steps=recipes[recipe].defaults.steps or EPOCH_RECIPE_STEPS)
        logged: list[tuple[int, float]] = []

        def run(report, stop_event: threading.Event):
            rng = _seeded("training", recipe, settings.seed)
            every = max(1, settings.steps // 10)
            for step in range(1, settings.steps + 1):
                if stop_event.wait(self.step_delay):
                    break
                loss = 2.0 * math.exp(-3.0 * step / settings.steps) + 0.1 + float(rng.normal(0, 0.02))
                samples = self.prior_samples_unchecked(4, step) if step % every == 0 or step == 1 else None
                logged.append((step, loss))
                report(step, loss, samples)
            return (recipe, settings)

        job_id = self._jobs.start(run, settings.steps, f"Training {recipe} on {data_spec}")
        self._logs[job_id] = (recipe, logged)
        return job_id

    def training_curves(self, job_id: str) -> list[TrainingCurve]:
        """A VAE run's loss, reconstruction, KL, bound and KL weight; a VQ run's loss, commitment, usage, perplexity."""
        self._jobs.status(job_id)  # an unknown job: the same InputError as a poll
        recipe, logged = self._logs[job_id.strip()]
        logged = list(logged)
        if not logged:
            return []
        parts = {"loss": lambda loss: loss}
        if recipe.endswith("vqvae"):
            parts.update(commitment=lambda loss: 0.1 * loss, usage=lambda loss: 1.0 - loss / 4,
                         perplexity=lambda loss: 10.0 / loss)
        else:
            parts.update(reconstruction=lambda loss: -40.0 * loss, kl=lambda loss: 3.0 + loss,
                         bound=lambda loss: -43.0 * loss, kl_weight=lambda loss: 1.0)
        return [TrainingCurve(name, name, tuple((step, name, float(value(loss))) for step, loss in logged))
                for name, value in parts.items()]

    def latent_units(self, model: str, n: int) -> LatentUnitsReport:
        if self._models.get(model) is None:
            self._models.require(model, C.ENCODE)  # the catalogue's "no such model" error
        info, fake = self._models.get(model)
        if fake.num_codes:
            able = ", ".join(known.name for known in self.list_models() if not self._models.get(known.name)[1].num_codes)
            raise ModelError(f"{model} ({info.family}) has no Gaussian latent: active units are measured on VAEs. "
                             f"Models that have one: {able}.")
        return _fake_units(fake.latent_dims, n, "training data")

    def training_latent_units(self, job_id: str, n: int) -> LatentUnitsReport:
        recipe, settings = self._jobs.result(job_id)
        if recipe.endswith("vqvae"):
            raise ModelError(f"the run {job_id} (vqvae) has no Gaussian latent: active units are measured on VAEs. "
                             "Load or train a VAE first.")
        return _fake_units(int(settings.overrides.get("model.latent_dim", 2)), n, recipe)

    def prior_samples_unchecked(self, n: int, seed: int) -> Image.Image:
        return pictures.grid([self._draw_prompt("sample", seed, index, 1.0) for index in range(n)])

    def training_status(self, job_id: str) -> TrainingStatus:
        return self._jobs.status(job_id)

    def stop_training(self, job_id: str) -> TrainingStatus:
        return self._jobs.stop(job_id)

    def save_training(self, job_id: str, folder: str) -> str:
        recipe, settings = self._jobs.result(job_id)
        target = Path(folder).expanduser()
        target.mkdir(parents=True, exist_ok=True)
        config = {"family": "VAE", "latent_dims": 4, "recipe": recipe, "steps": settings.steps}
        (target / "config.json").write_text(json.dumps(config, indent=2))
        (target / "README.md").write_text(f"# {target.name}\n\nTrained in the studio with `{recipe}`.\n")
        return str(target)

    def load_training(self, job_id: str) -> ModelInfo:
        recipe, _ = self._jobs.result(job_id)
        model = FakeModel(4, (), 0)
        info = _info(self._models.unique_name(f"trained-{recipe}"), "VAE", model, self.image_size,
                     source="trained in the studio", card=f"# trained-{recipe}\n\nTrained in the studio.")
        self._models.add(info, model)
        return info


# --------------------------------------------------------------------------- helpers


FAKE_LESSONS = (
    LessonSummary("fake-bars", 1, "Bars that grow with the control", "Height", 0, 10, 1, 3, "how tall"),
    LessonSummary("fake-ratio", 2, "A ratio to read", "Draws per estimate", 1, 64, 1, 1),
)


def _shipped_models(image_size: int) -> list[tuple[ModelInfo, FakeModel]]:
    specs = [
        ("fake-shapes-vqvae", "VQ-VAE", FakeModel(16, (), 64),
         {C.TEXT_TO_IMAGE, C.ENCODE, C.INTERPOLATE, C.INPAINT, C.CODEBOOK, C.PRIOR, C.SCATTER},
         {"PSNR (dB)": 26.3, "bits/dim": 1.21, "codebook perplexity": 41.0}),
        ("fake-digits-vae", "VAE", FakeModel(8, ("thicker", "slanted", "rounder"), 0),
         {C.ENCODE, C.ATTRIBUTES, C.INTERPOLATE, C.MANIFOLD, C.SCATTER, C.PRIOR},
         {"ELBO (nats)": -92.4, "IWAE-64 (nats)": -89.9, "PSNR (dB)": 21.7}),
        ("fake-digits-cvae", "conditional VAE", FakeModel(2, (), 0, tuple("0123456789")),
         {C.ENCODE, C.INTERPOLATE, C.MANIFOLD, C.SCATTER, C.PRIOR},
         {"ELBO (nats)": -88.1, "PSNR (dB)": 20.2}),
        ("fake-shapes-text-cvae", "conditional VAE", FakeModel(8, (), 0, prompts=FAKE_PROMPTS),
         {C.ENCODE, C.INTERPOLATE, C.SCATTER, C.PRIOR},
         {"ELBO (nats)": -5400.0, "PSNR (dB)": 25.9}),
        ("fake-emoji-dvae", "dVAE", FakeModel(6, (), 32),
         {C.TEXT_TO_IMAGE, C.ENCODE, C.INPAINT, C.CODEBOOK, C.PRIOR},
         {"PSNR (dB)": 22.9, "bits/dim": 1.74}),
        ("fake-mnist-vqvae", "VQ-VAE + class-conditional PixelCNN prior",
         FakeModel(8, (), 128, tuple("0123456789"), class_prior=True),
         {C.CLASS_TO_IMAGE, C.ENCODE, C.INTERPOLATE, C.INPAINT, C.CODEBOOK, C.PRIOR, C.SCATTER},
         {"PSNR (dB)": 25.0, "bits/code": 3.2}),
    ]
    return [
        (_info(name, family, model, image_size, "shipped", _card(name, family, metrics), metrics, capabilities), model)
        for name, family, model, capabilities, metrics in specs
    ]


def _fake_class(fake: FakeModel, label: str) -> int | None:
    """The class index of a label, as the real engine reads it: "" -> None, unknown -> InputError."""
    if not fake.classes or not label:
        return None
    if label not in fake.classes:
        raise InputError(f"This model draws the classes {', '.join(fake.classes)}; pick one of them, not {label!r}.")
    return fake.classes.index(label)


def _latent_class(fake: FakeModel, label: str) -> int | None:
    """The class that a class-conditional latent takes (encode, decode, manifold); a class prior's model
    ignores the label there, as the real engine does."""
    return None if fake.class_prior else _fake_class(fake, label)


def _condition_tint(fake: FakeModel, label: str) -> float:
    """How much a condition shifts the fake's pixels: a class by its index, a prompt by its words; "" none."""
    if fake.prompts:
        return float(_seeded("prompt", " ".join((label or "").split()) or NEUTRAL_PROMPT).integers(-40, 40))
    return 12.0 * (_latent_class(fake, label) or 0)


def _tinted(image: Image.Image, tint: float) -> Image.Image:
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float32) + tint, 0, 255).astype(np.uint8))


def _info(name, family, model: FakeModel, image_size, source, card, metrics=None, capabilities=None) -> ModelInfo:
    capabilities = capabilities or {C.ENCODE, C.INTERPOLATE, C.PRIOR}
    if model.attributes:
        capabilities = capabilities | {C.ATTRIBUTES}
    summary = f"fake {family}, {model.latent_dims} latent dimensions" + (
        f", {model.num_codes} codes" if model.num_codes else "")
    return ModelInfo(name, family, summary, card, dict(metrics or {}), frozenset(capabilities), image_size, source)


def _card(name: str, family: str, metrics: Mapping[str, float]) -> str:
    rows = "\n".join(f"| {key} | {value} |" for key, value in metrics.items())
    return (f"# {name}\n\nA fake {family} for UI tests: it draws, it does not learn.\n\n"
            f"| metric | value |\n|---|---|\n{rows}\n")


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, centre, radius: float, colour) -> None:
    x, y = float(centre[0]), float(centre[1])
    box = (x - radius, y - radius, x + radius, y + radius)
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([(x, y - radius), (x + radius, y + radius), (x - radius, y + radius)], fill=colour)


def _reveal(image: Image.Image, fraction: float) -> Image.Image:
    """The image with only its top `fraction` of rows sampled so far; the rest grey."""
    partial = image.copy()
    top = int(image.height * fraction)
    ImageDraw.Draw(partial).rectangle((0, top, image.width, image.height), fill=(200, 200, 200))
    return partial



def _fake_units(latent_dims: int, n: int, data: str) -> LatentUnitsReport:
    """Half the dimensions (rounded up) active, the others collapsed; the real engine's range check on n."""
    n = _check_count(n, "Images to measure on", *LIMITS.LATENT_UNIT_IMAGES)
    activity = tuple(0.5 / (index + 1) if index < (latent_dims + 1) // 2 else 0.0 for index in range(latent_dims))
    kl = tuple(2.0 * value for value in activity)
    return LatentUnitsReport(sum(value > 0.01 for value in activity), activity, kl, 0.01, f"{n} images of {data} (test)")


def _check_overrides(recipe: Recipe, overrides: Mapping[str, float], caps: Mapping[str, float]) -> None:
    """The real engine's checks of the main recipe settings (vaestudio.training.recipe_settings), in brief."""
    own = {setting.key: setting for setting in recipe.settings}
    for key, value in overrides.items():
        if key not in LIMITS.RECIPE_SETTINGS:
            raise InputError(f"{key} is not a setting the Train tab edits; choose one of {sorted(LIMITS.RECIPE_SETTINGS)}.")
        if key not in own:
            raise InputError(f"The recipe {recipe.name} has no {key} setting: its model does not use one.")
        if own[key].kind == "int" and float(value) != int(value):
            raise InputError(f"{key} = {value!r} has the wrong type: expected int, got float.")
        minimum, maximum = LIMITS.RECIPE_SETTINGS[key]
        maximum = min(maximum, caps.get(key, maximum))
        if not minimum <= value <= maximum:
            raise InputError(f"{own[key].label} ({key}) must lie between {minimum:g} and {maximum:g}, got {value:g}.")


def _check_state(state, kind: type, message: str) -> None:
    if not isinstance(state, kind):
        raise InputError(message)


def _check_count(value, what: str, low: int, high: int) -> int:
    """The real engine's rule: the value as an int (sliders send floats), then the pipelines' range check."""
    value = int(value)
    if not low <= value <= high:
        raise InputError(f"{what} must be an integer in [{low}, {high}], got {value!r}.")
    return value


def _data_labels(data_spec: str) -> tuple[str, ...]:
    spec = (data_spec or "").strip() or "shapes"  # empty: the model's training data (the fakes "saw" shapes)
    if spec in DATA_SOURCES:
        return DATA_SOURCES[spec]
    if spec.startswith(DATA_PREFIXES) and len(spec.split(":", 1)[1]) > 0:
        return ("a", "b", "c")
    raise InputError(
        f"Unknown data source {spec!r}. Pick one of {', '.join(DATA_SOURCES)}, or type folder:PATH, "
        "idx:PATH or hf:NAME."
    )
