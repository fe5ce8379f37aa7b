"""The editor: encode an image, move it in latent space, decode it.

``Editor(model)`` takes a VAE (beta-VAE, CVAE), a VQ-VAE of one or two levels, a dVAE (its latent: the argmax
code embeddings), a bundle of such a code model and a PixelCNN prior over its codes (a text-to-image or
class-to-image bundle: whose prior samples and inpaints from a prompt, or as a chosen class; a ``code_prior``
bundle such as ``mnist-dvae``) or a two-level bundle (a VQ-VAE-2 whose top and bottom priors sample and inpaint:
:mod:`two_level`). Uploads of any size and mode go through the project's image policy
(``vaestudio.data.images``).

- sliders (:mod:`sliders`): active dimensions by KL for Gaussian models, principal directions of the
  pre-quantisation maps for VQ models, both over a sample of the model's training data;
- attribute vectors (:mod:`attributes`) from labels or caption words, added with a strength;
- interpolation between two images, linear or spherical, as frames, a strip and a GIF; a conditional
  model encodes each image with its own class or prompt and draws the frames as one, or as the blend of
  the two (:mod:`conditions`);
- inpainting (:mod:`inpainting`), prior samples, the 2-D manifold grid, a latent scatter, codebook usage.

Per-model precomputations (the data sample's latents, sliders, attribute vectors) are made on
first use and shared by every editor of the same model object; a slider move only decodes.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Iterator

import numpy as np
import torch
from PIL import Image

from vaestudio.checkpoints import Bundle
from vaestudio.common import limits, metrics
from vaestudio.data.images import to_model_input
from vaestudio.models.base import StudioModel
from vaestudio.models.conditioning import condition_from_data
from vaestudio.pipelines.attributes import apply_attributes, attribute_masks, attribute_vectors
from vaestudio.pipelines.class_to_image import ClassToImage
from vaestudio.pipelines.conditions import batched, checked_condition, frame_conditions, interpolation_conditions
from vaestudio.pipelines.code_maps import CodeMapView, code_map_view
from vaestudio.pipelines.convert import animated_gif, grid, strip, to_pil
from vaestudio.pipelines.dataset_sample import DatasetSample, open_model_source, read_sample
from vaestudio.pipelines.inpainting import Inpainter
from vaestudio.pipelines.keyword_vectors import keyword_images, keyword_of, without_keyword
from vaestudio.pipelines.latent_space import latent_space
from vaestudio.pipelines.sliders import SliderSet, SliderSpec, gaussian_sliders, principal_sliders
from vaestudio.pipelines.text_to_image import TextToImage, check_range
from vaestudio.pipelines.two_level import BUNDLE_KIND as TWO_LEVEL_KIND
from vaestudio.pipelines.two_level import TwoLevel
from vaestudio.worlds import LABEL_WORDS, NEUTRAL_PROMPTS

KL_THRESHOLD = 0.05  # nats: a Gaussian latent dimension below this mean KL is inactive
NUM_PRINCIPAL_SLIDERS = 8
SAMPLE_SIZE = 512
NUM_EXAMPLE_PROMPTS = 8

_PRECOMPUTED: weakref.WeakKeyDictionary[StudioModel, dict] = weakref.WeakKeyDictionary()


@dataclasses.dataclass
class Encoding:
    """An encoded image: what the sliders start from."""

    image: Image.Image  # the model's input (after the upload policy)
    latents: torch.Tensor  # (1, F) flattened latent
    reconstruction: Image.Image
    slider_values: list[float]
    condition: object = None  # class id or prompt of a conditional model
    psnr: float = float("nan")  # dB, of the reconstruction against the model's input (pixels in [0, 1])


@dataclasses.dataclass
class Interpolation:
    frames: list[Image.Image]
    strip: Image.Image
    gif: bytes
    mode: str

    def __iter__(self) -> Iterator[Image.Image]:
        return iter(self.frames)

    def __len__(self) -> int:
        return len(self.frames)


@dataclasses.dataclass
class LatentScatter:
    points: np.ndarray  # (N, 2)
    labels: list[str]
    x_title: str
    y_title: str
    editor: Editor
    basis: tuple[torch.Tensor, torch.Tensor] | None  # origin (F,), directions (2, F); None: the latent is 2-D

    def decode(self, x: float, y: float) -> Image.Image:
        """The image at a point of the scatter's plane."""
        point = torch.tensor([[float(x), float(y)]])  # (1, 2)
        flat = point if self.basis is None else self.basis[0] + point @ self.basis[1]  # (1, F)
        return self.editor.decode_flat(flat)[0]


@dataclasses.dataclass
class CodebookUsage:
    counts: np.ndarray  # (K,) how often each code is used
    measured_on: str
    perplexity: float = float("nan")  # exp(entropy) of the code distribution: the codes in effective use
    dead_codes: int = 0  # codes never chosen

    @property
    def alive_fraction(self) -> float:
        return float((self.counts > 0).mean())


def _slerp(first: torch.Tensor, second: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of (F,) vectors at weights (T,) -> (T, F); linear when they are parallel."""
    a, b = first.double(), second.double()
    cosine = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    angle = torch.arccos(cosine.clamp(-1.0, 1.0))
    t = weights.double()[:, None]  # (T, 1)
    if float(torch.sin(angle)) < 1e-6:
        return ((1 - t) * a + t * b).to(first.dtype)
    mixed = (torch.sin((1 - t) * angle) * a + torch.sin(t * angle) * b) / torch.sin(angle)  # (T, F)
    return mixed.to(first.dtype)


class Editor:
    def __init__(
        self,
        model: StudioModel | Bundle,
        source=None,
        sample_size: int = SAMPLE_SIZE,
        kl_threshold: float = KL_THRESHOLD,
        num_principal_sliders: int = NUM_PRINCIPAL_SLIDERS,
    ) -> None:
        self.prior = self.scorer = self.two_level = None
        self.neutral_prompt, self.bundle_options = "", {}
        if isinstance(model, Bundle) and model.kind == TWO_LEVEL_KIND:
            self.two_level = TwoLevel(model)
            self.prior = self.two_level.top_prior  # sampling and inpainting go through self.two_level
            model = model["vqvae"]
        elif isinstance(model, Bundle):
            self.prior, self.scorer = model.get("prior"), model.get("scorer")
            self.neutral_prompt = model.options.get("neutral_prompt", "")
            self.bundle_options = dict(model.options)
            model = model["vqvae"]
        self.model = model.eval()
        self.space = latent_space(model)
        self.source = source
        self.sample_size = sample_size
        self.kl_threshold = kl_threshold
        self.num_principal_sliders = num_principal_sliders
        self._inpainter = None
        self._class_drawer = None

    # -- what it can do --------------------------------------------------------------------------
    @property
    def capabilities(self) -> frozenset[str]:
        names = {"encode", "interpolate", "scatter"}
        if not self._prior_free_point_space and (self.space.kind != "vq" or self.prior is not None):
            names.add("sample")  # an AE, or a VQ-VAE without its PixelCNN prior, has nothing to sample
        if self.space.kind == "vq":
            names.add("codebook")
            if self.prior is not None:
                names.add("inpaint")
        if self._normal_prior and self.space.latent_shape() == (2,):
            names.add("manifold")
        return frozenset(names)

    @property
    def _normal_prior(self) -> bool:
        """Whether latents are meant to follow N(0, I): a VAE's, a WAE's (not a plain autoencoder's)."""
        return self.space.kind == "gaussian" or (self.space.kind == "point" and self.space.has_prior)

    @property
    def _prior_free_point_space(self) -> bool:
        return self.space.kind == "point" and not self.space.has_prior

    @property
    def _class_prior(self) -> bool:
        """Whether the bundle's prior draws classes (a class_to_image bundle)."""
        return (self.two_level is None and self.prior is not None
                and getattr(self.prior.config, "condition", "none") == "class")

    def class_drawer(self) -> ClassToImage:
        """The class-to-image pipeline over the bundle's VQ-VAE and class-conditional prior."""
        if not self._class_prior:
            raise ValueError("this model draws no classes: load a class_to_image bundle such as 'mnist-vqvae'")
        if self._class_drawer is None:
            self._class_drawer = ClassToImage(self.model, self.prior, self.bundle_options)
        return self._class_drawer

    def class_names(self) -> list[str]:
        """The classes a model draws, in label order: a class-conditional model's (the training data's names when
        known, else "0".."K-1") or a class-conditional prior's; [] for other models."""
        if self._class_prior:
            return list(self.class_drawer().class_names)
        return self.latent_class_names()

    def latent_class_names(self) -> list[str]:
        """The classes that a class-conditional model's encoder and decoder take (what ``encode``, ``decode`` and
        ``manifold_grid`` read); [] for other models, a class_to_image bundle's VQ-VAE included."""
        if self.space.condition_kind != "class":
            return []
        from vaestudio.data.catalogue import label_names
        from vaestudio.hub import training_data

        count = int(self.model.config.num_classes)
        names = label_names((training_data(self.model) or {}).get("source"))
        return names if names is not None and len(names) == count else [str(index) for index in range(count)]

    def text_neutral_prompt(self) -> str:
        """What a text-conditional model reads for an empty prompt: its world's caption that says nothing
        (``"a shape"`` for shapes, registered in :mod:`vaestudio.worlds`) when the model knows its words (it
        was trained with blank captions), else the empty string."""
        if self.space.condition_kind != "text":
            return ""
        if self.neutral_prompt:
            return self.neutral_prompt
        from vaestudio.hub import training_data

        spec = self.source if isinstance(self.source, str) else getattr(self.source, "spec", None)
        prompt = NEUTRAL_PROMPTS.get(spec or (training_data(self.model) or {}).get("source"), "")
        return prompt if prompt and not self.model.text_encoder.unknown_words(prompt) else ""

    def example_prompts(self, count: int = NUM_EXAMPLE_PROMPTS) -> list[str]:
        """A text-conditional model's example prompts: its neutral prompt, then distinct captions of its
        training data sample (words it knows, in its world's grammar); [] for other models."""
        if self.space.condition_kind != "text":
            return []
        prompts = [self.text_neutral_prompt()] if self.text_neutral_prompt() else []
        for caption in self.dataset_sample().captions or []:
            if len(prompts) >= count:
                break
            if caption not in prompts:
                prompts.append(caption)
        return prompts

    # -- per-model precomputations --------------------------------------------------------------
    def _cache(self) -> dict:
        key = (self.source if isinstance(self.source, (str, type(None))) else id(self.source), self.sample_size)
        return _PRECOMPUTED.setdefault(self.model, {}).setdefault(key, {})

    def dataset_sample(self) -> DatasetSample:
        cache = self._cache()
        if "sample" not in cache:
            source = open_model_source(self.model, self.source, "train", self.space.image_size)
            cache["sample"] = read_sample(source, self.sample_size)
        return cache["sample"]

    def _sample_condition(self, sample: DatasetSample):
        return condition_from_data(self.space.condition_kind, sample.labels, sample.captions, "this model")

    def sample_latents(self) -> torch.Tensor:
        """The data sample's flattened latents (N, F)."""
        cache = self._cache()
        if "latents" not in cache:
            sample = self.dataset_sample()
            condition = self._sample_condition(sample)
            chunks = []
            for start in range(0, sample.images.shape[0], 128):
                part = None if condition is None else condition[start : start + 128]
                chunks.append(self.space.flatten(self.space.encode(sample.images[start : start + 128], part)))
            cache["latents"] = torch.cat(chunks)  # (N, F)
        return cache["latents"]

    def sliders(self) -> SliderSet:
        cache = self._cache()
        key = ("sliders", self.kl_threshold, self.num_principal_sliders)
        if key not in cache:
            if self.space.kind == "gaussian":
                sample = self.dataset_sample()
                kl = self.space.kl_per_dimension(sample.images, self._sample_condition(sample))  # (L,)
                cache[key] = gaussian_sliders(kl, self.kl_threshold)
            else:
                cache[key] = principal_sliders(self.sample_latents(), self.num_principal_sliders)
        return cache[key]

    def attribute_vectors(self) -> dict[str, torch.Tensor]:
        cache = self._cache()
        if "attributes" not in cache:
            sample = self.dataset_sample()
            masks = attribute_masks(sample.label_texts(), sample.captions, sample.label_names)
            cache["attributes"] = attribute_vectors(self.sample_latents(), masks)
        return cache["attributes"]

    def attribute_names(self) -> list[str]:
        return list(self.attribute_vectors())

    @torch.no_grad()
    def keyword_vector(self, keyword: str) -> torch.Tensor:
        """(F,): the attribute vector of any typed keyword of the captions ("smiling", "cat"), found among all
        the training captions where the source lists them (:mod:`keyword_vectors`); cached per model."""
        word = keyword_of(keyword)
        cache = self._cache().setdefault("keywords", {})
        if word not in cache:
            source = open_model_source(self.model, self.source, "train", self.space.image_size)
            batch = keyword_images(source, self.dataset_sample(), word)
            condition = condition_from_data(self.space.condition_kind, batch.labels, batch.captions, "this model")
            having = self.space.flatten(self.space.encode(batch.images, condition)).mean(0)  # (F,)
            rest = torch.from_numpy(without_keyword(self.dataset_sample(), word))  # (N,) bool
            latents = self.sample_latents()  # (N, F)
            cache[word] = having - (latents[rest] if bool(rest.any()) else latents).mean(0)  # (F,)
        return cache[word]

    # -- encode and decode -----------------------------------------------------------------------
    def model_input(self, image) -> torch.Tensor:
        """Any upload -> (1, C, S, S) at the model's resolution (the project's image policy)."""
        return to_model_input(image, self.space.image_size, self.space.channels)[None]

    def _check_condition(self, condition):
        """A class id, a prompt (an empty one: the neutral prompt) or None, as the model's kind needs."""
        if self.space.condition_kind == "class" and condition is None:
            raise ValueError("this model is conditioned on a class: pass condition=<a class>")
        return checked_condition(self.model, self.space.condition_kind, condition, self.text_neutral_prompt())

    def decode_flat(self, flat: torch.Tensor, condition=None) -> list[Image.Image]:
        """Flattened latents (B, F) -> B pictures."""
        return to_pil(self._decode_pixels(flat, condition))

    def _decode_pixels(self, flat: torch.Tensor, condition=None) -> torch.Tensor:
        """Flattened latents (B, F) -> images (B, C, H, W) in [0, 1]."""
        latents = self.space.unflatten(flat)
        if condition is not None and self.space.condition_kind == "class" and isinstance(condition, int):
            condition = torch.full((flat.shape[0],), condition, dtype=torch.int64)
        elif condition is not None and isinstance(condition, str):
            condition = [condition] * flat.shape[0]
        return self.space.decode(latents, condition)

    @torch.no_grad()
    def encode(self, image, condition=None) -> Encoding:
        condition = self._check_condition(condition)
        pixels = self.model_input(image)  # (1, C, S, S)
        flat = self.space.flatten(self.space.encode(pixels, batched(condition, 1)))  # (1, F)
        sliders = self.sliders()
        values = sliders.values(flat)[0].tolist() if len(sliders) else []
        decoded = self._decode_pixels(flat, condition)  # (1, C, S, S)
        psnr = float(metrics.psnr(metrics.mean_squared_error(pixels, decoded.clamp(0, 1)))[0])
        return Encoding(to_pil(pixels)[0], flat, to_pil(decoded)[0], values, condition, psnr)

    def random_slider_values(self, encoding: Encoding, seed: int) -> list[float]:
        """Values drawn around the middle of each slider's range (a normal with a sixth of it as spread)."""
        specs = self.slider_specs(encoding)
        draws = np.random.default_rng(int(seed)).normal(0.0, 1.0, len(specs))  # (S,)
        return [round(float(np.clip((spec.minimum + spec.maximum) / 2 + draw * (spec.maximum - spec.minimum) / 6,
                                    spec.minimum, spec.maximum)), 4) for draw, spec in zip(draws, specs)]

    def slider_specs(self, encoding: Encoding | None = None) -> list[SliderSpec]:
        values = encoding.slider_values if encoding is not None else [0.0] * len(self.sliders())
        return self.sliders().specs(values)

    def edited_latents(
        self, encoding: Encoding, slider_values=None, attribute_strengths: dict[str, float] | None = None
    ) -> torch.Tensor:
        """The encoding's flat latent (1, F) with sliders set and attribute vectors added."""
        flat = encoding.latents
        sliders = self.sliders()
        if slider_values is not None and len(sliders):
            values = list(slider_values)[: len(sliders)]
            values += encoding.slider_values[len(values) :]
            old = torch.tensor([encoding.slider_values], dtype=flat.dtype)  # (1, S)
            flat = sliders.move(flat, old, torch.tensor([values], dtype=flat.dtype))
        if attribute_strengths:
            vectors = dict(self.attribute_vectors())
            for name, strength in attribute_strengths.items():  # a name not offered: a typed keyword
                if strength and name not in vectors:
                    vectors[name] = self.keyword_vector(name)
            flat = apply_attributes(flat, vectors, attribute_strengths)
        return flat

    @torch.no_grad()
    def decode(self, encoding: Encoding, slider_values=None, attribute_strengths=None, condition=None) -> Image.Image:
        """The edited image: decode only (sliders and vectors are precomputed)."""
        flat = self.edited_latents(encoding, slider_values, attribute_strengths)
        condition = encoding.condition if condition is None else self._check_condition(condition)
        return self.decode_flat(flat, condition)[0]

    # -- interpolation ---------------------------------------------------------------------------
    @torch.no_grad()
    def interpolate(self, image_a, image_b, steps: int = 8, mode: str = "linear", condition=None,
                    frame_milliseconds: int = 80, second_condition=None, frame_condition=None) -> Interpolation:
        """``steps`` frames from image_a's latent to image_b's (both ends included).

        A conditional model encodes image_a with ``condition`` and image_b with ``second_condition`` (None:
        the same), and draws every frame as ``frame_condition``; None blends the two ends' conditions.
        """
        if mode not in ("linear", "spherical"):
            raise ValueError(f"mode must be 'linear' or 'spherical', got {mode!r}")
        check_range("steps", steps, *limits.INTERPOLATION_STEPS)
        if self.space.condition_kind == "class" and condition is None:
            raise ValueError("this model is conditioned on a class: pass condition=<the first image's class>")
        conditions = interpolation_conditions(self.model, self.space.condition_kind, condition, second_condition,
                                              frame_condition, self.text_neutral_prompt())
        first = self.encode(image_a, conditions.first).latents[0]  # (F,)
        second = self.encode(image_b, conditions.second).latents[0]  # (F,)
        weights = torch.linspace(0.0, 1.0, int(steps))  # (T,)
        if mode == "linear":
            flat = torch.lerp(first[None], second[None], weights[:, None])  # (T, F)
        else:
            flat = _slerp(first, second, weights)
        flat[0], flat[-1] = first, second  # the ends are the inputs' latents exactly
        frames = to_pil(self.space.decode(self.space.unflatten(flat), frame_conditions(
            self.model, conditions, weights)))
        return Interpolation(frames, strip(frames), animated_gif(frames, frame_milliseconds), mode)

    # -- inpainting and sampling -----------------------------------------------------------------
    def inpaint(self, image, mask, prompt: str | None = "", num_candidates: int = 4, seed: int = 0, label=None,
                **options):
        """See :class:`vaestudio.pipelines.inpainting.Inpainter`; with a class-conditional prior,
        :meth:`vaestudio.pipelines.class_to_image.ClassToImage.inpaint` (``label``: the class to draw there, None:
        the classes in turn; a prompt is ignored, with a warning)."""
        if self.prior is None:
            raise ValueError("inpainting needs a PixelCNN prior: load a text_to_image bundle such as 'shapes' "
                             "or a class_to_image bundle such as 'mnist-vqvae' (a VQ-VAE-2: a two_level bundle such as "
                             "'mnist-vqvae2')")
        if self._class_prior:
            result = self.class_drawer().inpaint(image, mask, label, num_candidates, seed, **options)
            if (prompt or "").strip():
                result.warnings.append("this model draws classes, not prompts: the prompt is ignored (pick a label)")
            return result
        if self.two_level is not None:
            result = self.two_level.inpaint(image, mask, num_candidates, seed, **options)
            if (prompt or "").strip():
                result.warnings.append("this VQ-VAE-2 draws without a prompt: the prompt is ignored")
            return result
        if label is not None:
            raise ValueError("this model inpaints from a prompt and takes no label")
        if self._inpainter is None:
            self._inpainter = Inpainter(self.model, self.prior, self.scorer, self.neutral_prompt, self.bundle_options)
        return self._inpainter(image, mask, prompt, num_candidates, seed, **options)

    @torch.no_grad()
    def sample(self, num_samples: int, seed: int = 0, condition=None) -> list[Image.Image]:
        """Images from the model's prior: z ~ N(0, I) for VAEs, the PixelCNN for VQ (neutral prompt, or the class
        ``condition`` of a class-conditional prior: every class in turn when None)."""
        check_range("num_samples", num_samples, *limits.PRIOR_SAMPLES)
        count = int(num_samples)
        if self._prior_free_point_space:
            raise ValueError("a plain autoencoder has no prior to sample from: its codes follow no known law. "
                             "Sample a VAE or a WAE instead")
        if self._normal_prior:
            if self.space.condition_kind == "class" and condition is None:
                condition = torch.arange(count) % self.model.config.num_classes
            elif self.space.condition_kind == "text":  # a prompt; an empty one is the neutral prompt
                condition = self._check_condition(condition)
            generator = torch.Generator().manual_seed(int(seed))
            flat = torch.randn(count, *self.space.latent_shape(), generator=generator)  # (N, L)
            return self.decode_flat(flat, condition)
        if self.prior is None:
            raise ValueError("this VQ-VAE has no prior to sample from; load a text_to_image bundle "
                             "(a VQ-VAE-2: a two_level bundle such as 'mnist-vqvae2')")
        if self._class_prior:  # condition: a class index or name; None draws the classes in turn
            return [item.image for item in self.class_drawer()(condition, num_images=count, seed=seed)]
        if self.two_level is not None:
            return [item.image for item in self.two_level.sample(count, seed=seed, label=condition)]
        generator = TextToImage(self.model, self.prior, None, self.neutral_prompt)
        return [item.image for item in generator(condition, num_images=count, rerank=count, seed=seed)]

    # -- exploration -----------------------------------------------------------------------------
    @torch.no_grad()
    def manifold_grid(self, size: int = 15, condition=None) -> Image.Image:
        """Decodes of a size x size grid over a 2-D latent: z = inverse normal CDF of a uniform grid."""
        if not self._normal_prior or self.space.latent_shape() != (2,):
            raise ValueError(f"the manifold grid needs a 2-D latent with a N(0, I) prior; this model's latent is "
                             f"{self.space.latent_shape()}")
        check_range("the grid size", size, *limits.MANIFOLD_GRID)
        if self.space.condition_kind == "class" and condition is None:
            condition = 0
        elif self.space.condition_kind == "text":
            condition = self._check_condition(condition)
        count = int(size)
        quantiles = torch.special.ndtri((torch.arange(count, dtype=torch.float64) + 0.5) / count).float()  # (n,)
        rows, columns = torch.meshgrid(quantiles.flip(0), quantiles, indexing="ij")  # z2 decreases downward
        flat = torch.stack([columns.reshape(-1), rows.reshape(-1)], dim=1)  # (n*n, 2)
        return grid(self.decode_flat(flat, condition), columns=count)

    @torch.no_grad()
    def latent_scatter(self, source=None, num_points: int = 500) -> LatentScatter:
        """The latents of ``num_points`` images of ``source`` (default: the training data) in 2-D,
        coloured by label (or by a caption word), with the plane decodable point by point."""
        check_range("num_points", num_points, *limits.SCATTER_POINTS)
        data = open_model_source(self.model, source if source is not None else self.source, "test",
                                 self.space.image_size)
        sample = read_sample(data, int(num_points))
        condition = self._sample_condition(sample)
        try:
            flat = self.space.flatten(self.space.encode(sample.images, condition))  # (N, F)
        except RuntimeError as error:  # another source's images do not fit the model (channels, size)
            if source is None:
                raise
            raise ValueError(f"this model cannot encode the images of {source!r} ({error}). Pick the model's "
                             "training data, or a source like the one it was trained on") from None
        if flat.shape[1] == 2:
            points, basis, titles = flat, None, ("z1", "z2")
        else:
            principal = principal_sliders(flat, 2)
            points = (flat - principal.origin) @ principal.directions.t()  # (N, 2)
            basis, titles = (principal.origin, principal.directions), ("PC1", "PC2")
        return LatentScatter(points.numpy().astype(np.float64), self._point_labels(sample, data), titles[0],
                             titles[1], self, basis)

    @staticmethod
    def _point_labels(sample: DatasetSample, data) -> list[str]:
        texts = sample.label_texts()
        if texts is not None:
            return texts
        if sample.captions is None:
            return [""] * sample.images.shape[0]
        words = LABEL_WORDS.get(getattr(data, "spec", ""))  # a world names what colours its scatter
        labels = []
        for caption in sample.captions:
            tokens = caption.split()
            found = [token for token in tokens if words is None or token in words]
            labels.append(found[0] if found else "")
        return labels

    @torch.no_grad()
    def code_maps(self, image, size: int = 256) -> CodeMapView:
        """An image's code maps (VQ models; both levels of a VQ-VAE-2) as pictures, and its reconstruction."""
        if self.space.kind != "vq":
            raise ValueError("code maps are drawn for VQ models only; this model's latent is continuous")
        return code_map_view(self.model, self.model_input(image), size)

    @torch.no_grad()
    def codebook_usage(self, source=None, num_images: int = 1000) -> CodebookUsage:
        """How often each code is used over ``num_images`` test images (VQ models)."""
        if self.space.kind != "vq":
            raise ValueError("codebook usage is defined for VQ models only")
        data = open_model_source(self.model, source if source is not None else self.source, "test",
                                 self.space.image_size)
        sample = read_sample(data, num_images)
        levels = [metrics.CodeUsage(self.model.config.num_codes) for _ in getattr(self.model, "code_map_shapes", [0])]
        for start in range(0, sample.images.shape[0], 128):
            codes = self.model.encode_codes(sample.images[start : start + 128])  # (b, h, w), or top and bottom
            for usage, level_codes in zip(levels, [codes] if isinstance(codes, torch.Tensor) else [codes.top, codes.bottom]):
                usage.add(level_codes)
        usage, summary = levels[-1], levels[-1].summary()  # the bottom (or only) codebook
        described = sample.description
        if len(levels) == 2:  # a VQ-VAE-2: the bars are the bottom codebook's; the top one in words
            top = levels[0].summary()
            described = (f"the bottom codebook on {described}; the top codebook: perplexity {top['perplexity']:.1f}, "
                         f"{top['dead_codes']} dead codes")
        return CodebookUsage(usage.counts.numpy(), described, summary["perplexity"], summary["dead_codes"])

