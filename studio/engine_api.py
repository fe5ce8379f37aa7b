"""What the studio's UI asks of an engine: plain Python, PIL and numpy values in and out.

Two engines implement :class:`StudioEngine`: :class:`studio.engine.Engine` (the real one, over
``vaestudio``) and :class:`studio.fake_engine.FakeEngine` (cheap deterministic drawings, for fast
UI tests). Nothing here imports torch or vaestudio.

Opaque ``state`` values (an encoded image, a scatter's projection) belong to the engine that made
them; the UI only keeps them in a ``gr.State`` and hands them back.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from PIL import Image

# --------------------------------------------------------------------------- errors


class StudioError(Exception):
    """A failure the user can fix. The message says what went wrong and what to do."""


class InputError(StudioError):
    """A bad upload or parameter: not an image, too large, an empty prompt, a bad data spec."""


class ModelError(StudioError):
    """No such model, a folder that is not a model, or a model that cannot do what was asked."""


class BusyError(StudioError):
    """The engine has no room for this right now (e.g. a training run is already going)."""


# --------------------------------------------------------------------------- models


class Capability(str, enum.Enum):
    """What a model can do; the tabs offer a model only where it has the capability."""

    TEXT_TO_IMAGE = "text_to_image"
    CLASS_TO_IMAGE = "class_to_image"  # draws a chosen class from a class-conditional prior; inpaints as a class
    ENCODE = "encode"  # encode, reconstruct, latent sliders
    ATTRIBUTES = "attributes"  # attribute vectors in latent space
    INTERPOLATE = "interpolate"
    INPAINT = "inpaint"
    MANIFOLD = "manifold"  # a 2-D grid of decodes
    SCATTER = "scatter"  # a dataset's latents in 2-D
    CODEBOOK = "codebook"  # discrete codes: usage histogram
    PRIOR = "prior"  # unconditional samples from the prior


@dataclass(frozen=True)
class ModelInfo:
    name: str
    family: str  # "VAE", "beta-VAE", "VQ-VAE", "VQ-VAE-2", "dVAE", ...
    summary: str  # one line
    card: str  # the model card, markdown
    metrics: Mapping[str, float]  # e.g. {"PSNR (dB)": 24.1, "bits/dim": 1.3}
    capabilities: frozenset[Capability]
    image_size: int  # pixels on a side
    source: str  # "shipped", a folder, a Hub id, or "trained in the studio"

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ScoredImage:
    image: Image.Image
    score: float | None  # None while the image is still being sampled


@dataclass(frozen=True)
class Generation:
    """Text-to-image images (best first), and what the model made of the prompt."""

    images: Sequence[ScoredImage]
    prompt_read: str  # the text the model read (an empty prompt becomes the model's neutral prompt)
    notes: Sequence[str] = ()  # e.g. words the model does not know; never errors
    rows_done: int = 1  # while streaming: code-map rows sampled so far, of total_rows
    total_rows: int = 1

    @property
    def done(self) -> bool:
        return self.rows_done >= self.total_rows


@dataclass(frozen=True)
class SliderSpec:
    label: str
    minimum: float
    maximum: float
    step: float
    value: float  # the encoded image's own value: what "reset" returns to


@dataclass(frozen=True)
class Encoding:
    state: Any  # opaque, for decode_sliders / random_slider_values / reset_slider_values
    model_input: Image.Image  # the upload as the model sees it (resized)
    reconstruction: Image.Image
    sliders: Sequence[SliderSpec]
    attributes: Sequence[str]
    summary: str  # e.g. "12 latent dimensions, reconstruction PSNR 23.4 dB"
    code_map: Image.Image | None = None  # the general image model's code map view (a colour per code), else None


@dataclass(frozen=True)
class Interpolation:
    strip: Image.Image  # the frames side by side
    gif: bytes  # the frames as an animated GIF (there and back)


@dataclass(frozen=True)
class LatentScatter:
    x: Sequence[float]
    y: Sequence[float]
    labels: Sequence[str]
    x_title: str
    y_title: str
    state: Any  # opaque, for decode_point


@dataclass(frozen=True)
class CodeMaps:
    """An image's code maps: one picture per level (a VQ-VAE-2's top, then bottom), each cell its code's colour."""

    reconstruction: Image.Image  # decoded from the codes shown
    pictures: Sequence[Image.Image]
    captions: Sequence[str]  # one per picture
    note: str  # e.g. the reconstruction's PSNR


@dataclass(frozen=True)
class CodebookUsage:
    counts: Sequence[int]  # counts[k]: how often code k was chosen over the measured data
    perplexity: float
    dead_codes: int
    measured_on: str  # what data the counts come from


# --------------------------------------------------------------------------- learn


@dataclass(frozen=True)
class LessonSummary:
    """One lesson of the Learn tab, and its one control (a slider)."""

    name: str
    number: int
    title: str
    control_label: str
    minimum: float
    maximum: float
    step: float
    default: float
    control_info: str = ""


@dataclass(frozen=True)
class LessonView:
    """A rendered lesson: the claim, the figure computed live, the numbers behind it."""

    name: str
    title: str
    paragraph: str
    figure: Image.Image
    numbers: Mapping[str, Any]  # JSON-able
    value: float  # the control value it was computed at
    models: Mapping[str, str]  # role -> model name
    seconds: float


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainingSettings:
    steps: int  # 0: the recipe's own length (it may count epochs)
    batch_size: int
    learning_rate: float
    seed: int
    overrides: Mapping[str, float] = field(default_factory=dict)  # main recipe settings by key (Recipe.settings)


@dataclass(frozen=True)
class RecipeSetting:
    """One main setting of a recipe the Train tab edits (beta, latent size, codebook size, k of IWAE, warm-up,
    free bits): its value in the recipe and the recipe's own comment on it as help."""

    key: str  # "model.beta", "training.kl_warmup_steps", ...
    label: str
    value: float
    help: str
    kind: str  # "int" or "float"
    minimum: float
    maximum: float


@dataclass(frozen=True)
class DataSourceStatus:
    """One data source as the Train tab lists it: here or not, and how to get it."""

    name: str  # the spec, e.g. "mnist" or "folder:PATH"
    title: str
    installed: bool
    note: str  # "installed in FOLDER", "not installed: get it with `COMMAND`", or what is damaged


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    data: str  # the data source spec the recipe trains on
    defaults: TrainingSettings
    settings: Sequence[RecipeSetting] = ()  # the main settings this recipe's model has


class JobState(str, enum.Enum):
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class TrainingStatus:
    job_id: str
    state: JobState
    step: int
    total_steps: int
    losses: Sequence[tuple[int, float]] = field(default_factory=tuple)  # (step, loss)
    samples: Image.Image | None = None  # the latest sample grid
    message: str = ""

    @property
    def done(self) -> bool:
        return self.state is not JobState.RUNNING


@dataclass(frozen=True)
class TrainingCurve:
    """One live plot of a run, read from its log.jsonl: the loss, the reconstruction term, the KL term, the bound,
    the KL weight; for VQ models the commitment, the codebook usage and the perplexity."""

    name: str  # "kl", "bound", ...
    title: str
    points: Sequence[tuple[int, str, float]]  # (step, series, value): one line per series


@dataclass(frozen=True)
class LatentUnitsReport:
    """Which latent dimensions of a Gaussian VAE carry information (Burda et al.'s active units)."""

    active_units: int  # dimensions whose activity is above the threshold
    activity: Sequence[float]  # Cov_x(E_q[z_u]) per dimension
    kl_per_dimension: Sequence[float]  # nats, the data mean of KL(q(z_u|x) || N(0, 1))
    threshold: float
    measured_on: str  # e.g. "500 images of mnist (test)"

    @property
    def kl(self) -> float:
        return float(sum(self.kl_per_dimension))


# --------------------------------------------------------------------------- the protocol


@runtime_checkable
class StudioEngine(Protocol):
    """Everything the tabs call. Failures the user can fix raise :class:`StudioError` subclasses."""

    # Models
    def list_models(self) -> list[ModelInfo]: ...
    def load_folder(self, path_or_hub_id: str) -> ModelInfo: ...
    def backend_info(self) -> str: ...

    # Uploads: the door policy (EXIF, alpha, 16-bit, palette, CMYK, animated) and a pixel cap
    # checked before decoding. `source` is a file path or the file's bytes.
    def read_image(self, source: str | bytes, max_pixels: int) -> Image.Image: ...

    # Text to image
    # guidance: classifier-free guidance scale; 0 = the model's own default, 1 = none
    # regions: let a model with a layout draw each placed object of the prompt in its own region
    # (regional conditioning); False conditions the whole image on the whole prompt
    def text_to_image(
        self, model: str, prompt: str, num_images: int, seed: int, temperature: float, top_k: int, rerank: int,
        guidance: float = 0.0, regions: bool = True,
    ) -> Generation: ...
    def text_to_image_stream(
        self, model: str, prompt: str, num_images: int, seed: int, temperature: float, top_k: int, rerank: int,
        guidance: float = 0.0, regions: bool = True,
    ) -> Iterator[Generation]: ...  # a partial generation per sampled code-map row, then the final one

    # Edit
    # label: for a class-conditional model, the class of the image (encode) and the class to draw it as
    # (decode_sliders; "" keeps the encoding's); for a text-conditional model, the image's caption or prompt
    # (encode; "" is the model's neutral prompt) and the prompt to draw it with (decode_sliders); other models
    # ignore it, a CLASS_TO_IMAGE model too (its VQ-VAE encodes any image alike; its classes are for samples and
    # inpainting). See model_classes and model_prompts.
    def encode(self, model: str, image: Image.Image, label: str = "") -> Encoding: ...
    def decode_sliders(
        self, model: str, state: Any, slider_values: Sequence[float], attribute_strengths: Mapping[str, float],
        label: str = "",
    ) -> Image.Image: ...
    def random_slider_values(self, model: str, state: Any, seed: int) -> list[float]: ...
    def reset_slider_values(self, model: str, state: Any) -> list[float]: ...
    # label, second_label: the class (or prompt) of each image ("" second: the first's); frames_label: what
    # every frame is drawn as ("": the blend from the first's condition to the second's). Unconditional
    # models ignore them. See interpolation_classes and model_prompts.
    def interpolate(
        self, model: str, image_a: Image.Image, image_b: Image.Image, steps: int, mode: str, label: str = "",
        second_label: str = "", frames_label: str = "",
    ) -> Interpolation: ...
    def interpolation_classes(self, model: str) -> list[str]: ...  # what each end may be: its classes, else []
    def model_prompts(self, model: str) -> list[str]: ...  # a text-conditional model's example prompts, else []
    # label: for a CLASS_TO_IMAGE model, the class to draw in the painted region ("": each candidate another
    # class, in turn); the codes outside the region are kept. Other models ignore it (they read the prompt).
    def inpaint(
        self, model: str, image: Image.Image, mask: Image.Image, prompt: str, num_candidates: int, seed: int,
        label: str = "",
    ) -> list[Image.Image]: ...

    # Explore
    def model_classes(self, model: str) -> list[str]: ...  # the classes a model draws (class-conditional), else []
    def manifold_grid(self, model: str, n: int, label: str = "") -> Image.Image: ...  # label: its class
    def list_data_sources(self) -> list[str]: ...
    def latent_scatter(self, model: str, data_spec: str, n: int) -> LatentScatter: ...
    def decode_point(self, model: str, state: Any, x: float, y: float) -> Image.Image: ...
    def codebook_usage(self, model: str) -> CodebookUsage: ...
    def code_maps(self, model: str, image: Image.Image) -> CodeMaps: ...  # VQ models (Capability.CODEBOOK)
    def prior_samples(self, model: str, n: int, seed: int, label: str = "") -> Image.Image: ...  # "": every class
    # (a text-conditional model: label is the prompt to sample; "": its neutral prompt)

    # Learn
    def list_lessons(self) -> list[LessonSummary]: ...
    def render_lesson(self, name: str, value: float) -> LessonView: ...

    # Train
    def list_recipes(self) -> list[Recipe]: ...
    def data_source_statuses(self) -> list[DataSourceStatus]: ...
    def start_training(self, data_spec: str, recipe: str, settings: TrainingSettings) -> str: ...
    def training_status(self, job_id: str) -> TrainingStatus: ...
    def stop_training(self, job_id: str) -> TrainingStatus: ...
    def save_training(self, job_id: str, folder: str) -> str: ...
    def load_training(self, job_id: str) -> ModelInfo: ...
    def training_curves(self, job_id: str) -> list[TrainingCurve]: ...  # [] until the first log step
    # the training lab: active units and KL per dimension of a Gaussian VAE (a ModelError for other models)
    def latent_units(self, model: str, n: int) -> LatentUnitsReport: ...
    def training_latent_units(self, job_id: str, n: int) -> LatentUnitsReport: ...  # a stopped or finished run
