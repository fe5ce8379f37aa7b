"""Text to image: prompt -> text encoder -> PixelCNN prior over the code map -> VQ-VAE decoder.

DALL-E style reranking: ``rerank`` candidates are sampled in one cached ``pixelcnn_sample``
call, decoded, scored against the prompt by the contrastive scorer, and the best ``num_images``
are returned, best first. The same arguments and seed give the same images.

Classifier-free guidance (``guidance_scale`` > 1, the bundle's default in its options): every code
is drawn from ``negative + scale * (conditioned - negative)`` logits, the negative being the
prior's reading of the bundle's ``negative_prompt`` (default: its neutral prompt), which pushes
samples towards what the prompt says beyond a bare "a shape".

Regional conditioning (a bundle whose options name a ``layout``, :mod:`vaestudio.worlds.registry`):
a prompt with several placed objects ("a red circle in the top left and a blue star at the bottom")
conditions each part of the code map on its own object's one-object caption, which a small prior
draws far more faithfully than the whole sentence; ``regions=False`` turns it off per request.
The scorer reranks against the whole prompt and, with the bundle's ``object_score_weight`` above 0 and a
regional prompt, against each object alone in its region (:mod:`vaestudio.pipelines.object_scores`).

Sampling temperature: ``temperature`` None takes the bundle's default (its ``temperature`` option,
else 1); below 1 each code's distribution is sharpened, which trades variety for cleaner drawings.

Prompts follow :mod:`vaestudio.pipelines.prompts`: an empty prompt samples from the bundle's
neutral prompt (``"a shape"`` for ``shapes``), an overlong one is truncated, unknown words are
listed in ``warnings``; none of them is an error.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterator

import torch
from PIL import Image

from vaestudio.checkpoints import Bundle
from vaestudio.common import limits
from vaestudio.common.batch import RegionalCondition
from vaestudio.models.base import StudioModel
from vaestudio.pipelines.convert import to_pil
from vaestudio.pipelines.object_scores import combined_scores, object_similarities
from vaestudio.pipelines.prompts import PreparedPrompt, prepare_prompt
from vaestudio.worlds import DEFAULT_SOFTNESS, get_layout

PENDING_GRAY = 0.5  # value of the pixels whose code rows are not sampled yet


@dataclasses.dataclass
class GeneratedImage:
    image: Image.Image
    score: float | None  # similarity with the prompt in [-1, 1] (object_scores); None without a scorer
    codes: torch.Tensor  # (h, w) int64 code map the image was decoded from


class ImageSequence:
    """What a result with an ``images`` list shares: it iterates over, counts and indexes its images."""

    images: list[GeneratedImage]

    def __iter__(self) -> Iterator[GeneratedImage]:
        return iter(self.images)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> GeneratedImage:
        return self.images[index]


@dataclasses.dataclass
class TextToImageResult(ImageSequence):
    """The images (best first) and what the pipeline did with the prompt; iterates over the images."""

    images: list[GeneratedImage]
    prompt: str  # the text the models read
    warnings: list[str]


@dataclasses.dataclass
class StreamFrame(TextToImageResult):
    """A partial result: code rows [0, rows_done) are sampled, the rest of each image is gray."""

    rows_done: int = 0
    total_rows: int = 0

    @property
    def done(self) -> bool:
        return self.rows_done == self.total_rows


def _checked_number(value, valid, requirement: str) -> float:
    """``value`` as a float when it is a real number (not a bool) that ``valid`` accepts; else a ValueError
    saying ``requirement``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not valid(value):
        raise ValueError(f"{requirement}, got {value!r}")
    return float(value)


def _check_guidance(value) -> float:
    return _checked_number(value, lambda number: 0.0 <= number <= limits.MAX_GUIDANCE,
                           f"guidance_scale must be a number in [0, {limits.MAX_GUIDANCE:g}] (1: no guidance)")


def check_temperature(value) -> float:
    return _checked_number(value, lambda number: number > 0, "temperature must be positive")


def _check_object_score_weight(value) -> float:
    return _checked_number(value, lambda number: 0.0 <= number <= 100.0,
                           "object_score_weight must be between 0 and 100 (0: whole-prompt reranking)")


def check_range(name: str, value: int, low: int, high: int) -> int:
    """``value`` as an int when it is an integer (numpy's too) in [low, high]; else a ValueError naming ``name``
    and the range."""
    try:
        number = operator.index(value) if not isinstance(value, bool) else None
    except TypeError:
        number = None
    if number is None or not low <= number <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return number


class TextToImage:
    """``TextToImage(bundle)`` or ``TextToImage(vqvae, prior, scorer)``; call it with a prompt."""

    def __init__(
        self,
        vqvae: StudioModel | Bundle,
        prior: StudioModel | None = None,
        scorer: StudioModel | None = None,
        neutral_prompt: str | None = None,
        options: dict | None = None,
    ) -> None:
        """options: a text_to_image bundle's options (neutral_prompt, negative_prompt, guidance_scale, temperature,
        layout, layout_softness, object_score_weight)."""
        options = dict(options or {})
        if isinstance(vqvae, Bundle):
            bundle = vqvae
            vqvae, prior, scorer = bundle["vqvae"], bundle["prior"], bundle.get("scorer")
            options = {**bundle.options, **options}
        if prior is None:
            raise ValueError("text to image needs a VQ-VAE and a PixelCNN prior (a text_to_image bundle)")
        if getattr(vqvae.config, "levels", 1) != 1:
            raise ValueError("text to image samples one code map: use a one-level VQ-VAE")
        if prior.config.condition == "class":
            raise ValueError("this prior is class-conditional; text to image needs a text-conditioned prior")
        if prior.config.num_codes != vqvae.config.num_codes:
            raise ValueError(
                f"the prior models {prior.config.num_codes} codes but the VQ-VAE has {vqvae.config.num_codes}"
            )
        self.vqvae, self.prior, self.scorer = vqvae.eval(), prior.eval(), scorer.eval() if scorer else None
        self.neutral_prompt = neutral_prompt if neutral_prompt is not None else options.get("neutral_prompt", "")
        self.negative_prompt = str(options.get("negative_prompt", self.neutral_prompt))
        self.guidance_scale = _check_guidance(options.get("guidance_scale", 1.0))
        self.temperature = check_temperature(options.get("temperature", 1.0))
        self.layout = get_layout(options.get("layout")) if prior.config.condition == "text" else None
        self.layout_softness = float(options.get("layout_softness", DEFAULT_SOFTNESS))
        self.object_score_weight = _check_object_score_weight(options.get("object_score_weight", 0.0))
        self.code_map_shape = tuple(vqvae.code_map_shape)  # (h, w)

    # -- prompts -----------------------------------------------------------------------------
    def _text_encoders(self) -> list:
        encoders = [getattr(self.prior, "text_encoder", None)]
        if self.scorer is not None:
            encoders.append(self.scorer.text_encoder)
        return [encoder for encoder in encoders if encoder is not None]

    def prepare(self, prompt: str | None) -> PreparedPrompt:
        prepared = prepare_prompt(prompt, self.neutral_prompt, self._text_encoders())
        if self.prior.config.condition == "none" and prepared.text:
            prepared.warnings.append("this prior is unconditional: the prompt only ranks the samples")
        return prepared

    def condition(self, text: str, count: int, regions: bool = True):
        """What the prior's ``sample`` takes for ``count`` maps under ``text``: a RegionalCondition when
        ``regions`` and the bundle's layout splits the prompt into placed objects, else ``count`` captions."""
        if self.prior.config.condition != "text":
            return count
        if regions and self.layout is not None:
            regional = self.layout(text, self.code_map_shape, count, self.layout_softness)
            if regional is not None:
                return regional
        return [text] * count

    def guidance(self, count: int, guidance_scale: float | None = None) -> dict:
        """The prior's guidance arguments for ``count`` maps (none at scale 1 or for an unconditional prior);
        ``guidance_scale`` None: the bundle's default."""
        scale = self.guidance_scale if guidance_scale is None else _check_guidance(guidance_scale)
        if scale == 1.0 or self.prior.config.condition != "text":
            return {}
        negative = prepare_prompt(self.negative_prompt, self.neutral_prompt, self._text_encoders()).text
        return {"negative_condition": [negative] * count, "guidance_scale": scale}

    # -- sampling ----------------------------------------------------------------------------
    def _arguments(
        self, num_images: int, rerank: int | None, temperature: float | None, top_k: int
    ) -> tuple[int, float]:
        """The number of candidates and the temperature (None: the bundle's) of a request, checked."""
        check_range("num_images", num_images, *limits.IMAGES)
        candidates = num_images if rerank is None else max(check_range("rerank", rerank, *limits.RERANK), num_images)
        check_range("top_k", top_k, 0, self.prior.config.num_codes)
        return candidates, self.sampling_temperature(temperature)

    def sampling_temperature(self, temperature: float | None) -> float:
        """A request's temperature, checked; None: the bundle's default."""
        return self.temperature if temperature is None else check_temperature(temperature)

    def decode_and_rank(
        self, codes: torch.Tensor, text: str, num_images: int, rerank: bool = True,
        condition: RegionalCondition | list[str] | int | None = None,
    ) -> list[GeneratedImage]:
        """Decodes candidate maps (R, h, w), scores them (when there is a scorer and ``rerank``),
        returns the best ``num_images`` (the first ones, unscored, otherwise). ``condition``: what the
        maps were sampled under; a RegionalCondition has each of its objects scored on its own too."""
        images = self.vqvae.decode_codes(codes)  # (R, C, H, W)
        if self.scorer is None or not rerank:
            order, scores = torch.arange(codes.shape[0]), None
        else:
            scores = self.scorer.score(images, text)  # (R,)
            if isinstance(condition, RegionalCondition) and self.object_score_weight > 0:
                objects = object_similarities(self.scorer, images, condition)  # (R, objects)
                scores = combined_scores(scores, objects, self.object_score_weight)  # (R,)
            order = torch.argsort(scores, descending=True, stable=True)  # (R,)
        chosen = order[:num_images]
        pictures = to_pil(images[chosen])
        return [
            GeneratedImage(picture, None if scores is None else float(scores[index]), codes[index].clone())
            for picture, index in zip(pictures, chosen.tolist())
        ]

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | None,
        num_images: int = 4,
        rerank: int | None = 16,
        seed: int = 0,
        temperature: float | None = None,
        top_k: int = 0,
        guidance_scale: float | None = None,
        regions: bool = True,
    ) -> TextToImageResult:
        """The best ``num_images`` of ``rerank`` candidates (all of them unranked without a scorer)."""
        candidates, temperature = self._arguments(num_images, rerank, temperature, top_k)
        guidance = self.guidance(candidates, guidance_scale)
        prepared = self.prepare(prompt)
        height, width = self.code_map_shape
        condition = self.condition(prepared.text, candidates, regions)
        codes = self.prior.sample(
            condition, height, width, float(temperature), int(top_k), int(seed), **guidance,
        )  # (R, h, w)
        ranked = self.decode_and_rank(codes, prepared.text, num_images, condition=condition)
        return TextToImageResult(ranked, prepared.text, prepared.warnings)

    @torch.no_grad()
    def stream(
        self,
        prompt: str | None,
        num_images: int = 4,
        rerank: int | None = None,
        seed: int = 0,
        temperature: float | None = None,
        top_k: int = 0,
        rows_per_frame: int = 1,
        guidance_scale: float | None = None,
        regions: bool = True,
    ) -> Iterator[StreamFrame]:
        """Yields a frame per completed block of ``rows_per_frame`` code rows (the first ``num_images``
        candidates, decoded with the rows not sampled yet painted gray), then the final frame, equal to
        ``__call__`` with the same arguments (reranked when ``rerank`` > ``num_images``)."""
        candidates, temperature = self._arguments(num_images, rerank, temperature, top_k)
        guidance = self.guidance(candidates, guidance_scale)
        prepared = self.prepare(prompt)
        height, width = self.code_map_shape
        condition = self.condition(prepared.text, candidates, regions)
        rows = self.prior.sample_rows(
            condition, height, width, float(temperature), int(top_k), int(seed), rows_per_step=rows_per_frame,
            **guidance,
        )
        codes = None
        scale = self.vqvae.config.image_size // height  # image rows per code row
        for step, codes in enumerate(rows, start=1):
            rows_done = min(height, step * rows_per_frame)
            if rows_done == height:
                break
            shown = codes[:num_images]  # (N, h, w)
            images = self.vqvae.decode_codes(shown)  # (N, C, H, W)
            images[:, :, rows_done * scale :] = PENDING_GRAY
            partial = [GeneratedImage(picture, None, map_.clone()) for picture, map_ in zip(to_pil(images), shown)]
            yield StreamFrame(partial, prepared.text, prepared.warnings, rows_done, height)
        final = self.decode_and_rank(codes, prepared.text, num_images, condition=condition)
        yield StreamFrame(final, prepared.text, prepared.warnings, height, height)
