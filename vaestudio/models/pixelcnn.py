"""Gated PixelCNN prior over the code maps of a VQ model.

Paper: van den Oord et al., "Conditional Image Generation with PixelCNN Decoders",
https://arxiv.org/abs/1606.05328 (gated activations, vertical and horizontal stacks
without a blind spot, conditioning by per-layer biases).

The network (C channels, L layers, odd kernel size k, p = k // 2, K codes)::

    e = embedding[codes]                                            (B, C, H, W)
    layer 0:   v_pre = masked_conv2d(e, Wv, bv, "vertical_A")        rows strictly above
               h_pre = masked_conv2d(e, Wh, bh, "A")                 (1 x k), left of the centre
    layer l>0: v_pre = masked_conv2d(v, Wv, bv, "vertical_B")        rows above + centre row
               h_pre = masked_conv2d(h, Wh, bh, "B")                 (1 x k), left + centre
    every layer:
               v_pre += cond_v[l];  h_pre += link(v_pre) + cond_h[l]  (link: 1x1, 2C -> 2C)
               v = tanh(v_pre[:C]) * sigmoid(v_pre[C:])
               g = tanh(h_pre[:C]) * sigmoid(h_pre[C:])
               h = out(g) for layer 0 (e holds the current position: no residual)
               h = h + out(g) for layer l > 0
    head:      logits = W2 relu(W1 relu(h) + b1) + b2                 (B, K, H, W)

``condition_bias`` (B, L, 4C) holds, per layer, ``[cond_v (2C) | cond_h (2C)]``, constant
over space: one linear map of a class or text embedding (zeros when unconditional). With
``spatial_condition`` it is (B, L, 4C, H, W): that map plus a per-position one
(:class:`vaestudio.models.condition_map.ConditionMap`: learned position queries attending over the
caption), so the prior knows where on the map the prompt wants what.

Sampler parameter layout (``GatedPixelCNN.sampler_parameters()``, consumed by
``vaestudio.ops.pixelcnn_sample``; 8 L + 5 tensors, all one dtype, full unmasked weights:
the kernels read only the taps their mask keeps)::

    [0]            embedding            (K, C)
    [1 + 8 l + 0]  vertical_weight      (2C, C, k, k)   mask vertical_A (l = 0) / vertical_B
    [1 + 8 l + 1]  vertical_bias        (2C,)
    [1 + 8 l + 2]  horizontal_weight    (2C, C, 1, k)   mask A (l = 0) / B
    [1 + 8 l + 3]  horizontal_bias      (2C,)
    [1 + 8 l + 4]  link_weight          (2C, 2C)        (out, in): h_pre += link_weight @ v_pre
    [1 + 8 l + 5]  link_bias            (2C,)
    [1 + 8 l + 6]  output_weight        (C, C)          (out, in)
    [1 + 8 l + 7]  output_bias          (C,)
    [1 + 8 L + 0]  head_hidden_weight   (Hd, C)
    [1 + 8 L + 1]  head_hidden_bias     (Hd,)
    [1 + 8 L + 2]  head_output_weight   (K, Hd)
    [1 + 8 L + 3]  head_output_bias     (K,)

Sampling rule (the C++/CUDA kernels and the reference loop use exactly this), for one
position with logits z (K,) in the parameters' dtype and a uniform u in [0, 1)::

    1. s = float64(z) * (1.0 / temperature)          multiply by the float64 reciprocal
    2. if 0 < top_k < K: t = the top_k-th largest s; s_i = -inf where s_i < t
       (every entry equal to t is kept, so ties may keep more than top_k codes)
    3. w_i = exp(s_i - max_i s_i)                    float64, 0 for dropped entries
    4. c_i = w_0 + ... + w_i                         sequential float64 sum
    5. code = the first i with c_i > u * c_{K-1}; if there is none (rounding when u is
       close to 1), the last i with w_i > 0.

Positions are visited in raster order; where ``resample_mask`` is false the code is
``fixed_codes`` unchanged (and no head is evaluated there). ``uniforms[b, i, j]`` is the u
of position (i, j) of sample b, so a seeded uniform map fixes the result on every device.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vaestudio import ops
from vaestudio.common.batch import Batch, RegionalCondition
from vaestudio.models.base import StudioModel, TrainingOutput, register_model
from vaestudio.models.condition_map import ConditionMap
from vaestudio.models.conditioning import CONDITIONS, condition_from_data
from vaestudio.models.regions import combine_biases
from vaestudio.models.text import TextEncoder, TextEncoderConfig
from vaestudio.ops.reference import guided_logits_function, naive_autoregressive_sample


def gate(pre_activation: torch.Tensor) -> torch.Tensor:
    """Gated activation tanh(a) * sigmoid(b) of the two channel halves [a | b]."""
    value, gate_logits = pre_activation.chunk(2, dim=1)
    return torch.tanh(value) * torch.sigmoid(gate_logits)


def _masked_conv_weight(out_channels: int, in_channels: int, height: int, width: int) -> nn.Parameter:
    weight = torch.empty(out_channels, in_channels, height, width)
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))  # the nn.Conv2d default
    return nn.Parameter(weight)


def _bias(size: int, fan_in: int) -> nn.Parameter:
    bound = 1.0 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(size).uniform_(-bound, bound))


class GatedLayer(nn.Module):
    """One gated layer: a vertical and a horizontal masked convolution, the link, the output 1x1."""

    def __init__(self, channels: int, kernel_size: int, first: bool) -> None:
        super().__init__()
        double = 2 * channels
        self.first = first
        self.vertical_mask = "vertical_A" if first else "vertical_B"
        self.horizontal_mask = "A" if first else "B"
        self.vertical_weight = _masked_conv_weight(double, channels, kernel_size, kernel_size)
        self.vertical_bias = _bias(double, channels * kernel_size * kernel_size)
        self.horizontal_weight = _masked_conv_weight(double, channels, 1, kernel_size)
        self.horizontal_bias = _bias(double, channels * kernel_size)
        self.link_weight = nn.Parameter(torch.empty(double, double))
        nn.init.kaiming_uniform_(self.link_weight, a=math.sqrt(5))
        self.link_bias = _bias(double, double)
        self.output_weight = nn.Parameter(torch.empty(channels, channels))
        nn.init.kaiming_uniform_(self.output_weight, a=math.sqrt(5))
        self.output_bias = _bias(channels, channels)

    def parameter_list(self) -> list[torch.Tensor]:
        """This layer's 8 tensors in sampler order."""
        return [
            self.vertical_weight, self.vertical_bias, self.horizontal_weight, self.horizontal_bias,
            self.link_weight, self.link_bias, self.output_weight, self.output_bias,
        ]

    def forward(
        self, vertical: torch.Tensor, horizontal: torch.Tensor, condition_bias: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # vertical, horizontal: (B, C, H, W); condition_bias: (B, 4C) or (B, 4C, H, W) or None
        vertical_pre = ops.masked_conv2d(vertical, self.vertical_weight, self.vertical_bias, self.vertical_mask)
        horizontal_pre = ops.masked_conv2d(
            horizontal, self.horizontal_weight, self.horizontal_bias, self.horizontal_mask
        )  # (B, 2C, H, W)
        if condition_bias is not None:
            if condition_bias.dim() == 2:
                condition_bias = condition_bias[:, :, None, None]  # (B, 4C, 1, 1)
            vertical_condition, horizontal_condition = condition_bias.chunk(2, dim=1)  # (B, 2C, H|1, W|1) each
            vertical_pre = vertical_pre + vertical_condition
            horizontal_pre = horizontal_pre + horizontal_condition
        link = F.conv2d(vertical_pre, self.link_weight[:, :, None, None], self.link_bias)  # (B, 2C, H, W)
        horizontal_pre = horizontal_pre + link
        update = F.conv2d(gate(horizontal_pre), self.output_weight[:, :, None, None], self.output_bias)  # (B,C,H,W)
        new_horizontal = update if self.first else horizontal + update
        return gate(vertical_pre), new_horizontal


class GatedPixelCNN(nn.Module):
    """Gated PixelCNN over a (B, H, W) int64 code map with K codes; logits (B, K, H, W)."""

    def __init__(self, num_codes: int, channels: int, num_layers: int, kernel_size: int, head_channels: int) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        if min(num_codes, channels, num_layers, head_channels) < 1:
            raise ValueError("num_codes, channels, num_layers and head_channels must all be positive")
        self.num_codes = num_codes
        self.channels = channels
        self.num_layers = num_layers
        self.kernel_size = kernel_size
        self.embedding = nn.Embedding(num_codes, channels)
        self.layers = nn.ModuleList(GatedLayer(channels, kernel_size, first=index == 0) for index in range(num_layers))
        self.head_hidden = nn.Linear(channels, head_channels)
        self.head_output = nn.Linear(head_channels, num_codes)

    @property
    def condition_size(self) -> int:
        """Width of the per-layer condition bias: [cond_v (2C) | cond_h (2C)]."""
        return 4 * self.channels

    def sampler_parameters(self) -> list[torch.Tensor]:
        """The 8 L + 5 tensors in the documented order (module docstring) for ``ops.pixelcnn_sample``."""
        parameters = [self.embedding.weight]
        for layer in self.layers:
            parameters += layer.parameter_list()
        parameters += [self.head_hidden.weight, self.head_hidden.bias, self.head_output.weight, self.head_output.bias]
        return parameters

    def forward_embedded(self, embedded: torch.Tensor, condition_bias: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, K, H, W) from an embedded map (B, C, H, W); condition_bias (B, L, 4C[, H, W]) or None."""
        vertical = horizontal = embedded
        # unbind, not condition_bias[:, index]: one backward for all layers instead of L zero-filled copies
        layer_conditions = condition_bias.unbind(1) if condition_bias is not None else [None] * self.num_layers
        for layer, layer_condition in zip(self.layers, layer_conditions):  # (B, 4C[, H, W]) or None
            vertical, horizontal = layer(vertical, horizontal, layer_condition)
        hidden = torch.relu(horizontal).permute(0, 2, 3, 1)  # (B, H, W, C)
        logits = self.head_output(torch.relu(self.head_hidden(hidden)))  # (B, H, W, K)
        return logits.permute(0, 3, 1, 2)  # (B, K, H, W)

    def forward(self, codes: torch.Tensor, condition_bias: torch.Tensor | None = None) -> torch.Tensor:
        embedded = self.embedding(codes).permute(0, 3, 1, 2)  # (B, C, H, W)
        return self.forward_embedded(embedded, condition_bias)


@dataclasses.dataclass
class PixelCNNPriorConfig:
    """A gated PixelCNN prior over K codes, optionally conditioned on a class or a caption."""

    num_codes: int = 512
    channels: int = 128
    num_layers: int = 12
    kernel_size: int = 3  # odd
    head_channels: int = 256
    condition: str = "none"  # "none", "class" or "text"
    num_classes: int = 0  # condition == "class"
    condition_dim: int = 64  # size of the class embedding
    text_encoder: TextEncoderConfig = dataclasses.field(default_factory=TextEncoderConfig)  # condition "text"
    spatial_condition: bool = False  # add a per-position condition bias (ConditionMap); needs code_map_size
    code_map_size: list[int] = dataclasses.field(default_factory=list)  # (h, w) of the code maps modelled
    spatial_options: dict = dataclasses.field(default_factory=dict)  # hidden_channels, rank, num_heads

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {self.condition!r}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {self.kernel_size}")
        if self.condition == "class" and self.num_classes < 1:
            raise ValueError("condition='class' needs num_classes >= 1")
        self.text_encoder = TextEncoderConfig.of(self.text_encoder)
        if self.condition == "text" and not self.text_encoder.vocabulary:
            raise ValueError("condition='text' needs text_encoder.vocabulary (see vaestudio.models.text.build_vocabulary)")
        if self.spatial_condition:
            if self.condition == "none":
                raise ValueError("spatial_condition needs a condition ('class' or 'text')")
            if len(self.code_map_size) != 2 or min(self.code_map_size) < 1:
                raise ValueError(f"spatial_condition needs code_map_size = [h, w], got {self.code_map_size!r}")


# a class label or count, labels, captions, one RegionalCondition for all maps, or one caption or one-map
# RegionalCondition per map (training with regions: see vaestudio.training.regional_captions)
Condition = int | torch.Tensor | Sequence[int] | Sequence[str | RegionalCondition] | RegionalCondition | None


@register_model
class PixelCNNPrior(StudioModel):
    """Prior p(codes | condition) over VQ code maps, with cached sampling and inpainting."""

    model_type = "pixelcnn_prior"
    config_class = PixelCNNPriorConfig

    def __init__(self, config: PixelCNNPriorConfig) -> None:
        super().__init__(config)
        self.network = GatedPixelCNN(
            config.num_codes, config.channels, config.num_layers, config.kernel_size, config.head_channels
        )
        condition_width = config.num_layers * self.network.condition_size
        if config.condition == "class":
            self.class_embedding = nn.Embedding(config.num_classes, config.condition_dim)
            self.condition_projection = nn.Linear(config.condition_dim, condition_width)
        elif config.condition == "text":
            self.text_encoder = TextEncoder(config.text_encoder)
            self.condition_projection = nn.Linear(config.text_encoder.embedding_dim, condition_width)
        if config.spatial_condition:
            vector_size = config.text_encoder.embedding_dim if config.condition == "text" else config.condition_dim
            self.condition_map = ConditionMap(
                vector_size, config.num_layers, self.network.condition_size, *config.code_map_size,
                **config.spatial_options,
            )

    # -- conditioning --------------------------------------------------------------------------
    def _device_dtype(self) -> tuple[torch.device, torch.dtype]:
        weight = self.network.embedding.weight
        return weight.device, weight.dtype

    def condition_bias(self, condition: Condition, batch_size: int) -> torch.Tensor:
        """Per-layer biases (B, L, 4C) for labels (B,), captions (B strings), or None (zeros).

        With ``spatial_condition``: (B, L, 4C, h, w), one per code-map position too. A regional condition,
        or a list of B items mixing captions and one-map regional conditions, gives (B, L, 4C, h, w).
        """
        device, dtype = self._device_dtype()
        layers, width = self.config.num_layers, self.network.condition_size
        if self.config.condition == "none":
            if condition is not None:
                raise ValueError("this prior is unconditional; pass no condition")
            return torch.zeros(batch_size, layers, width, device=device, dtype=dtype)
        if condition is None:
            raise ValueError(f"this prior is conditioned on a {self.config.condition}; pass one per sample")
        if isinstance(condition, RegionalCondition):
            return self._regional_bias(condition, batch_size)
        if isinstance(condition, (list, tuple)) and any(isinstance(item, RegionalCondition) for item in condition):
            return self._per_sample_bias(condition, batch_size)
        if self.config.condition == "class":
            labels = torch.as_tensor(condition, dtype=torch.int64, device=device).reshape(-1)  # (B,)
            if labels.numel() and (labels.min() < 0 or labels.max() >= self.config.num_classes):
                raise ValueError(f"labels must lie in [0, {self.config.num_classes})")
            vector, tokens = self.class_embedding(labels), None  # (B, condition_dim)
        else:
            if isinstance(condition, str) or not all(isinstance(caption, str) for caption in condition):
                raise TypeError("a text-conditioned prior needs a list of caption strings")
            tokens = self.text_encoder.token_features(list(condition))  # (B, T, E) and mask (B, T)
            vector = self.text_encoder.pool(tokens)  # (B, text_encoder.embedding_dim)
        if vector.shape[0] != batch_size:
            raise ValueError(f"got {vector.shape[0]} conditions for {batch_size} code maps")
        bias = self.condition_projection(vector).view(batch_size, layers, width)  # (B, L, 4C)
        if not self.config.spatial_condition:
            return bias
        return bias[..., None, None] + self.condition_map(vector, tokens)  # (B, L, 4C, h, w)

    def _check_regional(self, condition: RegionalCondition, batch_size: int) -> None:
        if self.config.condition != "text":
            raise ValueError("a regional condition holds captions; this prior is conditioned on a class")
        if len(condition) != batch_size:
            raise ValueError(f"got {len(condition)} conditions for {batch_size} code maps")
        if self.config.spatial_condition and tuple(condition.weights.shape[-2:]) != tuple(self.config.code_map_size):
            raise ValueError(f"regional weights of size {tuple(condition.weights.shape[-2:])} for a prior of "
                             f"{tuple(self.config.code_map_size)} code maps")

    def _regional_bias(self, condition: RegionalCondition, batch_size: int) -> torch.Tensor:
        """Each caption's bias over its region (see :mod:`vaestudio.models.regions`): (B, L, 4C, h, w)."""
        self._check_regional(condition, batch_size)
        biases = [self.condition_bias([caption] * batch_size, batch_size) for caption in condition.captions]
        return combine_biases(biases, condition.weights)

    def _per_sample_bias(self, conditions: Sequence[str | RegionalCondition], batch_size: int) -> torch.Tensor:
        """One condition per map, captions and one-map regional conditions mixed: (B, L, 4C, h, w). Every text
        of the batch (the plain captions, then each regional condition's captions) goes through the text
        encoder in one pass, and one weighted sum mixes the N texts' biases into the B maps' (per-text
        slices would each cost a full-size gradient buffer in the backward pass)."""
        if len(conditions) != batch_size:
            raise ValueError(f"got {len(conditions)} conditions for {batch_size} code maps")
        plain = [index for index, item in enumerate(conditions) if isinstance(item, str)]
        regional = [index for index, item in enumerate(conditions) if isinstance(item, RegionalCondition)]
        if len(plain) + len(regional) != batch_size:
            raise TypeError("per-map conditions are caption strings or RegionalConditions")
        for index in regional:
            self._check_regional(conditions[index], 1)
        texts = [conditions[index] for index in plain]
        texts += [text for index in regional for text in conditions[index].captions]
        biases = self.condition_bias(texts, len(texts))  # (N, L, 4C) or (N, L, 4C, h, w)
        height, width = conditions[regional[0]].weights.shape[-2:]
        if biases.dim() == 3:
            biases = biases[..., None, None].expand(-1, -1, -1, height, width)  # the same at every position
        mixing = biases.new_zeros(batch_size, len(texts), height, width)  # (B, N, h, w): each map's share of each text
        for row, index in enumerate(plain):
            mixing[index, row] = 1.0
        row = len(plain)
        for index in regional:
            weights = conditions[index].weights  # (R, h, w)
            mixing[index, row : row + len(weights)] = weights.to(mixing)
            row += len(weights)
        return torch.einsum("bnhw,nlchw->blchw", mixing, biases)  # (B, L, 4C, h, w)

    def _bias_for_rows(self, bias: torch.Tensor, rows: int, width: int) -> torch.Tensor:
        """A spatial bias cut to the first ``rows`` rows (streaming); checks the map size it was made for."""
        if bias.dim() == 3:
            return bias
        if bias.shape[-2] < rows or bias.shape[-1] != width:
            raise ValueError(f"this prior's position-dependent condition is for {tuple(bias.shape[-2:])} code maps; "
                             f"got a request for {rows} x {width}")
        return bias[..., :rows, :]  # (B, L, 4C, rows, w): a view; the kernels lay it out per row themselves

    # -- likelihood ----------------------------------------------------------------------------
    def logits(self, codes: torch.Tensor, condition: Condition = None) -> torch.Tensor:
        """Logits (B, K, H, W) of every position given the codes before it in raster order."""
        return self.network(codes, self.condition_bias(condition, codes.shape[0]))

    def log_prob(self, codes: torch.Tensor, condition: Condition = None) -> torch.Tensor:
        """log p(codes | condition) in nats, summed over the map: (B,)."""
        log_probabilities = F.log_softmax(self.logits(codes, condition), dim=1)  # (B, K, H, W)
        return log_probabilities.gather(1, codes[:, None]).sum(dim=(1, 2, 3))

    def training_loss(self, batch: Batch) -> TrainingOutput:
        if batch.codes is None:
            raise ValueError("PixelCNNPrior trains on batch.codes (B, h, w): encode the images with a VQ model first")
        codes = batch.codes  # (B, h, w)
        loss = F.cross_entropy(self.logits(codes, condition_from_data(self.config.condition, batch.labels, batch.captions,
                                                                  "this prior")), codes)  # mean nats per code
        nats = float(loss.detach())
        return TrainingOutput(loss=loss, logs={"loss": nats, "nll_nats_per_code": nats,
                                               "bits_per_code": nats / math.log(2.0)})

    # -- sampling ------------------------------------------------------------------------------
    def _sampling_inputs(
        self, condition: Condition, height: int, width: int, seed: int,
        fixed_codes: torch.Tensor | None, resample_mask: torch.Tensor | None,
        negative_condition: Condition = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """condition_bias (B, L, 4C[, H, W]), or 2B rows with a negative condition (guidance), uniforms
        float64 (B, H, W), fixed_codes int64, resample_mask bool."""
        device, _ = self._device_dtype()
        if isinstance(condition, int) and not isinstance(condition, bool):
            if self.config.condition != "none":
                raise ValueError(f"this prior is conditioned on a {self.config.condition}; pass one per sample")
            batch_size, condition = condition, None
        elif condition is None:
            batch_size = fixed_codes.shape[0] if fixed_codes is not None else 1
        else:
            batch_size = len(condition)
        with torch.no_grad():
            bias = self.condition_bias(condition, batch_size)  # (B, L, 4C[, h, w])
            if negative_condition is not None:
                if self.config.condition == "none":
                    raise ValueError("an unconditional prior has no negative condition to guide away from")
                bias = torch.cat([bias, self.condition_bias(negative_condition, batch_size)])  # (2B, L, 4C[, h, w])
            bias = self._bias_for_rows(bias, height, width)
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        uniforms = torch.rand(batch_size, height, width, generator=generator, dtype=torch.float64)  # (B, H, W)
        if fixed_codes is None:
            fixed_codes = torch.zeros(batch_size, height, width, dtype=torch.int64)
        if resample_mask is None:
            resample_mask = torch.ones(batch_size, height, width, dtype=torch.bool)
        return bias, uniforms.to(device), fixed_codes.to(device), resample_mask.to(device)

    @torch.no_grad()
    def sample(
        self, condition: Condition = 1, height: int = 8, width: int = 8, temperature: float = 1.0,
        top_k: int = 0, seed: int = 0, fixed_codes: torch.Tensor | None = None,
        resample_mask: torch.Tensor | None = None, negative_condition: Condition = None,
        guidance_scale: float = 1.0,
    ) -> torch.Tensor:
        """Code maps (B, H, W) int64, in one cached ``ops.pixelcnn_sample`` call.

        condition: a number of samples (unconditional), labels (B,), B captions, or a RegionalCondition
        (a caption per region of the map, for B maps).
        fixed_codes / resample_mask (B, H, W): inpainting; positions where the mask is false
        keep their fixed code. The same seed gives the same codes on every device.
        negative_condition (B labels or captions) with guidance_scale: classifier-free guidance,
        every draw from ``negative + guidance_scale * (conditioned - negative)`` logits.
        """
        bias, uniforms, fixed_codes, resample_mask = self._sampling_inputs(
            condition, height, width, seed, fixed_codes, resample_mask, negative_condition
        )
        return ops.pixelcnn_sample(
            self.network.sampler_parameters(), bias, uniforms, fixed_codes, resample_mask,
            self.config.kernel_size, temperature, top_k, guidance_scale,
        )

    @torch.no_grad()
    def sample_rows(
        self, condition: Condition = 1, height: int = 8, width: int = 8, temperature: float = 1.0,
        top_k: int = 0, seed: int = 0, fixed_codes: torch.Tensor | None = None,
        resample_mask: torch.Tensor | None = None, rows_per_step: int = 1,
        negative_condition: Condition = None, guidance_scale: float = 1.0,
    ) -> Iterator[torch.Tensor]:
        """Streams ``sample``: yields the (B, H, W) map after each completed block of ``rows_per_step`` rows.

        A block is sampled by one op call on rows 0..end with only the block left to resample (the
        rows above are fixed by then and rows below cannot influence them), so the final map equals
        ``sample`` with the same arguments. Costs about (steps + 1) / 2 one-shot passes.
        """
        if rows_per_step < 1:
            raise ValueError(f"rows_per_step must be at least 1, got {rows_per_step}")
        bias, uniforms, codes, resample_mask = self._sampling_inputs(
            condition, height, width, seed, fixed_codes, resample_mask, negative_condition
        )
        codes = codes.clone()
        parameters = self.network.sampler_parameters()
        for start in range(0, height, rows_per_step):
            end = min(height, start + rows_per_step)
            block_mask = torch.zeros_like(resample_mask[:, :end])  # (B, end, W)
            block_mask[:, start:end] = resample_mask[:, start:end]
            codes[:, :end] = ops.pixelcnn_sample(
                parameters, self._bias_for_rows(bias, end, width), uniforms[:, :end].contiguous(),
                codes[:, :end].contiguous(),
                block_mask, self.config.kernel_size, temperature, top_k, guidance_scale,
            )
            yield codes.clone()

    @torch.no_grad()
    def naive_sample(
        self, condition: Condition = 1, height: int = 8, width: int = 8, temperature: float = 1.0,
        top_k: int = 0, seed: int = 0, fixed_codes: torch.Tensor | None = None,
        resample_mask: torch.Tensor | None = None, negative_condition: Condition = None,
        guidance_scale: float = 1.0,
    ) -> torch.Tensor:
        """The baseline: a full forward of the network per sampled position (same rule, same result)."""
        bias, uniforms, fixed_codes, resample_mask = self._sampling_inputs(
            condition, height, width, seed, fixed_codes, resample_mask, negative_condition
        )
        logits_function = guided_logits_function(self.network, bias, uniforms.shape[0], guidance_scale)
        return naive_autoregressive_sample(
            logits_function, uniforms, fixed_codes, resample_mask, temperature, top_k
        )
