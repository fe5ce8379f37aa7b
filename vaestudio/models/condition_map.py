"""Where on the code map a condition wants what: a per-position condition bias for the PixelCNN.

The gated PixelCNN paper (van den Oord et al., https://arxiv.org/abs/1606.05328, section 2.3) allows
a location-dependent conditioning term ``V * s`` with ``s = m(h)`` a spatial map computed from the
condition ``h``. A bias that is the same at every position cannot say "a red circle in the top left"
without the network first working out where it is (a PixelCNN only knows that through the zero padding
at the border). Here ``m`` is:

    query[p]   = learned embedding of code-map position p                                 (h w, R)
    attended   = multi-head attention of query[p] over the caption's token features       (B, h w, R)
    hidden     = relu(query[p] + global(vector) + attended)                               (B, h w, R)
    bias       = expand(squeeze(hidden))                                                  (B, L, 4C, h, w)

``vector`` is the pooled condition (the text encoder's mean, or a class embedding); tokens are
optional (class conditions have none). ``squeeze`` (R -> rank) and ``expand`` (rank -> L 4C) are
linear, a low-rank map to every layer's ``[cond_v | cond_h]``; ``expand`` starts at zero so a new
model starts from the position-independent conditioning it adds to.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vaestudio.models.outputs import TokenFeatures


class ConditionMap(nn.Module):
    """(B, E) condition vectors and optional token features -> per-position biases (B, L, 4C, h, w)."""

    def __init__(
        self, condition_dim: int, num_layers: int, layer_width: int, height: int, width: int,
        hidden_channels: int = 128, rank: int = 64, num_heads: int = 4,
    ) -> None:
        super().__init__()
        if hidden_channels % num_heads:
            raise ValueError(f"hidden_channels {hidden_channels} must be divisible by num_heads {num_heads}")
        self.num_layers, self.layer_width, self.height, self.width = num_layers, layer_width, height, width
        self.num_heads = num_heads
        self.position = nn.Parameter(torch.randn(height * width, hidden_channels) * 0.02)  # (h w, R)
        self.global_projection = nn.Linear(condition_dim, hidden_channels)
        self.key_value = nn.Linear(condition_dim, 2 * hidden_channels)
        self.query = nn.Linear(hidden_channels, hidden_channels)
        self.squeeze = nn.Linear(hidden_channels, rank)
        self.expand = nn.Linear(rank, num_layers * layer_width)
        nn.init.zeros_(self.expand.weight)
        nn.init.zeros_(self.expand.bias)

    def _attend(self, tokens: TokenFeatures) -> torch.Tensor:
        """Each position's query attends over the prompt's tokens: (B, h w, R)."""
        batch, length = tokens.mask.shape
        heads, channels = self.num_heads, self.position.shape[1]
        keys, values = self.key_value(tokens.features).chunk(2, dim=-1)  # (B, T, R) each
        keys = keys.view(batch, length, heads, -1).transpose(1, 2)  # (B, heads, T, R / heads)
        values = values.view(batch, length, heads, -1).transpose(1, 2)  # (B, heads, T, R / heads)
        queries = self.query(self.position).view(1, -1, heads, channels // heads).transpose(1, 2)  # (1, heads, hw, R/h)
        attended = F.scaled_dot_product_attention(
            queries.expand(batch, -1, -1, -1), keys, values, attn_mask=tokens.mask[:, None, None, :]
        )  # (B, heads, h w, R / heads)
        return attended.transpose(1, 2).reshape(batch, -1, channels)  # (B, h w, R)

    def forward(self, vector: torch.Tensor, tokens: TokenFeatures | None = None) -> torch.Tensor:
        hidden = self.position[None] + self.global_projection(vector)[:, None, :]  # (B, h w, R)
        if tokens is not None:
            hidden = hidden + self._attend(tokens)
        bias = self.expand(self.squeeze(torch.relu(hidden)))  # (B, h w, L 4C)
        batch = vector.shape[0]
        bias = bias.view(batch, self.height, self.width, self.num_layers, self.layer_width)  # (B, h, w, L, 4C)
        return bias.permute(0, 3, 4, 1, 2)  # (B, L, 4C, h, w)
