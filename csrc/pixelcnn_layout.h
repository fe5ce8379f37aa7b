// The gated PixelCNN's sampler parameter layout, shared by the CPU and CUDA samplers (host code,
// ATen only). Order: embedding, then kTensorsPerLayer tensors per layer, then kHeadTensors
// (see vaestudio/models/pixelcnn.py, GatedPixelCNN.sampler_parameters).
#pragma once

#include <ATen/ATen.h>

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

}  // namespace pixelcnn_layout
}  // namespace vaestudio
