"""An autoregressive PixelCNN decoder p(x | z) = prod_i p(x_i | x_<i, z) for a VAE on binary images.

- PixelVAE: Gulrajani et al., "PixelVAE: A Latent Variable Model for Natural Images",
  https://arxiv.org/abs/1611.05013 (a VAE whose decoder is a PixelCNN conditioned on z).
- Variational Lossy Autoencoder: Chen et al., https://arxiv.org/abs/1611.02731 (why such a decoder can
  ignore z: whatever it models alone, the latent code need not carry - posterior collapse).
- The network: van den Oord et al., "Conditional Image Generation with PixelCNN Decoders",
  https://arxiv.org/abs/1606.05328 (gated layers, conditioning by per-layer biases); here it is
  :class:`vaestudio.models.pixelcnn.GatedPixelCNN` over the two pixel values {0, 1} of a binary image.

How z reaches the pixels::

    bias = W z + b                                  (N, L, 4C): per layer [cond_v | cond_h], same at every pixel
    e    = e_0 + x * (e_1 - e_0)                    (N, C, H, W): the embedding of each pixel value (x in {0, 1})
    two  = GatedPixelCNN(e, bias)                   (N, 2, H, W): logits of the values 0 and 1
    logit of p(x_i = 1 | x_<i, z) = two[:, 1] - two[:, 0]

Teacher forcing gives every pixel's logit in one pass (training, the bounds); drawing an image needs one
pass per pixel, done by the cached sampler ``ops.pixelcnn_sample`` (the same network, the same rule).
"""

from __future__ import annotations

import torch
from torch import nn

from vaestudio import ops
from vaestudio.models.pixelcnn import GatedPixelCNN

PIXEL_VALUES = 2  # a binary image: each pixel is 0 or 1


class PixelDecoder(nn.Module):
    """Bernoulli logits (N, 1, H, W) of binary images given latents (N, F) and the images themselves."""

    def __init__(self, latent_features: int, image_size: int, channels: int, num_layers: int, kernel_size: int,
                 head_channels: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.kernel_size = kernel_size
        self.network = GatedPixelCNN(PIXEL_VALUES, channels, num_layers, kernel_size, head_channels)
        self.latent_projection = nn.Linear(latent_features, num_layers * self.network.condition_size)

    def condition_bias(self, latents: torch.Tensor) -> torch.Tensor:
        """latents (N, F) -> per-layer biases (N, L, 4C)."""
        bias = self.latent_projection(latents)  # (N, L * 4C)
        return bias.view(latents.shape[0], self.network.num_layers, self.network.condition_size)

    def logits(self, latents: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """latents (N, F), images (N, 1, H, W) in [0, 1] -> logits of p(x_i = 1 | x_<i, z): (N, 1, H, W).

        Each logit sees only the pixels before it in raster order (the masks of the network), so summing
        the Bernoulli log-probabilities over pixels gives log p(x | z) exactly. A grey pixel embeds between
        the two values' embeddings (binary images are what the decoder is trained on).
        """
        table = self.network.embedding.weight  # (2, C)
        embedded = table[0, :, None, None] + images * (table[1] - table[0])[:, None, None]  # (N, C, H, W)
        two = self.network.forward_embedded(embedded, self.condition_bias(latents))  # (N, 2, H, W)
        return two[:, 1:] - two[:, :1]  # (N, 1, H, W)

    @torch.no_grad()
    def sample(self, latents: torch.Tensor, seed: int = 0, temperature: float = 1.0) -> torch.Tensor:
        """Binary images (N, 1, H, W) drawn pixel by pixel from p(x | z) by the cached sampler; a seed fixes them."""
        count, side = latents.shape[0], self.image_size
        parameters = self.network.sampler_parameters()
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        uniforms = torch.rand(count, side, side, generator=generator, dtype=torch.float64)  # (N, H, W)
        fixed = torch.zeros(count, side, side, dtype=torch.int64)  # (N, H, W): every pixel is drawn
        everywhere = torch.ones(count, side, side, dtype=torch.bool)  # (N, H, W)
        device, dtype = parameters[0].device, parameters[0].dtype
        codes = ops.pixelcnn_sample(
            parameters, self.condition_bias(latents).to(dtype).contiguous(), uniforms.to(device), fixed.to(device),
            everywhere.to(device), self.kernel_size, temperature, 0,
        )  # (N, H, W) int64 in {0, 1}
        return codes[:, None].to(latents.dtype)  # (N, 1, H, W)
