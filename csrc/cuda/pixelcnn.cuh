// Cached autoregressive sampling from the gated PixelCNN prior on the GPU,
// plain CUDA (no torch header; see common.cuh).
//
// Network, parameter layout and sampling rule: vaestudio/models/pixelcnn.py.
// The host loop (pixelcnn.cu) queues everything on one stream and never waits:
//
//   for each row r:
//     vertical pass, per layer l (whole row, all samples; B * W GEMM rows):
//       gather_vertical_taps_kernel   im2col of the kept rows of the layer's input ring
//       at::addmm (cuBLAS)            v_pre = offsets + taps @ W_vertical
//       at::addmm (cuBLAS)            link_row[l] = horizontal offsets + v_pre @ link^T
//       vertical_gate_kernel          v_l[r] = tanh(v_pre[:C]) * sigmoid(v_pre[C:]) into layer l's ring
//     for each column c:
//       sample_position_kernel        one block per sample: the horizontal stack of every
//                                     layer at (r, c), the head, the sampling rule, and the
//                                     embedding of the chosen (or fixed) code into the ring
//       choose_guided_kernel          guided sampling only: one block per code map mixes its
//                                     conditioned and negative logits, draws, and embeds the
//                                     code for both
//
// Classifier-free guidance runs 2B internal samples (B conditioned, then B negative) over B
// code maps: internal sample s draws for map s % B, and the logits of a resampled position go to
// guided_logits instead of being drawn from directly.
// so one position costs one kernel launch, whatever the number of layers, and the
// host never reads anything back. Caches (all (B, ...) device tensors):
//   embedded ring   (B, p + 1, W + 2p, C)  embedded codes of the last p + 1 rows, p zero columns each side
//   vertical rings  (L - 1, B, p + 1, W + 2p, C)  v of each layer but the last (it feeds nothing)
//   horizontal rows (L, B, W + p, C)       h of the current row, p zero columns on the left
//   link rows       (L, B, W, 2C)          horizontal offset + link(v_pre) of the current row
// Ring slot of row r: r % (p + 1). A ring slot is overwritten only once the row it
// held (r - p - 1) can no longer be read: the vertical taps of row r reach p rows up.
#pragma once

#include <cmath>

#include "common.cuh"

namespace vaestudio {
namespace cuda {
namespace pixelcnn {

constexpr int kThreads = 256;       // elementwise kernels
constexpr int kPositionThreads = 256;  // sample_position_kernel, one block per sample

// tanh(value) * sigmoid(gate_logit), evaluated in double and rounded once: the
// --use_fast_math build would otherwise use approximate exp / tanh for float.
template <typename scalar_t>
__device__ __forceinline__ scalar_t gate(scalar_t value, scalar_t gate_logit) {
  const double value64 = static_cast<double>(value);
  const double gate64 = static_cast<double>(gate_logit);
  return static_cast<scalar_t>(tanh(value64) * (1.0 / (1.0 + exp(-gate64))));
}

// ---------------------------------------------------------------------------
// im2col of the vertical taps of row `row`: for position (b, j) (GEMM row b * W + j)
// and kept kernel row dy (input row row - p + dy), the k taps of that row are the
// padded ring columns j .. j + k - 1, i.e. k * C contiguous values, copied to
// columns[(b * W + j) * columns_stride + dy * k * C + t]; rows above the image are zeros.
template <typename scalar_t>
__global__ void gather_vertical_taps_kernel(const scalar_t* __restrict__ ring, scalar_t* __restrict__ columns,
                                            int batch, int width, int channels, int pad, int ring_rows,
                                            int kernel_size, int row, int kept_rows, int64_t columns_stride) {
  const int64_t run = static_cast<int64_t>(kernel_size) * channels;  // one kernel row of taps
  const int64_t padded_width = width + 2 * pad;
  const int64_t total = static_cast<int64_t>(batch) * width * kept_rows * run;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t element = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; element < total;
       element += stride) {
    const int64_t tap = element % run;          // (kernel column, channel) within the kernel row
    const int64_t rest = element / run;
    const int kept_row = static_cast<int>(rest % kept_rows);
    const int64_t position = rest / kept_rows;  // b * W + j
    const int64_t column = position % width;
    const int64_t sample = position / width;
    const int source_row = row - pad + kept_row;
    scalar_t value = scalar_t(0);
    if (source_row >= 0) {
      const int64_t slot = source_row % ring_rows;
      value = ring[((sample * ring_rows + slot) * padded_width + column) * channels + tap];
    }
    columns[position * columns_stride + kept_row * run + tap] = value;
  }
}

// v_l[row] = gate(v_pre) for every (b, j, c), written to padded column p + j of the ring slot.
template <typename scalar_t>
__global__ void vertical_gate_kernel(const scalar_t* __restrict__ vertical_pre, scalar_t* __restrict__ ring,
                                     int batch, int width, int channels, int pad, int ring_rows, int row) {
  const int64_t total = static_cast<int64_t>(batch) * width * channels;
  const int64_t padded_width = width + 2 * pad;
  const int64_t slot = row % ring_rows;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t element = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; element < total;
       element += stride) {
    const int64_t channel = element % channels;
    const int64_t position = element / channels;  // b * W + j, the row of vertical_pre (B * W, 2C)
    const int64_t column = position % width;
    const int64_t sample = position / width;
    const scalar_t* pre = vertical_pre + position * 2 * channels;
    ring[((sample * ring_rows + slot) * padded_width + pad + column) * channels + channel] =
        gate(pre[channel], pre[channels + channel]);
  }
}

// ---------------------------------------------------------------------------
// Everything sample_position_kernel reads, as device pointers into contiguous
// tensors (shapes in comments), plus sizes. Passed by value.
template <typename scalar_t>
struct PositionArguments {
  const scalar_t* horizontal_weights;  // (L, (p + 1) C, 2C): tap t, channel c -> row t C + c; layer 0 reads p taps
  const scalar_t* link_rows;           // (L, B, W, 2C)
  const scalar_t* output_weights;      // (L, C, C) as (in, out): the transposed output 1x1
  const scalar_t* output_biases;       // (L, C)
  scalar_t* horizontal_rows;           // (L, B, W + p, C)
  scalar_t* embedded_ring;             // (B, p + 1, W + 2p, C)
  const scalar_t* embedding;           // (K, C)
  const scalar_t* head_hidden_weight;  // (C, Hd): transposed
  const scalar_t* head_hidden_bias;    // (Hd,)
  const scalar_t* head_output_weight;  // (Hd, K): transposed
  const scalar_t* head_output_bias;    // (K,)
  const double* uniforms;              // (B, H, W)
  const bool* resample_mask;           // (B, H, W)
  int64_t* codes;                      // (B, H, W): the fixed codes on entry, the samples on exit
  double* global_work;                 // (B, K) when the K doubles do not fit in shared memory, else unused
  scalar_t* guided_logits;             // (2B, K) logits of the position when guided, else nullptr
  int batch;                           // internal samples: the code maps, twice that when guided
  int maps;                            // B, the code maps (codes, uniforms and mask hold B)
  int height, width, channels, num_layers, pad, head_channels, num_codes, top_k;
  double inverse_temperature;
  scalar_t guidance_scale;
  bool work_in_shared;
};

// negative + scale * (conditioned - negative), each operation rounded on its own (no fused
// multiply-add), as the CPU kernel and the reference compute it.
__device__ __forceinline__ float guided_logit(float conditioned, float negative, float scale) {
  return __fadd_rn(negative, __fmul_rn(scale, __fsub_rn(conditioned, negative)));
}
__device__ __forceinline__ double guided_logit(double conditioned, double negative, double scale) {
  return __dadd_rn(negative, __dmul_rn(scale, __dsub_rn(conditioned, negative)));
}

// Dynamic shared memory of sample_position_kernel: [K doubles if work_in_shared]
// then ((p + 1) + 4) C + Hd scalars (taps, pre-activation 2C, gated C, head input C, hidden Hd).
template <typename scalar_t>
inline size_t position_shared_bytes(int channels, int pad, int head_channels, int num_codes, bool work_in_shared) {
  const size_t scalars = static_cast<size_t>(pad + 1 + 4) * channels + static_cast<size_t>(head_channels);
  return (work_in_shared ? static_cast<size_t>(num_codes) * sizeof(double) : 0) + scalars * sizeof(scalar_t);
}

// Block-wide reductions (blockDim.x a multiple of 32); every thread gets the result.
__device__ __forceinline__ double block_max(double value, double* scratch) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) value = fmax(value, __shfl_xor_sync(0xffffffffu, value, offset));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, num_warps = blockDim.x >> 5;
  __syncthreads();  // scratch may still be read by a previous reduction
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  double result = scratch[0];
  for (int other = 1; other < num_warps; ++other) result = fmax(result, scratch[other]);
  return result;
}

__device__ __forceinline__ int block_min(int value, int* scratch) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) value = min(value, __shfl_xor_sync(0xffffffffu, value, offset));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, num_warps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  int result = scratch[0];
  for (int other = 1; other < num_warps; ++other) result = min(result, scratch[other]);
  return result;
}

// Order-preserving map of a double to a uint64 (unsigned order = numeric order;
// -0.0 folded onto +0.0), and back.
__device__ __forceinline__ unsigned long long ordered_key(double value) {
  unsigned long long bits = static_cast<unsigned long long>(__double_as_longlong(value));
  if (bits == 0x8000000000000000ull) bits = 0ull;
  return (bits & 0x8000000000000000ull) ? ~bits : (bits | 0x8000000000000000ull);
}
__device__ __forceinline__ double from_ordered_key(unsigned long long key) {
  const unsigned long long bits = (key & 0x8000000000000000ull) ? (key & ~0x8000000000000000ull) : ~key;
  return __longlong_as_double(static_cast<long long>(bits));
}

// The top_k-th largest of values[0 .. K) (counted with multiplicity), by an
// 8-pass MSB-first radix select on the ordered keys: it is the element of
// ascending rank K - top_k. Each pass histograms the next 8 bits of the keys
// that match the prefix found so far, and one thread walks the 256 bins to the
// one holding the rank.
__device__ double kth_largest(const double* values, int num_codes, int top_k) {
  __shared__ unsigned int histogram[256];
  __shared__ unsigned long long prefix;
  __shared__ unsigned long long prefix_mask;
  __shared__ long long rank;
  if (threadIdx.x == 0) {
    prefix = 0ull;
    prefix_mask = 0ull;
    rank = static_cast<long long>(num_codes) - top_k;
  }
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int bin = threadIdx.x; bin < 256; bin += blockDim.x) histogram[bin] = 0u;
    __syncthreads();
    const unsigned long long current_prefix = prefix, current_mask = prefix_mask;
    for (int code = threadIdx.x; code < num_codes; code += blockDim.x) {
      const unsigned long long key = ordered_key(values[code]);
      if ((key & current_mask) == current_prefix) atomicAdd(&histogram[(key >> shift) & 0xffu], 1u);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      long long below = 0;
      int digit = 0;
      while (digit < 255 && below + histogram[digit] <= rank) below += histogram[digit++];
      rank -= below;
      prefix |= static_cast<unsigned long long>(digit) << shift;
      prefix_mask |= 0xffull << shift;
    }
    __syncthreads();
  }
  return from_ordered_key(prefix);
}

// The sampling rule of vaestudio/models/pixelcnn.py on work[0 .. K) = the scaled
// logits s (float64), by the whole block; returns the code in every thread.
// work is overwritten (weights, then running sums).
__device__ int choose_code(double* work, int num_codes, int top_k, double uniform) {
  __shared__ double double_scratch[32];
  __shared__ int int_scratch[32];
  __shared__ double shared_total;
  __shared__ int shared_last_positive;
  // 2. top-k: drop every s below the top_k-th largest (ties with it are kept).
  if (top_k > 0 && top_k < num_codes) {
    const double threshold = kth_largest(work, num_codes, top_k);
    for (int code = threadIdx.x; code < num_codes; code += blockDim.x) {
      if (work[code] < threshold) work[code] = -INFINITY;
    }
    __syncthreads();
  }
  // 3. w = exp(s - max s).
  double maximum = -INFINITY;
  for (int code = threadIdx.x; code < num_codes; code += blockDim.x) maximum = fmax(maximum, work[code]);
  maximum = block_max(maximum, double_scratch);
  for (int code = threadIdx.x; code < num_codes; code += blockDim.x) work[code] = exp(work[code] - maximum);
  __syncthreads();
  // 4. The running sums, sequentially in index order by one thread (the rule's
  // float64 rounding), and the last positive weight.
  if (threadIdx.x == 0) {
    double total = 0.0;
    int last_positive = num_codes - 1;
    for (int code = 0; code < num_codes; ++code) {
      const double weight = work[code];
      if (weight > 0.0) last_positive = code;
      total += weight;
      work[code] = total;
    }
    shared_total = total;
    shared_last_positive = last_positive;
  }
  __syncthreads();
  // 5. The first running sum above u * total, else the last positive weight.
  const double target = uniform * shared_total;
  int first = num_codes;
  for (int code = threadIdx.x; code < num_codes; code += blockDim.x) {
    if (work[code] > target) {
      first = code;
      break;  // this thread's codes increase: its first hit is its smallest
    }
  }
  first = block_min(first, int_scratch);
  return first < num_codes ? first : shared_last_positive;
}

// One position (row, column) for sample blockIdx.x: the horizontal stack of all
// layers, then (if the position is resampled) the head and the sampling rule, then
// the embedding of the position's code into the embedded ring.
template <typename scalar_t>
__global__ void __launch_bounds__(kPositionThreads)
    sample_position_kernel(const PositionArguments<scalar_t> args, int row, int column) {
  extern __shared__ __align__(16) unsigned char dynamic_shared[];
  __shared__ int64_t chosen_code;
  const int sample = blockIdx.x;
  const int map = sample % args.maps;  // the code map this internal sample draws for
  const int channels = args.channels, double_channels = 2 * args.channels, pad = args.pad;
  const int num_codes = args.num_codes, head_channels = args.head_channels;
  const int64_t plane = static_cast<int64_t>(args.height) * args.width;
  const int64_t position = static_cast<int64_t>(row) * args.width + column;
  const int64_t horizontal_row_size = static_cast<int64_t>(args.width + pad) * channels;  // (W + p, C)
  const int ring_rows = pad + 1;

  double* work = args.work_in_shared ? reinterpret_cast<double*>(dynamic_shared)
                                     : args.global_work + static_cast<int64_t>(sample) * num_codes;
  scalar_t* taps = reinterpret_cast<scalar_t*>(
      dynamic_shared + (args.work_in_shared ? static_cast<size_t>(num_codes) * sizeof(double) : 0));
  scalar_t* pre = taps + static_cast<int64_t>(pad + 1) * channels;  // (2C)
  scalar_t* gated = pre + double_channels;                          // (C)
  scalar_t* head_input = gated + channels;                          // (C)
  scalar_t* hidden = head_input + channels;                         // (Hd)

  // This sample's embedded ring row of `row`: (W + 2p, C), padded column q = column q - p.
  scalar_t* embedded_row = args.embedded_ring +
                           (static_cast<int64_t>(sample) * ring_rows + row % ring_rows) * (args.width + 2 * pad) * channels;

  for (int layer = 0; layer < args.num_layers; ++layer) {
    // The kept horizontal taps: kernel columns t = 0 .. taps - 1 read padded columns
    // column + t of the layer's input row (layer 0: the embedded row, left of the
    // position; later: h of the layer below, up to and including the position).
    const int num_taps = layer == 0 ? pad : pad + 1;
    const scalar_t* source =
        layer == 0 ? embedded_row + static_cast<int64_t>(column) * channels
                   : args.horizontal_rows + (static_cast<int64_t>(layer - 1) * args.batch + sample) * horizontal_row_size +
                         static_cast<int64_t>(column) * channels;
    for (int index = threadIdx.x; index < num_taps * channels; index += blockDim.x) taps[index] = source[index];
    __syncthreads();

    // pre = link row (offsets + link(v_pre)) + sum over taps of W_horizontal^T taps.
    const scalar_t* link = args.link_rows + ((static_cast<int64_t>(layer) * args.batch + sample) * args.width + column) *
                                                double_channels;
    const scalar_t* weights = args.horizontal_weights + static_cast<int64_t>(layer) * (pad + 1) * channels * double_channels;
    for (int out = threadIdx.x; out < double_channels; out += blockDim.x) {
      scalar_t accumulator = scalar_t(0);
      for (int index = 0; index < num_taps * channels; ++index) {
        accumulator = fma(taps[index], weights[static_cast<int64_t>(index) * double_channels + out], accumulator);
      }
      pre[out] = link[out] + accumulator;
    }
    __syncthreads();
    for (int channel = threadIdx.x; channel < channels; channel += blockDim.x) {
      gated[channel] = gate(pre[channel], pre[channels + channel]);
    }
    __syncthreads();

    // h = (h of the layer below, from layer 1 on) + output(gated) + output bias, at padded column column + p.
    scalar_t* h_out = args.horizontal_rows + (static_cast<int64_t>(layer) * args.batch + sample) * horizontal_row_size +
                      static_cast<int64_t>(column + pad) * channels;
    const scalar_t* h_below =  // layer - 1, same place (unused by layer 0)
        layer == 0 ? nullptr : h_out - static_cast<int64_t>(args.batch) * horizontal_row_size;
    const scalar_t* output_weights = args.output_weights + static_cast<int64_t>(layer) * channels * channels;
    const scalar_t* output_bias = args.output_biases + static_cast<int64_t>(layer) * channels;
    for (int out = threadIdx.x; out < channels; out += blockDim.x) {
      scalar_t accumulator = scalar_t(0);
      for (int in = 0; in < channels; ++in) {
        accumulator = fma(gated[in], output_weights[static_cast<int64_t>(in) * channels + out], accumulator);
      }
      const scalar_t update = accumulator + output_bias[out];
      h_out[out] = layer == 0 ? update : h_below[out] + update;
    }
    __syncthreads();  // h_out is the next layer's last tap
  }

  int64_t* code_slot = args.codes + map * plane + position;
  if (args.resample_mask[map * plane + position]) {  // the same branch for the whole block
    const scalar_t* top = args.horizontal_rows +
                          (static_cast<int64_t>(args.num_layers - 1) * args.batch + sample) * horizontal_row_size +
                          static_cast<int64_t>(column + pad) * channels;
    for (int channel = threadIdx.x; channel < channels; channel += blockDim.x) {
      head_input[channel] = top[channel] > scalar_t(0) ? top[channel] : scalar_t(0);
    }
    __syncthreads();
    for (int unit = threadIdx.x; unit < head_channels; unit += blockDim.x) {
      scalar_t accumulator = scalar_t(0);
      for (int channel = 0; channel < channels; ++channel) {
        accumulator = fma(head_input[channel], args.head_hidden_weight[static_cast<int64_t>(channel) * head_channels + unit],
                          accumulator);
      }
      const scalar_t value = accumulator + args.head_hidden_bias[unit];
      hidden[unit] = value > scalar_t(0) ? value : scalar_t(0);
    }
    __syncthreads();
    // 1. s = float64(logit) * (1 / temperature); guided: the logits go to choose_guided_kernel.
    scalar_t* guided = args.guided_logits == nullptr ? nullptr : args.guided_logits + static_cast<int64_t>(sample) * num_codes;
    for (int code = threadIdx.x; code < num_codes; code += blockDim.x) {
      scalar_t accumulator = scalar_t(0);
      for (int unit = 0; unit < head_channels; ++unit) {
        accumulator = fma(hidden[unit], args.head_output_weight[static_cast<int64_t>(unit) * num_codes + code], accumulator);
      }
      const scalar_t logit = accumulator + args.head_output_bias[code];
      if (guided != nullptr) {
        guided[code] = logit;
      } else {
        work[code] = static_cast<double>(logit) * args.inverse_temperature;
      }
    }
    if (guided != nullptr) return;  // the whole block: choose_guided_kernel draws and embeds
    __syncthreads();
    const int code = choose_code(work, num_codes, args.top_k, args.uniforms[map * plane + position]);
    if (threadIdx.x == 0) {
      *code_slot = code;
      chosen_code = code;
    }
  } else if (threadIdx.x == 0) {
    chosen_code = *code_slot;  // kept fixed code (checked to lie in [0, K) by the wrapper)
  }
  __syncthreads();
  const scalar_t* embedding_row = args.embedding + chosen_code * channels;
  scalar_t* ring_target = embedded_row + static_cast<int64_t>(column + pad) * channels;
  for (int channel = threadIdx.x; channel < channels; channel += blockDim.x) ring_target[channel] = embedding_row[channel];
}

// Guided sampling, after sample_position_kernel at (row, column): block m mixes the logits of
// internal samples m (conditioned) and B + m (negative), draws the code of map m, and embeds
// it into both samples' rings. Dynamic shared memory: K doubles when work_in_shared.
template <typename scalar_t>
__global__ void __launch_bounds__(kPositionThreads)
    choose_guided_kernel(const PositionArguments<scalar_t> args, int row, int column) {
  extern __shared__ __align__(16) unsigned char dynamic_shared[];
  const int map = blockIdx.x;
  const int64_t plane = static_cast<int64_t>(args.height) * args.width;
  const int64_t position = static_cast<int64_t>(row) * args.width + column;
  if (!args.resample_mask[map * plane + position]) return;  // sample_position_kernel embedded the fixed code
  const int num_codes = args.num_codes, channels = args.channels, pad = args.pad, ring_rows = pad + 1;
  double* work = args.work_in_shared ? reinterpret_cast<double*>(dynamic_shared)
                                     : args.global_work + static_cast<int64_t>(map) * num_codes;
  const scalar_t* conditioned = args.guided_logits + static_cast<int64_t>(map) * num_codes;
  const scalar_t* negative = args.guided_logits + static_cast<int64_t>(args.maps + map) * num_codes;
  for (int code = threadIdx.x; code < num_codes; code += blockDim.x) {
    const scalar_t logit = guided_logit(conditioned[code], negative[code], args.guidance_scale);
    work[code] = static_cast<double>(logit) * args.inverse_temperature;
  }
  __syncthreads();
  const int code = choose_code(work, num_codes, args.top_k, args.uniforms[map * plane + position]);
  if (threadIdx.x == 0) args.codes[map * plane + position] = code;
  const scalar_t* embedding_row = args.embedding + static_cast<int64_t>(code) * channels;
  for (int half = 0; half < 2; ++half) {
    const int64_t sample = map + static_cast<int64_t>(half) * args.maps;
    scalar_t* ring_target = args.embedded_ring +
                            ((sample * ring_rows + row % ring_rows) * (args.width + 2 * pad) + column + pad) * channels;
    for (int channel = threadIdx.x; channel < channels; channel += blockDim.x) ring_target[channel] = embedding_row[channel];
  }
}

// ---------------------------------------------------------------------------
// Launchers (all asynchronous on `stream`).
template <typename scalar_t>
cudaError_t launch_gather_vertical_taps(const scalar_t* ring, scalar_t* columns, int batch, int width, int channels,
                                        int pad, int kernel_size, int row, int kept_rows, int64_t columns_stride,
                                        cudaStream_t stream) {
  const int64_t total = static_cast<int64_t>(batch) * width * kept_rows * kernel_size * channels;
  if (total == 0) return cudaSuccess;
  gather_vertical_taps_kernel<scalar_t><<<blocks_for(total, kThreads), kThreads, 0, stream>>>(
      ring, columns, batch, width, channels, pad, pad + 1, kernel_size, row, kept_rows, columns_stride);
  return cudaGetLastError();
}

template <typename scalar_t>
cudaError_t launch_vertical_gate(const scalar_t* vertical_pre, scalar_t* ring, int batch, int width, int channels,
                                 int pad, int row, cudaStream_t stream) {
  const int64_t total = static_cast<int64_t>(batch) * width * channels;
  if (total == 0) return cudaSuccess;
  vertical_gate_kernel<scalar_t><<<blocks_for(total, kThreads), kThreads, 0, stream>>>(vertical_pre, ring, batch, width,
                                                                                       channels, pad, pad + 1, row);
  return cudaGetLastError();
}

// Raises the kernel's dynamic shared memory limit when needed (once per call is cheap).
template <typename scalar_t>
cudaError_t prepare_sample_position(size_t shared_bytes) {
  if (shared_bytes <= 48 * 1024) return cudaSuccess;
  const cudaError_t status = cudaFuncSetAttribute(
      sample_position_kernel<scalar_t>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared_bytes));
  if (status != cudaSuccess) return status;
  return cudaFuncSetAttribute(choose_guided_kernel<scalar_t>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(shared_bytes));
}

template <typename scalar_t>
cudaError_t launch_sample_position(const PositionArguments<scalar_t>& args, int row, int column, size_t shared_bytes,
                                   cudaStream_t stream) {
  sample_position_kernel<scalar_t><<<args.batch, kPositionThreads, shared_bytes, stream>>>(args, row, column);
  if (args.guided_logits == nullptr) return cudaGetLastError();
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) return status;
  choose_guided_kernel<scalar_t><<<args.maps, kPositionThreads, shared_bytes, stream>>>(args, row, column);
  return cudaGetLastError();
}

}  // namespace pixelcnn
}  // namespace cuda
}  // namespace vaestudio
