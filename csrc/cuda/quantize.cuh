// nearest_code on the GPU, plain CUDA (no torch header; see common.cuh).
//
// For every row x_n of x (N, D) find argmin_k ||x_n - c_k||^2 over the rows c_k
// of the codebook (K, D), ties to the lowest k, without ever materialising the
// N x K distance matrix. ||x_n||^2 is the same for every k, so the search
// minimises  score(n, k) = ||c_k||^2 - 2 <x_n, c_k>  and the exact squared
// distance of the chosen code is computed afterwards in a tiny second pass.
//
// Passes (all on one stream, launched by launch_nearest_code):
//   1. code_norms_kernel      ||c_k||^2 in opmath, one warp per code      (K floats of workspace)
//   2. cudaMemsetAsync        packed[n] = UINT64_MAX                       (in the int64 indices output)
//   3. nearest_code_kernel    SGEMM-shaped tiles of x rows x codebook rows, fp32 FMAs with
//                             8 x 8 register blocking, running (min, argmin) per row kept in
//                             registers, merged across threads by shuffles and across code
//                             splits by a 64-bit atomicMin on (ordered score bits, index)
//   4. finalize_kernel        unpacks the index in place, sqdist[n] = sum_d (x_nd - c_kd)^2 in opmath
//
// fp16 / bf16 inputs are converted to fp32 when tiles are loaded, so they share
// the fp32 inner loop. float64 stays float64, as in the reference and the CPU
// kernel: it takes a simpler shared-memory kernel (nearest_code_double_kernel,
// one thread per row, scores in double; fp64 is a correctness path, not a
// fast one) with the same passes 1, 2 and 4.
//
// Tensor cores are not used: a TF32 or bf16 candidate search would need an
// exact fp32 re-check of every row whose best and second-best scores lie
// within the TF32 error bound, and the exact fp32 path is the contract's
// default. The kernel is laid out so such a pass could replace step 3 and
// reuse steps 1, 2 and 4.
#pragma once

#include <type_traits>

#include "common.cuh"

namespace vaestudio {
namespace cuda {
namespace quantize {

// Tile shape of nearest_code_kernel: a block owns kBlockRows rows of x and walks
// over the codebook kBlockCodes codes at a time, kTileDepth features at a time.
constexpr int kBlockRows = 128;
constexpr int kBlockCodes = 128;
constexpr int kTileDepth = 16;
constexpr int kThreads = 256;        // a 16 x 16 grid of threads ...
constexpr int kThreadRows = 8;       // ... each owning 8 rows ...
constexpr int kThreadCodes = 8;      // ... times 8 codes of the 128 x 128 tile
constexpr int kSharedPad = 4;        // keeps float4 alignment and spreads the transposed stores over banks
constexpr int kSharedStride = kBlockRows + kSharedPad;  // == kBlockCodes + kSharedPad
static_assert(kBlockRows == kBlockCodes, "one shared stride for both tiles");
static_assert(kThreads == 2 * kBlockRows && kTileDepth == 16, "the loader: two threads per tile row, 8 features each");

// Maps a float to a uint32 whose unsigned order is the float order (-0.0 is
// folded onto +0.0 so that equal scores compare equal), and packs it above the
// code index: the minimum packed value is the minimum score with ties to the
// lowest index, whichever order blocks finish in.
__device__ __forceinline__ unsigned long long pack_score(float score, int code) {
  unsigned int bits = __float_as_uint(score);
  if (bits == 0x80000000u) bits = 0u;                               // -0.0 -> +0.0
  bits = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);       // negative: flip all; positive: set sign
  return (static_cast<unsigned long long>(bits) << 32) | static_cast<unsigned int>(code);
}

// (score, code) < (other_score, other_code) lexicographically.
__device__ __forceinline__ bool better(float score, int code, float other_score, int other_code) {
  return score < other_score || (score == other_score && code < other_code);
}

// ---------------------------------------------------------------------------
// Pass 1: ||c_k||^2 in opmath (fp32, or fp64 for double), one warp per code
// (lanes stride over features).
template <typename scalar_t>
__global__ void code_norms_kernel(const scalar_t* __restrict__ codebook, int64_t num_codes, int64_t dim,
                                  opmath_t<scalar_t>* __restrict__ code_norms) {
  using acc_t = opmath_t<scalar_t>;
  const int lane = threadIdx.x & 31;
  const int64_t warps_per_grid = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  for (int64_t code = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; code < num_codes;
       code += warps_per_grid) {
    const scalar_t* row = codebook + code * dim;
    acc_t partial = 0;
    for (int64_t feature = lane; feature < dim; feature += 32) {
      const acc_t value = to_opmath(row[feature]);
      partial = fma(value, value, partial);
    }
    partial = warp_sum(partial);
    if (lane == 0) code_norms[code] = partial;
  }
}

// ---------------------------------------------------------------------------
// Pass 3: the tiled search.
//
// Grid: blockIdx.x = row block (rows [128 * blockIdx.x, +128)), blockIdx.y = code
// split (code tiles [first_tile, first_tile + tiles_per_split)). Thread t is at
// (thread_row, thread_code) = (t / 16, t % 16) of a 16 x 16 grid and owns
//   rows  thread_row * 4 + {0..3}  and  64 + thread_row * 4 + {0..3}  of the row block,
//   codes thread_code * 4 + {0..3} and  64 + thread_code * 4 + {0..3} of each code tile,
// so its 8 rows (and 8 codes) are two float4 reads from shared memory per depth
// step, and a warp (two thread_rows, sixteen thread_codes) reads 2 broadcast and
// 16 consecutive float4: no bank conflicts in the inner loop.
//
// Shared tiles are stored transposed, [depth][row] and [depth][code], so that
// the inner loop walks depth with contiguous rows. They are double buffered:
// the global loads of step s + 1 go to registers while step s is computed, and
// one __syncthreads per step separates the reads of a buffer from its refill.
//
// The steps of a block are all (code tile, depth chunk) pairs of its split in
// one flattened loop, so the prefetch crosses code-tile boundaries too; after the
// last depth chunk of a code tile the 8 x 8 dot products become scores that
// update the thread's running (min, argmin) of its 8 rows.
//
// Registers: with two resident blocks per SM (__launch_bounds__(256, 2): at most
// 128 registers) ptxas 13.0 reports a 24-32 byte spill for sm_90; with one block
// it needs 155 registers and no spill. Two blocks hide the per-step barrier
// better; which is faster on an H100 is to be measured (bench_nearest_code).
template <typename scalar_t>
__global__ void __launch_bounds__(kThreads, 2)
    nearest_code_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ codebook,
                        const float* __restrict__ code_norms, int64_t num_rows, int num_codes, int dim,
                        int tiles_per_split, unsigned long long* __restrict__ packed) {
  __shared__ __align__(16) float row_tile[2][kTileDepth][kSharedStride];
  __shared__ __align__(16) float code_tile[2][kTileDepth][kSharedStride];
  // The running argmin of each thread's 8 rows lives in shared memory (written
  // only when a row improves, read once at the end) and the running minimum in
  // registers: this keeps the kernel within 128 registers without spills.
  __shared__ int best_code[kThreadRows][kThreads];

  const int thread_index = threadIdx.x;
  const int thread_row = thread_index / 16;
  const int thread_code = thread_index % 16;
  const int64_t row_base = static_cast<int64_t>(blockIdx.x) * kBlockRows;

  const int num_code_tiles = (num_codes + kBlockCodes - 1) / kBlockCodes;
  const int first_tile = blockIdx.y * tiles_per_split;
  const int last_tile = min(first_tile + tiles_per_split, num_code_tiles);  // exclusive
  if (first_tile >= last_tile) return;
  const int depth_chunks = max(1, (dim + kTileDepth - 1) / kTileDepth);  // D = 0 still scores every code
  const int num_steps = (last_tile - first_tile) * depth_chunks;

  // Loader mapping: thread t loads 8 consecutive features, [8 * (t % 2), +8) of
  // the depth chunk, of tile row t / 2 (0..127), for both tiles. Out-of-range
  // rows and codes are clamped to the last valid one (their values are loaded
  // but never scored or written), out-of-range features load 0 so that they
  // add nothing to a dot product.
  const int load_row = thread_index / 2;
  const int load_depth = (thread_index % 2) * 8;
  const scalar_t* x_load =
      x + (row_base + load_row < num_rows ? row_base + load_row : num_rows - 1) * static_cast<int64_t>(dim);
  float row_stage[8];
  float code_stage[8];

  auto load_step = [&](int step) {
    const int code_tile_index = first_tile + step / depth_chunks;
    const int feature = (step % depth_chunks) * kTileDepth + load_depth;
    const int64_t code = static_cast<int64_t>(code_tile_index) * kBlockCodes + load_row;
    const scalar_t* code_load = codebook + (code < num_codes ? code : num_codes - 1) * static_cast<int64_t>(dim);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const bool feature_ok = feature + i < dim;
      row_stage[i] = feature_ok ? to_float(x_load[feature + i]) : 0.f;
      code_stage[i] = feature_ok ? to_float(code_load[feature + i]) : 0.f;
    }
  };
  // Transposed stores ([depth][row]); the two threads of a row pair hit the same
  // bank at most (a 2-way conflict, once per step, off the inner loop).
  auto store_step = [&](int buffer) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      row_tile[buffer][load_depth + i][load_row] = row_stage[i];
      code_tile[buffer][load_depth + i][load_row] = code_stage[i];
    }
  };

  float accumulator[kThreadRows][kThreadCodes];
  float best_score[kThreadRows];
#pragma unroll
  for (int i = 0; i < kThreadRows; ++i) {
    best_score[i] = __int_as_float(0x7f800000);  // +inf
    best_code[i][thread_index] = 0x7fffffff;
#pragma unroll
    for (int j = 0; j < kThreadCodes; ++j) accumulator[i][j] = 0.f;
  }

  load_step(0);
  store_step(0);
  __syncthreads();

  for (int step = 0; step < num_steps; ++step) {
    const int buffer = step & 1;
    const bool has_next = step + 1 < num_steps;
    if (has_next) load_step(step + 1);  // global -> registers, overlapped with the FMAs below

#pragma unroll
    for (int depth = 0; depth < kTileDepth; ++depth) {
      const float4 rows_low = *reinterpret_cast<const float4*>(&row_tile[buffer][depth][thread_row * 4]);
      const float4 rows_high = *reinterpret_cast<const float4*>(&row_tile[buffer][depth][64 + thread_row * 4]);
      const float4 codes_low = *reinterpret_cast<const float4*>(&code_tile[buffer][depth][thread_code * 4]);
      const float4 codes_high = *reinterpret_cast<const float4*>(&code_tile[buffer][depth][64 + thread_code * 4]);
      const float row_values[8] = {rows_low.x,  rows_low.y,  rows_low.z,  rows_low.w,
                                   rows_high.x, rows_high.y, rows_high.z, rows_high.w};
      const float code_values[8] = {codes_low.x,  codes_low.y,  codes_low.z,  codes_low.w,
                                    codes_high.x, codes_high.y, codes_high.z, codes_high.w};
#pragma unroll
      for (int i = 0; i < kThreadRows; ++i) {
#pragma unroll
        for (int j = 0; j < kThreadCodes; ++j) accumulator[i][j] = fmaf(row_values[i], code_values[j], accumulator[i][j]);
      }
    }

    if (has_next) store_step(buffer ^ 1);  // the other buffer was last read in step - 1, before the last sync

    if ((step + 1) % depth_chunks == 0) {
      // Last depth chunk of this code tile: score its 8 codes for the 8 rows, in
      // increasing code order, so a strict '<' keeps the lowest index on ties.
      const int code_base = (first_tile + step / depth_chunks) * kBlockCodes;
#pragma unroll
      for (int j = 0; j < kThreadCodes; ++j) {
        const int code = code_base + (j < 4 ? thread_code * 4 + j : 64 + thread_code * 4 + (j - 4));
        const bool code_ok = code < num_codes;
        const float norm = code_ok ? code_norms[code] : 0.f;
#pragma unroll
        for (int i = 0; i < kThreadRows; ++i) {
          const float score = fmaf(-2.f, accumulator[i][j], norm);
          if (code_ok && score < best_score[i]) {
            best_score[i] = score;
            best_code[i][thread_index] = code;
          }
          accumulator[i][j] = 0.f;
        }
      }
    }
    __syncthreads();
  }

  // Merge the 16 threads that share rows (16 consecutive lanes: thread_code =
  // lane % 16), then one atomicMin per row and block merges the code splits.
#pragma unroll
  for (int i = 0; i < kThreadRows; ++i) {
    float score = best_score[i];
    int code = best_code[i][thread_index];
#pragma unroll
    for (int offset = 8; offset > 0; offset >>= 1) {
      const float other_score = __shfl_xor_sync(0xffffffffu, score, offset);
      const int other_code = __shfl_xor_sync(0xffffffffu, code, offset);
      if (better(other_score, other_code, score, code)) {
        score = other_score;
        code = other_code;
      }
    }
    const int64_t row = row_base + (i < 4 ? thread_row * 4 + i : 64 + thread_row * 4 + (i - 4));
    if (thread_code == 0 && row < num_rows && code < num_codes) atomicMin(&packed[row], pack_score(score, code));
  }
}

// ---------------------------------------------------------------------------
// Pass 3 for float64: one thread per row (128 rows per block), codebook tiles of
// 32 codes x 32 features staged in shared memory (every thread reads the same
// element: a broadcast), 32 running dot products per thread in registers. The
// codes of a tile are scored in increasing order with a strict '<', so ties go
// to the lowest index; the winner is written as a plain index (the low 32 bits
// that finalize_kernel unpacks).
constexpr int kDoubleRows = 128;
constexpr int kDoubleCodes = 32;
constexpr int kDoubleDepth = 32;
static_assert(kDoubleRows == kBlockRows, "the launcher sizes both grids with kBlockRows");

__global__ void __launch_bounds__(kDoubleRows)
    nearest_code_double_kernel(const double* __restrict__ x, const double* __restrict__ codebook,
                               const double* __restrict__ code_norms, int64_t num_rows, int num_codes, int dim,
                               unsigned long long* __restrict__ packed) {
  __shared__ double code_tile[kDoubleCodes][kDoubleDepth + 1];  // +1: the cooperative stores spread over banks
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kDoubleRows + threadIdx.x;
  const double* x_row = x + (row < num_rows ? row : num_rows - 1) * static_cast<int64_t>(dim);
  double best_score = __longlong_as_double(0x7ff0000000000000LL);  // +inf
  int best_code = 0;
  for (int code_base = 0; code_base < num_codes; code_base += kDoubleCodes) {
    double dot[kDoubleCodes];
#pragma unroll
    for (int j = 0; j < kDoubleCodes; ++j) dot[j] = 0.0;
    for (int feature_base = 0; feature_base < dim; feature_base += kDoubleDepth) {
      // 128 threads fill the 32 x 32 tile, 8 elements each: element e = threadIdx.x + 128 * i
      // is (code e / 32, feature e % 32), so a warp reads 32 consecutive features of one code.
      for (int element = threadIdx.x; element < kDoubleCodes * kDoubleDepth; element += kDoubleRows) {
        const int tile_code = element / kDoubleDepth;
        const int tile_feature = element % kDoubleDepth;
        const int code = code_base + tile_code;
        const int feature = feature_base + tile_feature;
        code_tile[tile_code][tile_feature] =
            (code < num_codes && feature < dim) ? codebook[static_cast<int64_t>(code) * dim + feature] : 0.0;
      }
      __syncthreads();
      const int depth = min(kDoubleDepth, dim - feature_base);
      for (int d = 0; d < depth; ++d) {
        const double value = x_row[feature_base + d];
#pragma unroll
        for (int j = 0; j < kDoubleCodes; ++j) dot[j] = fma(value, code_tile[j][d], dot[j]);
      }
      __syncthreads();
    }
#pragma unroll
    for (int j = 0; j < kDoubleCodes; ++j) {
      const int code = code_base + j;
      if (code < num_codes) {
        const double score = fma(-2.0, dot[j], code_norms[code]);
        if (score < best_score) {
          best_score = score;
          best_code = code;
        }
      }
    }
  }
  if (row < num_rows) packed[row] = static_cast<unsigned long long>(best_code);
}

// ---------------------------------------------------------------------------
// Pass 4: one warp per row: unpack the winning code (in place: packed and
// indices are the same int64 buffer) and compute its exact squared distance.
template <typename scalar_t>
__global__ void finalize_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ codebook,
                                int64_t num_rows, int64_t dim, int64_t num_codes,
                                unsigned long long* packed_then_indices, float* __restrict__ sqdist) {
  using acc_t = opmath_t<scalar_t>;
  const int lane = threadIdx.x & 31;
  const int64_t warps_per_grid = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  for (int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; row < num_rows;
       row += warps_per_grid) {
    int64_t code = static_cast<int64_t>(packed_then_indices[row] & 0xffffffffull);  // low 32 bits
    // Only a row whose every score overflowed to +inf (|values| near 1e19) keeps the initial
    // all-ones word; it gets code 0 rather than an out-of-bounds read.
    if (code >= num_codes) code = 0;
    const scalar_t* x_row = x + row * dim;
    const scalar_t* code_row = codebook + code * dim;
    acc_t partial = 0;
    for (int64_t feature = lane; feature < dim; feature += 32) {
      const acc_t difference = to_opmath(x_row[feature]) - to_opmath(code_row[feature]);
      partial = fma(difference, difference, partial);
    }
    partial = warp_sum(partial);  // also orders every lane's read of packed[row] before the write below
    __syncwarp();
    if (lane == 0) {
      reinterpret_cast<int64_t*>(packed_then_indices)[row] = code;
      sqdist[row] = static_cast<float>(partial);
    }
  }
}

// ---------------------------------------------------------------------------
// Number of code splits: enough blocks for about two resident blocks per SM in
// one wave when there are few rows (small N, large K), one split otherwise.
inline int code_splits_for(int64_t num_rows, int num_codes, int num_sms) {
  const int64_t row_blocks = (num_rows + kBlockRows - 1) / kBlockRows;
  const int num_code_tiles = (num_codes + kBlockCodes - 1) / kBlockCodes;
  const int64_t target_blocks = 2LL * (num_sms > 0 ? num_sms : 1);
  int64_t splits = (target_blocks + row_blocks - 1) / row_blocks;
  if (splits < 1) splits = 1;
  if (splits > num_code_tiles) splits = num_code_tiles;
  if (splits > 65535) splits = 65535;
  return static_cast<int>(splits);
}

// Runs passes 1-4 on `stream`. indices (N,) int64 and sqdist (N,) float are the
// outputs; code_norms is a K-element opmath workspace (float, or double for
// double inputs). Requires 1 <= K < 2^31 and 128 * D < 2^31 (the caller
// checks); N may be 0.
template <typename scalar_t>
cudaError_t launch_nearest_code(const scalar_t* x, const scalar_t* codebook, int64_t num_rows, int num_codes,
                                int dim, opmath_t<scalar_t>* code_norms, int64_t* indices, float* sqdist,
                                int num_sms, cudaStream_t stream) {
  if (num_rows == 0) return cudaSuccess;
  constexpr int kSmallBlock = 256;  // 8 warps, one code or row each
  code_norms_kernel<scalar_t><<<blocks_for(static_cast<int64_t>(num_codes) * 32, kSmallBlock), kSmallBlock, 0,
                                stream>>>(codebook, num_codes, dim, code_norms);
  unsigned long long* packed = reinterpret_cast<unsigned long long*>(indices);
  const unsigned int row_blocks = static_cast<unsigned int>((num_rows + kBlockRows - 1) / kBlockRows);
  if constexpr (std::is_same<scalar_t, double>::value) {
    nearest_code_double_kernel<<<row_blocks, kDoubleRows, 0, stream>>>(x, codebook, code_norms, num_rows, num_codes,
                                                                       dim, packed);
  } else {
    // The atomicMin merge starts from the largest packed value.
    cudaError_t status = cudaMemsetAsync(indices, 0xff, static_cast<size_t>(num_rows) * sizeof(int64_t), stream);
    if (status != cudaSuccess) return status;
    const int splits = code_splits_for(num_rows, num_codes, num_sms);
    const int num_code_tiles = (num_codes + kBlockCodes - 1) / kBlockCodes;
    const int tiles_per_split = (num_code_tiles + splits - 1) / splits;
    const int used_splits = (num_code_tiles + tiles_per_split - 1) / tiles_per_split;
    nearest_code_kernel<scalar_t><<<dim3(row_blocks, used_splits), kThreads, 0, stream>>>(
        x, codebook, code_norms, num_rows, num_codes, dim, tiles_per_split, packed);
  }
  finalize_kernel<scalar_t><<<blocks_for(num_rows * 32, kSmallBlock), kSmallBlock, 0, stream>>>(
      x, codebook, num_rows, dim, num_codes, packed, sqdist);
  return cudaGetLastError();
}

}  // namespace quantize
}  // namespace cuda
}  // namespace vaestudio
