// code_stats and ema_update_ on the GPU, plain CUDA (no torch header; see common.cuh).
//
// code_stats(x, indices, K) -> counts (K,), sums (K, D), float32. Two variants:
//   * atomic (default): one warp per row of x adds the row into sums[indices[row]]
//     with float atomicAdd (lanes over features: coalesced reads, atomics on
//     consecutive addresses). counts are sums of 1.0f, exact below 2^24 per code,
//     so they are deterministic; the order of the float additions into sums is
//     not, so sums may differ run to run in the last bits.
//   * sorted (deterministic, used when torch.use_deterministic_algorithms(True)):
//     the caller stably sorts indices (cub radix sort via at::sort); each code's
//     rows are then one contiguous segment of the sorted order, found by binary
//     search, and summed by one thread per (code, feature) in ascending row
//     order, the CPU kernel's order. A code that owns most rows makes that
//     variant slow (one thread walks the whole segment), so it is opt-in.
//
// ema_update_: the reference's math, op by op, with each op's rounding:
//   cluster_size = cluster_size * decay (rounded) + (1 - decay) * counts   (one FMA, as ATen's add with alpha)
//   total        = sum(cluster_size)
//   smoothed_k   = (cluster_size_k + eps) / (total + K * eps) * total
//   embed_sum    = embed_sum * decay (rounded) + (1 - decay) * sums
//   codebook     = embed_sum / smoothed_k, unless total is not > 0 (then 0 / 0:
//                  the codebook is left unchanged, the EMA state still updated)
// in two kernels: a single-block kernel updates cluster_size and reduces the
// total in a fixed order (deterministic), then one fused elementwise kernel
// updates embed_sum and writes the codebook. The state (cluster_size,
// embed_sum) computes in its opmath type and rounds to its storage type after
// every op, as PyTorch does for half and bfloat16 tensors.
#pragma once

#include "common.cuh"

namespace vaestudio {
namespace cuda {
namespace codebook {

constexpr int kThreads = 256;

// ---------------------------------------------------------------------------
// code_stats, atomic variant. counts and sums must be zeroed by the caller.
// Rows whose index lies outside [0, K) are skipped rather than written out of
// bounds (the wrapper and the Python layer reject them with a clear message first).
template <typename scalar_t>
__global__ void code_stats_atomic_kernel(const scalar_t* __restrict__ x, const int64_t* __restrict__ indices,
                                         int64_t num_rows, int64_t dim, int64_t num_codes, float* __restrict__ counts,
                                         float* __restrict__ sums) {
  const int lane = threadIdx.x & 31;
  const int64_t warps_per_grid = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  for (int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; row < num_rows;
       row += warps_per_grid) {
    const int64_t code = indices[row];
    if (code < 0 || code >= num_codes) continue;
    const scalar_t* x_row = x + row * dim;
    float* sums_row = sums + code * dim;
    for (int64_t feature = lane; feature < dim; feature += 32) atomicAdd(&sums_row[feature], to_float(x_row[feature]));
    if (lane == 0) atomicAdd(&counts[code], 1.f);
  }
}

// ---------------------------------------------------------------------------
// code_stats, sorted variant. sorted_codes (N,) are the indices sorted stably
// ascending and order (N,) the rows they came from. segment_start (K + 1,)
// receives, for every code k, the first position p with sorted_codes[p] >= k,
// so code k's rows are order[segment_start[k] .. segment_start[k + 1]).
__global__ void segment_starts_kernel(const int64_t* __restrict__ sorted_codes, int64_t num_rows, int64_t num_codes,
                                      int64_t* __restrict__ segment_start) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t code = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; code <= num_codes;
       code += stride) {
    int64_t low = 0, high = num_rows;  // lower_bound over [low, high)
    while (low < high) {
      const int64_t middle = low + (high - low) / 2;
      if (sorted_codes[middle] < code) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    segment_start[code] = low;
  }
}

// One thread per (code, feature): grid (ceil(D / 32) feature groups, codes),
// 32 threads along features, so a warp reads 32 consecutive features of one
// row of x per step. Rows are added in ascending row order (the sort is
// stable), hence a deterministic result. counts and sums are fully written.
template <typename scalar_t>
__global__ void code_stats_sorted_kernel(const scalar_t* __restrict__ x, const int64_t* __restrict__ order,
                                         const int64_t* __restrict__ segment_start, int64_t dim, int64_t num_codes,
                                         float* __restrict__ counts, float* __restrict__ sums) {
  const int64_t feature = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t code = blockIdx.y; code < num_codes; code += gridDim.y) {
    const int64_t begin = segment_start[code];
    const int64_t end = segment_start[code + 1];
    if (blockIdx.x == 0 && threadIdx.x == 0) counts[code] = static_cast<float>(end - begin);
    if (feature >= dim) continue;
    float total = 0.f;
    for (int64_t position = begin; position < end; ++position) total += to_float(x[order[position] * dim + feature]);
    sums[code * dim + feature] = total;
  }
}

// ---------------------------------------------------------------------------
// ema_update_, step 1 (one block): cluster_size <- EMA, total <- sum(cluster_size)
// rounded to the state type, stored as opmath in *total_out.
template <typename state_t>
__global__ void ema_cluster_size_kernel(state_t* __restrict__ cluster_size, const state_t* __restrict__ counts,
                                        int64_t num_codes, double decay, double one_minus_decay,
                                        opmath_t<state_t>* __restrict__ total_out) {
  using acc_t = opmath_t<state_t>;
  __shared__ acc_t warp_totals[32];
  const acc_t decay_value = static_cast<acc_t>(decay);
  const acc_t weight = static_cast<acc_t>(one_minus_decay);  // Python computes 1 - decay in double
  acc_t partial = 0;
  for (int64_t code = threadIdx.x; code < num_codes; code += blockDim.x) {
    const acc_t decayed = round_to_storage<state_t>(exact_mul(to_opmath(cluster_size[code]), decay_value));
    const state_t updated = from_opmath<state_t>(exact_fma(weight, to_opmath(counts[code]), decayed));
    cluster_size[code] = updated;
    partial += to_opmath(updated);
  }
  // Fixed-shape tree: warps, then the first warp over the warp totals.
  partial = warp_sum(partial);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  if (lane == 0) warp_totals[warp] = partial;
  __syncthreads();
  if (warp == 0) {
    const int num_warps = (blockDim.x + 31) >> 5;
    acc_t value = lane < num_warps ? warp_totals[lane] : acc_t(0);
    value = warp_sum(value);
    if (lane == 0) *total_out = round_to_storage<state_t>(value);
  }
}

// ema_update_, step 2 (elementwise over K x D): embed_sum <- EMA, codebook <-
// embed_sum / smoothed cluster size, smoothed as in the reference:
//   smoothed_k = (cluster_size_k + eps) / (total + K * eps) * total,
// where K * eps is computed in double on the host (as Python does).
template <typename state_t, typename code_t>
__global__ void ema_codebook_kernel(code_t* __restrict__ codebook, const state_t* __restrict__ cluster_size,
                                    state_t* __restrict__ embed_sum, const state_t* __restrict__ sums,
                                    int64_t num_codes, int64_t dim, double decay, double one_minus_decay, double eps,
                                    double num_codes_times_eps, const opmath_t<state_t>* __restrict__ total_in) {
  using acc_t = opmath_t<state_t>;
  const acc_t decay_value = static_cast<acc_t>(decay);
  const acc_t weight = static_cast<acc_t>(one_minus_decay);
  const acc_t total = *total_in;
  const acc_t denominator = round_to_storage<state_t>(exact_add(total, static_cast<acc_t>(num_codes_times_eps)));
  const int64_t num_elements = num_codes * dim;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t element = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; element < num_elements;
       element += stride) {
    const int64_t code = element / dim;  // row-major (K, D): element = code * D + feature
    const acc_t decayed = round_to_storage<state_t>(exact_mul(to_opmath(embed_sum[element]), decay_value));
    const state_t updated = from_opmath<state_t>(exact_fma(weight, to_opmath(sums[element]), decayed));
    embed_sum[element] = updated;
    if (!(total > acc_t(0))) continue;  // the reference leaves the codebook as it is
    acc_t smoothed = round_to_storage<state_t>(exact_add(to_opmath(cluster_size[code]), static_cast<acc_t>(eps)));
    smoothed = round_to_storage<state_t>(exact_div(smoothed, denominator));
    smoothed = round_to_storage<state_t>(exact_mul(smoothed, total));
    const acc_t value = round_to_storage<state_t>(exact_div(to_opmath(updated), smoothed));
    codebook[element] = from_opmath<code_t>(value);
  }
}

// ---------------------------------------------------------------------------
// Launchers. All work is queued on `stream`; nothing synchronises.

// counts (K,) and sums (K, D) must be zero on entry.
template <typename scalar_t>
cudaError_t launch_code_stats_atomic(const scalar_t* x, const int64_t* indices, int64_t num_rows, int64_t dim,
                                     int64_t num_codes, float* counts, float* sums, cudaStream_t stream) {
  if (num_rows == 0) return cudaSuccess;
  code_stats_atomic_kernel<scalar_t><<<blocks_for(num_rows * 32, kThreads), kThreads, 0, stream>>>(
      x, indices, num_rows, dim, num_codes, counts, sums);
  return cudaGetLastError();
}

// sorted_codes and order: the stable ascending sort of indices; segment_start: K + 1 int64 of workspace.
template <typename scalar_t>
cudaError_t launch_code_stats_sorted(const scalar_t* x, const int64_t* sorted_codes, const int64_t* order,
                                     int64_t num_rows, int64_t dim, int64_t num_codes, int64_t* segment_start,
                                     float* counts, float* sums, cudaStream_t stream) {
  segment_starts_kernel<<<blocks_for(num_codes + 1, kThreads), kThreads, 0, stream>>>(sorted_codes, num_rows,
                                                                                      num_codes, segment_start);
  const unsigned int feature_groups = static_cast<unsigned int>(dim > 0 ? (dim + 31) / 32 : 1);
  const unsigned int code_blocks = static_cast<unsigned int>(num_codes < 65535 ? num_codes : 65535);
  code_stats_sorted_kernel<scalar_t><<<dim3(feature_groups, code_blocks), 32, 0, stream>>>(
      x, order, segment_start, dim, num_codes, counts, sums);
  return cudaGetLastError();
}

// counts and sums already in the state type; total_workspace: one opmath value.
template <typename state_t, typename code_t>
cudaError_t launch_ema_update(code_t* codebook, state_t* cluster_size, state_t* embed_sum, const state_t* counts,
                              const state_t* sums, int64_t num_codes, int64_t dim, double decay, double eps,
                              opmath_t<state_t>* total_workspace, cudaStream_t stream) {
  const double one_minus_decay = 1.0 - decay;
  const double num_codes_times_eps = static_cast<double>(num_codes) * eps;
  ema_cluster_size_kernel<state_t><<<1, 1024, 0, stream>>>(cluster_size, counts, num_codes, decay, one_minus_decay,
                                                          total_workspace);
  if (num_codes * dim > 0) {
    ema_codebook_kernel<state_t, code_t><<<blocks_for(num_codes * dim, kThreads), kThreads, 0, stream>>>(
        codebook, cluster_size, embed_sum, sums, num_codes, dim, decay, one_minus_decay, eps, num_codes_times_eps,
        total_workspace);
  }
  return cudaGetLastError();
}

}  // namespace codebook
}  // namespace cuda
}  // namespace vaestudio
