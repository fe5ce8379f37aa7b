// The gated PixelCNN's sampler parameter layout, shared by the CPU and CUDA samplers (host code,
// ATen only). Order: embedding, then kTensorsPerLayer tensors per layer, then kHeadTensors
// (see vaestudio/models/pixelcnn.py, GatedPixelCNN.sampler_parameters).
#pragma once

#include <ATen/ATen.h>

#include <c10/util/Exception.h>

#include <cstdint>

namespace vaestudio {
namespace pixelcnn_layout {

constexpr int64_t kTensorsPerLayer = 8;
constexpr int64_t kHeadTensors = 4;

// Kept taps of a (out, in, kh, kw) weight, rows [0, rows) x columns [0, columns), as the right-hand
// side of a GEMM: (rows * columns * in, out), ordered tap-major (row, column) then input channel.
inline at::Tensor pack_taps(const at::Tensor& weight, int64_t rows, int64_t columns) {
  const int64_t out_channels = weight.size(0), in_channels = weight.size(1);
  return weight.narrow(2, 0, rows)
      .narrow(3, 0, columns)
      .permute({2, 3, 1, 0})
      .reshape({rows * columns * in_channels, out_channels})
      .contiguous();
}

// condition_bias is (B, L, 4C), one bias per sample and layer, or (B, L, 4C, H, W), one per position too.
inline void check_condition_bias(const at::Tensor& condition_bias, const at::Tensor& uniforms, int64_t num_layers,
                                 int64_t channels) {
  // B samples, or 2B: B conditions then B negative conditions (classifier-free guidance)
  const bool leading = (condition_bias.dim() == 3 || condition_bias.dim() == 5) &&
                       (condition_bias.size(0) == uniforms.size(0) || condition_bias.size(0) == 2 * uniforms.size(0)) &&
                       condition_bias.size(1) == num_layers &&
                       condition_bias.size(2) == 4 * channels;
  const bool spatial_ok = condition_bias.dim() == 3 ||
                          (condition_bias.dim() == 5 && condition_bias.size(3) == uniforms.size(1) &&
                           condition_bias.size(4) == uniforms.size(2));
  TORCH_CHECK(leading && spatial_ok, "pixelcnn_sample: condition_bias must be (B or 2B, L, 4C) = (", uniforms.size(0), ", ",
              num_layers, ", ", 4 * channels, ") or (B, L, 4C, H, W) with (H, W) the uniforms' (", uniforms.size(1),
              ", ", uniforms.size(2), "), got ", condition_bias.sizes());
}

}  // namespace pixelcnn_layout
}  // namespace vaestudio
