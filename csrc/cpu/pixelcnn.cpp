// Cached autoregressive sampling from the gated PixelCNN prior on the CPU.
//
// Network, parameter layout and sampling rule: vaestudio/models/pixelcnn.py. Positions are
// visited in raster order in one call. Per row, the vertical stack of every layer is
// computed for the whole row at once from cached rows above (one GEMM per layer over the
// row's B x W positions), and so is the link of each layer (v_pre -> h_pre, one GEMM).
// Per position, only the horizontal stack (its kept taps are contiguous in the row cache:
// one GEMM of B rows per layer), the output 1x1, and the head where something is resampled; rows
// with nothing to resample skip the horizontal stack and the head (only their codes are embedded).
// Weights are packed once per call into contiguous (in, out) matrices. The batch is split into
// one slice per thread (two synchronisations per call); inside a slice the GEMMs are
// single-threaded register-blocked kernels (small_gemm.h), so no thread team is woken per step.
//
// Classifier-free guidance: a condition_bias of 2B samples holds B conditions then B negative
// conditions. Each slice then runs its n samples twice (conditioned, negative) through the caches
// as 2n internal samples; at every position the two halves' logits are mixed as
// negative + scale * (conditioned - negative), one code is drawn and written to both halves.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "small_gemm.h"
#include "../pixelcnn_layout.h"

namespace vaestudio {
namespace {

using pixelcnn_layout::kHeadTensors;
using pixelcnn_layout::check_condition_bias;
using pixelcnn_layout::kTensorsPerLayer;
using pixelcnn_layout::pack_taps;

// out = tanh(pre[..., :C]) * sigmoid(pre[..., C:]), pre (..., 2C), out (..., C).
void gate_into(at::Tensor out, const at::Tensor& pre, int64_t channels) {
  at::mul_out(out, at::tanh(pre.narrow(-1, 0, channels)), at::sigmoid(pre.narrow(-1, channels, channels)));
}

// The sampling rule of the module docstring (identical to sample_codes_reference).
template <typename scalar_t>
int64_t choose_code(const scalar_t* logits, int64_t num_codes, double inverse_temperature, int64_t top_k,
                    double uniform, std::vector<double>& scaled, std::vector<double>& scratch) {
  for (int64_t code = 0; code < num_codes; ++code) scaled[code] = static_cast<double>(logits[code]) * inverse_temperature;
  if (top_k > 0 && top_k < num_codes) {
    scratch.assign(scaled.begin(), scaled.begin() + num_codes);
    std::nth_element(scratch.begin(), scratch.begin() + (top_k - 1), scratch.end(), std::greater<double>());
    const double threshold = scratch[top_k - 1];
    for (int64_t code = 0; code < num_codes; ++code) {
      if (scaled[code] < threshold) scaled[code] = -std::numeric_limits<double>::infinity();
    }
  }
  const double maximum = *std::max_element(scaled.begin(), scaled.begin() + num_codes);
  double total = 0.0;
  int64_t last_positive = num_codes - 1;
  for (int64_t code = 0; code < num_codes; ++code) {
    const double weight = std::exp(scaled[code] - maximum);
    if (weight > 0.0) last_positive = code;
    total += weight;
    scaled[code] = total;  // running sum, in place
  }
  const double target = uniform * total;
  for (int64_t code = 0; code < num_codes; ++code) {
    if (scaled[code] > target) return code;
  }
  return last_positive;
}

// One layer's weights packed once as contiguous GEMM right-hand sides, plus its per-sample offsets.
struct PackedLayer {
  at::Tensor vertical;           // (vertical_rows * k * C, 2C)
  at::Tensor horizontal;         // (horizontal_taps * C, 2C)
  at::Tensor link;               // (2C, 2C) = link_weight^T
  at::Tensor output;             // (C, C) = output_weight^T
  at::Tensor output_bias;        // (C,)
  at::Tensor vertical_offset;    // (B, H or 1, W or 1, 2C) = vertical_bias + cond_v
  at::Tensor horizontal_offset;  // (B, H or 1, W or 1, 2C) = horizontal_bias + link_bias + cond_h
  int64_t vertical_rows;         // p for layer 0 (rows above), p + 1 after (and the centre row)
  int64_t horizontal_taps;       // p for layer 0 (left of the centre), p + 1 after (and the centre)
};

// The whole network packed once per call, shared read-only by the workers.
struct PackedNetwork {
  PackedNetwork(at::TensorList parameters, const at::Tensor& condition_bias, int64_t kernel_size)
      : kernel(kernel_size), pad(kernel_size / 2) {
    embedding = parameters[0].contiguous();  // (K, C)
    num_codes = embedding.size(0);
    channels = embedding.size(1);
    num_layers = (static_cast<int64_t>(parameters.size()) - 1 - kHeadTensors) / kTensorsPerLayer;
    const int64_t double_channels = 2 * channels;
    // (B, L, 4C, H, W), or (B, L, 4C, 1, 1) for a condition that is the same at every position
    const auto bias = condition_bias.dim() == 3 ? condition_bias.unsqueeze(-1).unsqueeze(-1) : condition_bias;
    for (int64_t layer = 0; layer < num_layers; ++layer) {
      const auto* tensors = parameters.data() + 1 + kTensorsPerLayer * layer;
      const bool first = layer == 0;
      PackedLayer packed;
      packed.vertical_rows = first ? pad : pad + 1;
      packed.horizontal_taps = first ? pad : pad + 1;
      packed.vertical = pack_taps(tensors[0], packed.vertical_rows, kernel);
      packed.horizontal = pack_taps(tensors[2], 1, packed.horizontal_taps);
      packed.link = tensors[4].t().contiguous();
      packed.output = tensors[6].t().contiguous();
      packed.output_bias = tensors[7].contiguous();
      const auto layer_bias = bias.select(1, layer).permute({0, 2, 3, 1});  // (B, H|1, W|1, 4C)
      packed.vertical_offset = (layer_bias.narrow(3, 0, double_channels) + tensors[1]).contiguous();
      packed.horizontal_offset =
          (layer_bias.narrow(3, double_channels, double_channels) + tensors[3] + tensors[5]).contiguous();
      layers.push_back(std::move(packed));
    }
    const auto* head = parameters.data() + 1 + kTensorsPerLayer * num_layers;
    head_hidden = head[0].t().contiguous();  // (C, Hd)
    head_hidden_bias = head[1].contiguous();
    head_output = head[2].t().contiguous();  // (Hd, K)
    head_output_bias = head[3].contiguous();
    head_channels = head_hidden.size(1);
  }

  int64_t kernel, pad, num_codes = 0, channels = 0, num_layers = 0, head_channels = 0;
  at::Tensor embedding;  // (K, C)
  std::vector<PackedLayer> layers;
  at::Tensor head_hidden, head_hidden_bias, head_output, head_output_bias;
};

// Samples a slice [first_sample, first_sample + batch) of the batch; one per worker thread.
template <typename scalar_t>
class CachedSampler {
 public:
  // Samples [first_sample, first_sample + samples) of a batch of total_samples; guided: also runs each
  // sample under its negative condition (row total_samples + index of the condition bias).
  CachedSampler(const PackedNetwork& network, int64_t first_sample, int64_t samples, int64_t total_samples,
                bool guided, double guidance_scale, int64_t height, int64_t width)
      : net_(network), first_sample_(first_sample), samples_(samples), batch_(guided ? 2 * samples : samples),
        guided_(guided), guidance_scale_(static_cast<scalar_t>(guidance_scale)), height_(height), width_(width),
        channels_(network.channels), pad_(network.pad), ring_(network.pad + 1) {
    const auto options = net_.embedding.options();
    const int64_t padded_width = width_ + 2 * pad_, double_channels = 2 * channels_;
    embedded_rows_ = at::zeros({batch_, ring_, padded_width, channels_}, options);
    for (int64_t layer = 0; layer + 1 < net_.num_layers; ++layer) {  // the last layer's v feeds nothing
      vertical_rows_.push_back(at::zeros({batch_, ring_, padded_width, channels_}, options));
    }
    for (int64_t layer = 0; layer < net_.num_layers; ++layer) {
      horizontal_row_.push_back(at::zeros({batch_, width_ + pad_, channels_}, options));
      link_row_.push_back(at::empty({batch_, width_, double_channels}, options));
      vertical_offset_.push_back(slice_offsets(net_.layers[layer].vertical_offset, total_samples));
      horizontal_offset_.push_back(slice_offsets(net_.layers[layer].horizontal_offset, total_samples));
    }
    columns_ = at::empty({batch_ * width_, (pad_ + 1) * net_.kernel * channels_}, options);
    vertical_pre_ = at::empty({batch_ * width_, double_channels}, options);
    horizontal_pre_ = at::empty({batch_, double_channels}, options);
    tanh_ = at::empty({batch_, channels_}, options);
    sigmoid_ = at::empty({batch_, channels_}, options);
    gated_ = at::empty({batch_, channels_}, options);
    head_input_ = at::empty({batch_, channels_}, options);
    hidden_ = at::empty({batch_, net_.head_channels}, options);
    logits_ = at::empty({batch_, net_.num_codes}, options);
    scaled_.resize(net_.num_codes);
  }

  // All pointers cover the whole batch (B, H, W); codes holds the fixed codes on entry.
  void sample(const double* uniforms, const bool* resample_mask, double temperature, int64_t top_k, int64_t* codes) {
    const int64_t offset = first_sample_ * height_ * width_;
    for (int64_t row = 0; row < height_; ++row) {
      vertical_pass(row);
      // The vertical stacks never read the horizontal ones, and a row's horizontal stacks start afresh:
      // a row with nothing to resample (streaming's finished rows, inpainting's kept rows) only needs
      // its fixed codes embedded for the rows below.
      const bool resamples = row_resamples(row, resample_mask + offset);
      for (int64_t column = 0; column < width_; ++column) {
        if (resamples) {
          horizontal_step(row, column);
          head_and_choose(row, column, uniforms + offset, resample_mask + offset, 1.0 / temperature, top_k,
                          codes + offset);
        }
        embed(row, column, codes + offset);
      }
    }
  }

 private:
  int64_t slot(int64_t row) const { return row % ring_; }
  // The sample (index into codes, uniforms and mask of this slice) that internal sample b draws for.
  int64_t sample_of(int64_t b) const { return b < samples_ ? b : b - samples_; }

  // Whether any sample of this slice resamples a position of `row`.
  bool row_resamples(int64_t row, const bool* resample_mask) const {
    const int64_t plane = height_ * width_;
    for (int64_t b = 0; b < samples_; ++b) {
      const bool* start = resample_mask + b * plane + row * width_;
      if (std::any_of(start, start + width_, [](bool value) { return value; })) return true;
    }
    return false;
  }

  // This slice's rows of a layer's offsets: (n, ...), or (2n, ...) conditioned then negative when guided.
  at::Tensor slice_offsets(const at::Tensor& offsets, int64_t total_samples) const {
    const auto conditioned = offsets.narrow(0, first_sample_, samples_);
    if (!guided_) return conditioned;
    return at::cat({conditioned, offsets.narrow(0, total_samples + first_sample_, samples_)}).contiguous();
  }

  // A layer's offsets (B, H|1, W|1, 2C) at `row`, as (B, W, 2C) (a view, broadcast where the bias is constant).
  at::Tensor offsets_at_row(const at::Tensor& offsets, int64_t row) const {
    const int64_t spatial_row = offsets.size(1) == 1 ? 0 : row;
    return offsets.select(1, spatial_row).expand({batch_, width_, 2 * channels_});
  }
  int64_t ring_width_stride() const { return (width_ + 2 * pad_) * channels_; }

  // im2col of the kept vertical taps at `row` into columns_ (B * W, rows * k * C): for position
  // (b, j) and kept row dy, the k taps are contiguous in the ring (padded columns j .. j + k - 1).
  at::Tensor gather_vertical_taps(const at::Tensor& ring, int64_t row, int64_t kept_rows) {
    const int64_t run = net_.kernel * channels_, out_stride = columns_.size(1);
    scalar_t* out = columns_.data_ptr<scalar_t>();
    const scalar_t* source = ring.data_ptr<scalar_t>();
    for (int64_t b = 0; b < batch_; ++b) {
      for (int64_t dy = 0; dy < kept_rows; ++dy) {
        const int64_t source_row = row - pad_ + dy;
        for (int64_t j = 0; j < width_; ++j) {
          scalar_t* target = out + (b * width_ + j) * out_stride + dy * run;
          if (source_row < 0) {
            std::fill(target, target + run, scalar_t(0));
          } else {
            const scalar_t* start = source + (b * ring_ + slot(source_row)) * ring_width_stride() + j * channels_;
            std::memcpy(target, start, run * sizeof(scalar_t));
          }
        }
      }
    }
    return columns_.narrow(1, 0, kept_rows * run);  // (B * W, kept_rows * k * C)
  }

  // The vertical stack of every layer at `row`, and each layer's link term for the whole row.
  void vertical_pass(int64_t row) {
    const int64_t double_channels = 2 * channels_;
    for (int64_t layer = 0; layer < net_.num_layers; ++layer) {
      const auto& packed = net_.layers[layer];
      const auto& source = layer == 0 ? embedded_rows_ : vertical_rows_[layer - 1];
      vertical_pre_.view({batch_, width_, double_channels}).copy_(offsets_at_row(vertical_offset_[layer], row));
      if (packed.vertical_rows > 0) {
        const at::Tensor taps = gather_vertical_taps(source, row, packed.vertical_rows);  // (B * W, rows * k * C)
        small_gemm(batch_ * width_, double_channels, taps.size(1), taps.data_ptr<scalar_t>(), taps.stride(0),
                   packed.vertical.data_ptr<scalar_t>(), double_channels, vertical_pre_.data_ptr<scalar_t>(),
                   double_channels);
      }
      auto link = link_row_[layer];  // (B, W, 2C)
      link.copy_(offsets_at_row(horizontal_offset_[layer], row));
      small_gemm(batch_ * width_, double_channels, double_channels, vertical_pre_.data_ptr<scalar_t>(),
                 double_channels, packed.link.data_ptr<scalar_t>(), double_channels, link.data_ptr<scalar_t>(),
                 double_channels);
      if (layer + 1 < net_.num_layers) {
        auto target = vertical_rows_[layer].select(1, slot(row)).narrow(1, pad_, width_);  // (B, W, C)
        gate_into(target, vertical_pre_.view({batch_, width_, double_channels}), channels_);
      }
    }
  }

  // The horizontal stack of every layer at (row, column); results in horizontal_row_[l][:, column + p].
  void horizontal_step(int64_t row, int64_t column) {
    const int64_t double_channels = 2 * channels_, row_stride = (width_ + pad_) * channels_;
    scalar_t* pre = horizontal_pre_.data_ptr<scalar_t>();    // (B, 2C)
    const scalar_t* gated = gated_.data_ptr<scalar_t>();     // (B, C)
    for (int64_t layer = 0; layer < net_.num_layers; ++layer) {
      const auto& packed = net_.layers[layer];
      const scalar_t* link = link_row_[layer].data_ptr<scalar_t>() + column * double_channels;  // (B, 2C) strided
      for (int64_t b = 0; b < batch_; ++b) {
        std::memcpy(pre + b * double_channels, link + b * width_ * double_channels, double_channels * sizeof(scalar_t));
      }
      if (packed.horizontal_taps > 0) {
        // the taps left of (and at, after layer 0) the position: padded columns column .. column + taps - 1
        const scalar_t* taps;
        int64_t taps_stride;
        if (layer == 0) {
          taps = embedded_rows_.data_ptr<scalar_t>() + slot(row) * ring_width_stride() + column * channels_;
          taps_stride = ring_ * ring_width_stride();
        } else {
          taps = horizontal_row_[layer - 1].data_ptr<scalar_t>() + column * channels_;
          taps_stride = row_stride;
        }
        small_gemm(batch_, double_channels, packed.horizontal_taps * channels_, taps, taps_stride,
                   packed.horizontal.data_ptr<scalar_t>(), double_channels, pre, double_channels);
      }
      at::tanh_out(tanh_, horizontal_pre_.narrow(1, 0, channels_));
      at::sigmoid_out(sigmoid_, horizontal_pre_.narrow(1, channels_, channels_));
      at::mul_out(gated_, tanh_, sigmoid_);
      // h = (h_previous, or nothing for layer 0) + output_bias + gated @ output^T
      scalar_t* target = horizontal_row_[layer].data_ptr<scalar_t>() + (column + pad_) * channels_;
      const scalar_t* bias = packed.output_bias.data_ptr<scalar_t>();
      for (int64_t b = 0; b < batch_; ++b) {
        scalar_t* out = target + b * row_stride;
        if (layer == 0) {
          std::copy(bias, bias + channels_, out);
        } else {
          const scalar_t* previous = horizontal_row_[layer - 1].data_ptr<scalar_t>() + b * row_stride +
                                     (column + pad_) * channels_;
          for (int64_t channel = 0; channel < channels_; ++channel) out[channel] = previous[channel] + bias[channel];
        }
      }
      small_gemm(batch_, channels_, channels_, gated, channels_, packed.output.data_ptr<scalar_t>(), channels_, target,
                 row_stride);
    }
  }

  // The head and the sampling rule for the samples that resample (row, column).
  void head_and_choose(int64_t row, int64_t column, const double* uniforms, const bool* resample_mask,
                       double inverse_temperature, int64_t top_k, int64_t* codes) {
    const int64_t position = row * width_ + column, plane = height_ * width_;
    const int64_t head_channels = net_.head_channels, num_codes = net_.num_codes;
    const int64_t row_stride = (width_ + pad_) * channels_;
    const scalar_t* top = horizontal_row_[net_.num_layers - 1].data_ptr<scalar_t>() + (column + pad_) * channels_;
    scalar_t* input = head_input_.data_ptr<scalar_t>();  // (n, C): relu(h) of the selected samples
    selected_.clear();
    for (int64_t b = 0; b < batch_; ++b) {  // guided: the negative half follows in the same order
      if (!resample_mask[sample_of(b) * plane + position]) continue;
      scalar_t* out = input + static_cast<int64_t>(selected_.size()) * channels_;
      for (int64_t channel = 0; channel < channels_; ++channel) {
        out[channel] = std::max(top[b * row_stride + channel], scalar_t(0));
      }
      selected_.push_back(b);
    }
    const int64_t count = static_cast<int64_t>(selected_.size());
    if (count == 0) return;
    scalar_t* hidden = hidden_.data_ptr<scalar_t>();  // (n, Hd)
    scalar_t* logits = logits_.data_ptr<scalar_t>();  // (n, K)
    const scalar_t* hidden_bias = net_.head_hidden_bias.data_ptr<scalar_t>();
    const scalar_t* output_bias = net_.head_output_bias.data_ptr<scalar_t>();
    for (int64_t index = 0; index < count; ++index) {
      std::copy(hidden_bias, hidden_bias + head_channels, hidden + index * head_channels);
      std::copy(output_bias, output_bias + num_codes, logits + index * num_codes);
    }
    small_gemm(count, head_channels, channels_, input, channels_, net_.head_hidden.data_ptr<scalar_t>(), head_channels,
               hidden, head_channels);
    for (int64_t index = 0; index < count * head_channels; ++index) hidden[index] = std::max(hidden[index], scalar_t(0));
    small_gemm(count, num_codes, head_channels, hidden, head_channels, net_.head_output.data_ptr<scalar_t>(), num_codes,
               logits, num_codes);
    const int64_t drawn = guided_ ? count / 2 : count;
    if (guided_) {
      for (int64_t index = 0; index < drawn * num_codes; ++index) {
        const scalar_t negative = logits[drawn * num_codes + index];
        logits[index] = negative + guidance_scale_ * (logits[index] - negative);
      }
    }
    for (int64_t index = 0; index < drawn; ++index) {
      const int64_t b = selected_[index];
      codes[b * plane + position] = choose_code(logits + index * num_codes, num_codes, inverse_temperature, top_k,
                                                uniforms[b * plane + position], scaled_, scratch_);
    }
  }

  // Writes the embedding of the code now at (row, column) into the embedded ring.
  void embed(int64_t row, int64_t column, const int64_t* codes) {
    const int64_t plane = height_ * width_;
    const scalar_t* table = net_.embedding.data_ptr<scalar_t>();
    scalar_t* ring = embedded_rows_.data_ptr<scalar_t>();
    for (int64_t b = 0; b < batch_; ++b) {
      const int64_t code = codes[sample_of(b) * plane + row * width_ + column];
      scalar_t* target = ring + (b * ring_ + slot(row)) * ring_width_stride() + (column + pad_) * channels_;
      std::memcpy(target, table + code * channels_, channels_ * sizeof(scalar_t));
    }
  }

  const PackedNetwork& net_;
  int64_t first_sample_, samples_, batch_;  // batch_: internal samples, 2 * samples_ when guided
  bool guided_;
  scalar_t guidance_scale_;
  int64_t height_, width_, channels_, pad_, ring_;
  // caches
  at::Tensor embedded_rows_;                // (B, p + 1, W + 2p, C) ring of embedded rows, zero padding
  std::vector<at::Tensor> vertical_rows_;   // per layer but the last: (B, p + 1, W + 2p, C) ring of v
  std::vector<at::Tensor> horizontal_row_;  // per layer: (B, W + p, C) h of the current row, p zero columns left
  std::vector<at::Tensor> link_row_;        // per layer: (B, W, 2C) horizontal offset + link(v_pre), current row
  std::vector<at::Tensor> vertical_offset_, horizontal_offset_;  // per layer: (B, H|1, W|1, 2C) of this slice
  // scratch
  at::Tensor columns_, vertical_pre_, horizontal_pre_, tanh_, sigmoid_, gated_, head_input_, hidden_, logits_;
  std::vector<int64_t> selected_;
  std::vector<double> scaled_, scratch_;
};

at::Tensor pixelcnn_sample_cpu(at::TensorList parameters, const at::Tensor& condition_bias, const at::Tensor& uniforms,
                               const at::Tensor& fixed_codes, const at::Tensor& resample_mask, int64_t kernel_size,
                               double temperature, int64_t top_k, double guidance_scale) {
  const int64_t count = static_cast<int64_t>(parameters.size());
  TORCH_CHECK(count >= 1 + kTensorsPerLayer + kHeadTensors && (count - 1 - kHeadTensors) % kTensorsPerLayer == 0,
              "pixelcnn_sample: parameters must hold 8 L + 5 tensors, got ", count);
  TORCH_CHECK(kernel_size >= 1 && kernel_size % 2 == 1, "pixelcnn_sample: kernel_size must be odd, got ", kernel_size);
  TORCH_CHECK(temperature > 0.0 && std::isfinite(temperature), "pixelcnn_sample: temperature must be positive");
  TORCH_CHECK(top_k >= 0, "pixelcnn_sample: top_k must be >= 0, got ", top_k);
  TORCH_CHECK(std::isfinite(guidance_scale), "pixelcnn_sample: guidance_scale must be finite");
  TORCH_CHECK(uniforms.dim() == 3, "pixelcnn_sample: uniforms must be (B, H, W), got ", uniforms.sizes());
  TORCH_CHECK(fixed_codes.sizes() == uniforms.sizes() && resample_mask.sizes() == uniforms.sizes(),
              "pixelcnn_sample: fixed_codes and resample_mask must have the uniforms' shape ", uniforms.sizes());
  TORCH_CHECK(fixed_codes.scalar_type() == at::kLong, "pixelcnn_sample: fixed_codes must be int64");
  TORCH_CHECK(resample_mask.scalar_type() == at::kBool, "pixelcnn_sample: resample_mask must be bool");
  const auto dtype = parameters[0].scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble, "pixelcnn_sample: parameters must be float32 or float64");
  const int64_t num_layers = (count - 1 - kHeadTensors) / kTensorsPerLayer;
  const int64_t channels = parameters[0].size(1);
  check_condition_bias(condition_bias, uniforms, num_layers, channels);
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    const auto& vertical = parameters[1 + kTensorsPerLayer * layer];
    TORCH_CHECK(vertical.dim() == 4 && vertical.size(2) == kernel_size && vertical.size(3) == kernel_size,
                "pixelcnn_sample: layer ", layer, " vertical_weight must be (2C, C, k, k) with k = ", kernel_size);
  }
  for (const auto& tensor : parameters) {
    TORCH_CHECK(tensor.scalar_type() == dtype, "pixelcnn_sample: all parameters must share one dtype");
  }

  auto codes = fixed_codes.contiguous().clone();  // created outside inference mode: an ordinary tensor
  if (codes.numel() == 0) return codes;
  const auto uniforms64 = uniforms.to(at::kDouble).contiguous();
  const auto mask = resample_mask.contiguous();
  const int64_t batch = uniforms.size(0), height = uniforms.size(1), width = uniforms.size(2);
  const bool guided = condition_bias.size(0) == 2 * batch;
  c10::InferenceMode inference;
  const PackedNetwork network(parameters, condition_bias.to(dtype), kernel_size);
  // Independent samples split into one contiguous slice per thread: two synchronisations in all.
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), batch));
  AT_DISPATCH_FLOATING_TYPES(dtype, "pixelcnn_sample_cpu", [&] {
    at::parallel_for(0, workers, 1, [&](int64_t begin, int64_t end) {
      c10::InferenceMode worker_inference;
      for (int64_t worker = begin; worker < end; ++worker) {
        const int64_t first = batch * worker / workers, last = batch * (worker + 1) / workers;
        CachedSampler<scalar_t> sampler(network, first, last - first, batch, guided, guidance_scale, height, width);
        sampler.sample(uniforms64.data_ptr<double>(), mask.data_ptr<bool>(), temperature, top_k,
                       codes.data_ptr<int64_t>());
      }
    });
  });
  return codes;
}

}  // namespace

TORCH_LIBRARY_IMPL(vaestudio, CPU, m) { m.impl("pixelcnn_sample", &pixelcnn_sample_cpu); }

}  // namespace vaestudio
