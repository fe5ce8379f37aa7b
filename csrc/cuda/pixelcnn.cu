// Cached PixelCNN sampling on CUDA: the torch-facing wrapper and host loop of pixelcnn.cuh.
//
// One op call queues, on the current stream and without reading anything back,
// per row: L x (im2col kernel, two cuBLAS GEMMs, gate kernel) for the vertical
// stacks of the whole row, and per position: one sample_position_kernel launch
// (horizontal stacks of all layers, head, sampling rule, embedding), plus one
// choose_guided_kernel launch when a 2B-row condition_bias asks for classifier-free guidance.
// The one synchronisation is the range check of fixed_codes, once per call, before the loop.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/core/InferenceMode.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <cmath>
#include <vector>

#include "pixelcnn.cuh"
#include "torch_types.h"
#include "../pixelcnn_layout.h"

namespace vaestudio {
namespace cuda {
namespace {

using pixelcnn_layout::kHeadTensors;
using pixelcnn_layout::kTensorsPerLayer;
using pixelcnn_layout::check_condition_bias;
using pixelcnn_layout::pack_taps;

// Offsets (B, 2C, H|1, W|1) laid out row-major for the row loop: (H|1, B, W, 2C), so that one row's
// offsets are one contiguous (B * W, 2C) block.
at::Tensor offsets_by_row(const at::Tensor& offsets, int64_t width) {
  const auto by_row = offsets.permute({2, 0, 3, 1});  // (H|1, B, W|1, 2C)
  return by_row.expand({by_row.size(0), by_row.size(1), width, by_row.size(3)}).contiguous();
}

// The (B * W, 2C) offsets of `row` from offsets_by_row's layout.
at::Tensor offsets_at_row(const at::Tensor& offsets, int64_t row) {
  const auto block = offsets.select(0, offsets.size(0) == 1 ? 0 : row);  // (B, W, 2C)
  return block.view({block.size(0) * block.size(1), block.size(2)});
}

void check_arguments(at::TensorList parameters, const at::Tensor& condition_bias, const at::Tensor& uniforms,
                     const at::Tensor& fixed_codes, const at::Tensor& resample_mask, int64_t kernel_size,
                     double temperature, int64_t top_k, double guidance_scale) {
  const int64_t count = static_cast<int64_t>(parameters.size());
  TORCH_CHECK(count >= 1 + kTensorsPerLayer + kHeadTensors && (count - 1 - kHeadTensors) % kTensorsPerLayer == 0,
              "pixelcnn_sample: parameters must hold 8 L + 5 tensors, got ", count);
  TORCH_CHECK(kernel_size >= 1 && kernel_size % 2 == 1, "pixelcnn_sample: kernel_size must be odd, got ", kernel_size);
  TORCH_CHECK(temperature > 0.0 && std::isfinite(temperature), "pixelcnn_sample: temperature must be positive, got ",
              temperature);
  TORCH_CHECK(top_k >= 0, "pixelcnn_sample: top_k must be >= 0, got ", top_k);
  TORCH_CHECK(std::isfinite(guidance_scale), "pixelcnn_sample: guidance_scale must be finite, got ", guidance_scale);
  TORCH_CHECK(uniforms.dim() == 3, "pixelcnn_sample: uniforms must be (B, H, W), got ", uniforms.sizes());
  TORCH_CHECK(fixed_codes.sizes() == uniforms.sizes() && resample_mask.sizes() == uniforms.sizes(),
              "pixelcnn_sample: fixed_codes and resample_mask must have the uniforms' shape ", uniforms.sizes());
  TORCH_CHECK(fixed_codes.scalar_type() == at::kLong, "pixelcnn_sample: fixed_codes must be int64, got ",
              fixed_codes.scalar_type());
  TORCH_CHECK(resample_mask.scalar_type() == at::kBool, "pixelcnn_sample: resample_mask must be bool, got ",
              resample_mask.scalar_type());
  const at::Tensor& embedding = parameters[0];
  TORCH_CHECK(embedding.dim() == 2, "pixelcnn_sample: parameters[0] (embedding) must be (K, C), got ",
              embedding.sizes());
  const auto dtype = embedding.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble, "pixelcnn_sample: parameters must be float32 or float64, got ",
              dtype);
  for (int64_t index = 0; index < count; ++index) {
    TORCH_CHECK(parameters[index].scalar_type() == dtype, "pixelcnn_sample: parameters[", index, "] is ",
                parameters[index].scalar_type(), "; all parameters must share one dtype (", dtype, ")");
    check_cuda(parameters[index], "parameters");
    check_same_device(parameters[index], uniforms, "parameters", "uniforms");
  }
  check_cuda(condition_bias, "condition_bias");
  check_cuda(uniforms, "uniforms");
  check_cuda(fixed_codes, "fixed_codes");
  check_cuda(resample_mask, "resample_mask");
  check_same_device(condition_bias, uniforms, "condition_bias", "uniforms");
  check_same_device(fixed_codes, uniforms, "fixed_codes", "uniforms");
  check_same_device(resample_mask, uniforms, "resample_mask", "uniforms");
  const int64_t num_layers = (count - 1 - kHeadTensors) / kTensorsPerLayer;
  const int64_t channels = embedding.size(1);
  check_condition_bias(condition_bias, uniforms, num_layers, channels);
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    const at::Tensor& vertical = parameters[1 + kTensorsPerLayer * layer];
    const at::Tensor& horizontal = parameters[3 + kTensorsPerLayer * layer];
    TORCH_CHECK(vertical.dim() == 4 && vertical.size(0) == 2 * channels && vertical.size(1) == channels &&
                    vertical.size(2) == kernel_size && vertical.size(3) == kernel_size,
                "pixelcnn_sample: layer ", layer, " vertical_weight must be (2C, C, k, k) = (", 2 * channels, ", ",
                channels, ", ", kernel_size, ", ", kernel_size, "), got ", vertical.sizes());
    TORCH_CHECK(horizontal.dim() == 4 && horizontal.size(0) == 2 * channels && horizontal.size(1) == channels &&
                    horizontal.size(2) == 1 && horizontal.size(3) == kernel_size,
                "pixelcnn_sample: layer ", layer, " horizontal_weight must be (2C, C, 1, k), got ", horizontal.sizes());
  }
  TORCH_CHECK(embedding.size(0) < (int64_t{1} << 31) && channels < (int64_t{1} << 20),
              "pixelcnn_sample: too many codes or channels for the CUDA kernel");
}

template <typename scalar_t>
void run_sampler(at::TensorList parameters, const at::Tensor& condition_bias, const at::Tensor& uniforms64,
                 const at::Tensor& mask, at::Tensor& codes, int64_t kernel_size, double temperature, int64_t top_k,
                 double guidance_scale) {
  using kernel_t = cuda_scalar_t<scalar_t>;
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const int64_t maps = codes.size(0), height = codes.size(1), width = codes.size(2);
  // Internal samples: one per map, or (guided) the maps under their conditions then under the negative ones.
  const bool guided = condition_bias.size(0) == 2 * maps;
  const int64_t batch = condition_bias.size(0);
  const int64_t pad = kernel_size / 2, ring_rows = pad + 1;
  const at::Tensor embedding = parameters[0].contiguous();  // (K, C)
  const int64_t num_codes = embedding.size(0), channels = embedding.size(1), double_channels = 2 * channels;
  const int64_t num_layers = (static_cast<int64_t>(parameters.size()) - 1 - kHeadTensors) / kTensorsPerLayer;
  // (B, L, 4C, H, W), or (B, L, 4C, 1, 1) for a condition that is the same at every position
  const at::Tensor typed_bias = condition_bias.to(embedding.scalar_type());
  const at::Tensor bias = typed_bias.dim() == 3 ? typed_bias.unsqueeze(-1).unsqueeze(-1) : typed_bias;
  const auto options = embedding.options();

  // Weights packed once per call.
  std::vector<at::Tensor> vertical_weights, link_weights, vertical_offsets, horizontal_offsets;
  std::vector<at::Tensor> horizontal_weights, output_weights, output_biases;
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    const at::Tensor* tensors = parameters.data() + 1 + kTensorsPerLayer * layer;
    const int64_t vertical_rows = layer == 0 ? pad : pad + 1;  // vertical_A, then vertical_B
    vertical_weights.push_back(vertical_rows > 0 ? pack_taps(tensors[0], vertical_rows, kernel_size) : at::Tensor());
    // All layers packed with p + 1 taps (the centre last); layer 0 (mask A) reads the first p.
    horizontal_weights.push_back(pack_taps(tensors[2], 1, pad + 1));
    link_weights.push_back(tensors[4].t().contiguous());  // (2C in, 2C out)
    output_weights.push_back(tensors[6].t().contiguous());  // (C in, C out)
    output_biases.push_back(tensors[7].contiguous());
    const at::Tensor layer_bias = bias.select(1, layer);  // (B, 4C, H|1, W|1) = [cond_v | cond_h]
    const auto as_map = [](const at::Tensor& vector) { return vector.reshape({1, -1, 1, 1}); };  // (1, 2C, 1, 1)
    vertical_offsets.push_back(offsets_by_row(layer_bias.narrow(1, 0, double_channels) + as_map(tensors[1]), width));
    horizontal_offsets.push_back(offsets_by_row(
        layer_bias.narrow(1, double_channels, double_channels) + as_map(tensors[3]) + as_map(tensors[5]), width));
  }
  const at::Tensor stacked_horizontal = at::stack(horizontal_weights).contiguous();  // (L, (p + 1) C, 2C)
  const at::Tensor stacked_output = at::stack(output_weights).contiguous();          // (L, C, C)
  const at::Tensor stacked_output_bias = at::stack(output_biases).contiguous();      // (L, C)
  const at::Tensor* head = parameters.data() + 1 + kTensorsPerLayer * num_layers;
  const at::Tensor head_hidden_weight = head[0].t().contiguous();  // (C, Hd)
  const at::Tensor head_hidden_bias = head[1].contiguous();
  const at::Tensor head_output_weight = head[2].t().contiguous();  // (Hd, K)
  const at::Tensor head_output_bias = head[3].contiguous();
  const int64_t head_channels = head_hidden_weight.size(1);

  // Caches (see pixelcnn.cuh). Zero padding columns are never written.
  at::Tensor embedded_ring = at::zeros({batch, ring_rows, width + 2 * pad, channels}, options);
  at::Tensor vertical_rings =
      at::zeros({std::max<int64_t>(num_layers - 1, 0), batch, ring_rows, width + 2 * pad, channels}, options);
  at::Tensor horizontal_rows = at::zeros({num_layers, batch, width + pad, channels}, options);
  at::Tensor link_rows = at::empty({num_layers, batch, width, double_channels}, options);
  at::Tensor columns = at::empty({batch * width, ring_rows * kernel_size * channels}, options);
  at::Tensor vertical_pre = at::empty({batch * width, double_channels}, options);

  // The K-double work vector of the sampling rule: in shared memory when it fits.
  const cudaDeviceProp* properties = at::cuda::getCurrentDeviceProperties();
  const size_t static_reserve = 4096;  // the kernel's static shared memory, with room to spare
  bool work_in_shared = pixelcnn::position_shared_bytes<kernel_t>(channels, pad, head_channels, num_codes, true) +
                            static_reserve <=
                        properties->sharedMemPerBlockOptin;
  const size_t scalar_bytes = pixelcnn::position_shared_bytes<kernel_t>(channels, pad, head_channels, num_codes, false);
  TORCH_CHECK(scalar_bytes + static_reserve <= properties->sharedMemPerBlockOptin,
              "pixelcnn_sample: C = ", channels, " channels and Hd = ", head_channels,
              " head channels need more shared memory than this GPU has");
  at::Tensor global_work;
  if (!work_in_shared) global_work = at::empty({batch, num_codes}, options.dtype(at::kDouble));
  at::Tensor guided_logits;  // (2B, K)
  if (guided) guided_logits = at::empty({batch, num_codes}, options);
  const size_t shared_bytes =
      pixelcnn::position_shared_bytes<kernel_t>(channels, pad, head_channels, num_codes, work_in_shared);
  C10_CUDA_CHECK(pixelcnn::prepare_sample_position<kernel_t>(shared_bytes));

  pixelcnn::PositionArguments<kernel_t> arguments{};
  arguments.horizontal_weights = cuda_data<scalar_t>(stacked_horizontal);
  arguments.link_rows = cuda_data<scalar_t>(link_rows);
  arguments.output_weights = cuda_data<scalar_t>(stacked_output);
  arguments.output_biases = cuda_data<scalar_t>(stacked_output_bias);
  arguments.horizontal_rows = cuda_data<scalar_t>(horizontal_rows);
  arguments.embedded_ring = cuda_data<scalar_t>(embedded_ring);
  arguments.embedding = cuda_data<scalar_t>(embedding);
  arguments.head_hidden_weight = cuda_data<scalar_t>(head_hidden_weight);
  arguments.head_hidden_bias = cuda_data<scalar_t>(head_hidden_bias);
  arguments.head_output_weight = cuda_data<scalar_t>(head_output_weight);
  arguments.head_output_bias = cuda_data<scalar_t>(head_output_bias);
  arguments.uniforms = uniforms64.data_ptr<double>();
  arguments.resample_mask = mask.data_ptr<bool>();
  arguments.codes = codes.data_ptr<int64_t>();
  arguments.global_work = work_in_shared ? nullptr : global_work.data_ptr<double>();
  arguments.guided_logits = guided ? cuda_data<scalar_t>(guided_logits) : nullptr;
  arguments.batch = static_cast<int>(batch);
  arguments.maps = static_cast<int>(maps);
  arguments.guidance_scale = static_cast<kernel_t>(guidance_scale);
  arguments.height = static_cast<int>(height);
  arguments.width = static_cast<int>(width);
  arguments.channels = static_cast<int>(channels);
  arguments.num_layers = static_cast<int>(num_layers);
  arguments.pad = static_cast<int>(pad);
  arguments.head_channels = static_cast<int>(head_channels);
  arguments.num_codes = static_cast<int>(num_codes);
  arguments.top_k = static_cast<int>(std::min<int64_t>(top_k, num_codes));
  arguments.inverse_temperature = 1.0 / temperature;
  arguments.work_in_shared = work_in_shared;

  for (int64_t row = 0; row < height; ++row) {
    // Vertical stacks of the whole row, layer by layer (layer l reads v_{l-1} of rows row - p .. row).
    for (int64_t layer = 0; layer < num_layers; ++layer) {
      const at::Tensor& source_ring = layer == 0 ? embedded_ring : vertical_rings[layer - 1];  // (B, p + 1, W + 2p, C)
      const int64_t kept_rows = layer == 0 ? pad : pad + 1;
      if (kept_rows > 0) {
        C10_CUDA_CHECK(pixelcnn::launch_gather_vertical_taps<kernel_t>(
            cuda_data<scalar_t>(source_ring), cuda_data<scalar_t>(columns), static_cast<int>(batch),
            static_cast<int>(width), static_cast<int>(channels), static_cast<int>(pad), static_cast<int>(kernel_size),
            static_cast<int>(row), static_cast<int>(kept_rows), columns.size(1), stream));
        at::addmm_out(vertical_pre, offsets_at_row(vertical_offsets[layer], row),
                      columns.narrow(1, 0, kept_rows * kernel_size * channels),
                      vertical_weights[layer]);  // (B W, 2C) = offsets + taps @ W_vertical
      } else {
        vertical_pre.copy_(offsets_at_row(vertical_offsets[layer], row));
      }
      at::Tensor link_row = link_rows.select(0, layer).view({batch * width, double_channels});
      at::addmm_out(link_row, offsets_at_row(horizontal_offsets[layer], row), vertical_pre, link_weights[layer]);
      if (layer + 1 < num_layers) {
        C10_CUDA_CHECK(pixelcnn::launch_vertical_gate<kernel_t>(
            cuda_data<scalar_t>(vertical_pre), cuda_data<scalar_t>(vertical_rings[layer]), static_cast<int>(batch),
            static_cast<int>(width), static_cast<int>(channels), static_cast<int>(pad), static_cast<int>(row),
            stream));
      }
    }
    for (int64_t column = 0; column < width; ++column) {
      C10_CUDA_CHECK(pixelcnn::launch_sample_position<kernel_t>(arguments, static_cast<int>(row),
                                                                static_cast<int>(column), shared_bytes, stream));
    }
  }
}

at::Tensor pixelcnn_sample_cuda(at::TensorList parameters, const at::Tensor& condition_bias, const at::Tensor& uniforms,
                                const at::Tensor& fixed_codes, const at::Tensor& resample_mask, int64_t kernel_size,
                                double temperature, int64_t top_k, double guidance_scale) {
  check_arguments(parameters, condition_bias, uniforms, fixed_codes, resample_mask, kernel_size, temperature, top_k,
                  guidance_scale);
  const c10::cuda::CUDAGuard device_guard(uniforms.device());
  at::Tensor codes = fixed_codes.contiguous().clone();  // created outside inference mode: an ordinary tensor
  if (codes.numel() == 0) return codes;
  const int64_t num_codes = parameters[0].size(0);
  c10::InferenceMode inference;
  // Every fixed code is embedded (the naive loop embeds the whole map), so all must be valid indices.
  const auto [lowest, highest] = at::aminmax(codes);
  const int64_t lowest_code = lowest.item<int64_t>(), highest_code = highest.item<int64_t>();
  TORCH_CHECK(lowest_code >= 0 && highest_code < num_codes, "pixelcnn_sample: fixed_codes must lie in [0, K = ",
              num_codes, "), found values in [", lowest_code, ", ", highest_code, "]");
  const at::Tensor uniforms64 = uniforms.to(at::kDouble).contiguous();
  const at::Tensor mask = resample_mask.contiguous();
  AT_DISPATCH_FLOATING_TYPES(parameters[0].scalar_type(), "pixelcnn_sample_cuda", [&] {
    run_sampler<scalar_t>(parameters, condition_bias, uniforms64, mask, codes, kernel_size, temperature, top_k,
                          guidance_scale);
  });
  return codes;
}

}  // namespace
}  // namespace cuda
}  // namespace vaestudio

TORCH_LIBRARY_IMPL(vaestudio, CUDA, m) { m.impl("pixelcnn_sample", &vaestudio::cuda::pixelcnn_sample_cuda); }
