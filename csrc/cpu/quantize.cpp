// CPU kernel of vaestudio::nearest_code: the nearest codebook row of every row of x.
//
// Distances use the squared-norm expansion ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2. The row term
// ||x||^2 does not change the argmin, so the kernel ranks codes by  0.5 ||c||^2 - x.c  and reports the
// exact squared distance of the chosen code afterwards. The scores are never stored: a register-blocked
// micro-kernel computes a panel of ROWS rows x BLOCK codes of dot products in vector registers and folds
// them at once into a running per-row, per-lane minimum. Extra memory is a packed copy of the codebook
// (K x D, as large as the codebook itself) and a few tens of kilobytes per thread: never N x K.
//
// Loop nest of one task (a chunk of at most CHUNK_ROWS rows of x):
//   for each tile of codes (sized to stay in L2)
//     for each panel of ROWS rows of the chunk
//       for each block of BLOCK codes of the tile: micro-kernel (dot products + running minimum)
// Tasks run in parallel over N with at::parallel_for. Ties go to the lowest index: every vector lane
// sees its codes in increasing order and keeps a strictly smaller score only, and the final
// reduction across lanes prefers the lower index among equal scores.
//
// fp16 / bf16 inputs are converted to fp32 (one chunk of rows at a time); float64 stays float64.
// On CPUs with AVX512-BF16, fp32 / fp16 / bf16 calls with enough codes go to nearest_code_screen.h
// instead (a bf16 screen and an exact re-check: twice the arithmetic rate, the exact nearest code).
// The vectors are GCC/Clang vector extensions of 64 bytes: zmm registers on an AVX-512 machine
// (the JIT build's -march=native, or the x86-64-v4 clone of a generic build, see score_chunk);
// elsewhere the compiler splits them into narrower registers (correct, slower).
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "nearest_code_screen.h"

namespace vaestudio {
namespace {

#define VAESTUDIO_ALWAYS_INLINE inline __attribute__((always_inline))
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__AVX512F__)
#define VAESTUDIO_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VAESTUDIO_SIMD_CLONES
#endif

// One 64-byte vector of T and the matching integer vector for code indices (same lane count).
template <typename T>
struct Simd;
template <>
struct Simd<float> {
  typedef float vector __attribute__((vector_size(64)));
  typedef int32_t index;
  typedef int32_t index_vector __attribute__((vector_size(64)));
  static constexpr int lanes = 16;
};
template <>
struct Simd<double> {
  typedef double vector __attribute__((vector_size(64)));
  typedef int64_t index;
  typedef int64_t index_vector __attribute__((vector_size(64)));
  static constexpr int lanes = 8;
};

// Smaller codebooks go to the fp32 kernel: the screen's per-row work (rounding, norm, re-check) does not pay
// off there (screen over fp32 kernel on a 2-core Zen 4, D = 64: 0.97x at K = 512, 1.19x at 1024, 1.43x at
// 2048; D = 256, K = 512: 1.29x). fp16 / bf16 inputs are screened from a float copy of x (N x D x 4 bytes).
constexpr int64_t kScreenMinCodes = 64;
constexpr int64_t kScreenMinWork = 32 * 1024;  // K x D
constexpr int ROWS = 12;              // rows of x per micro-kernel panel (2 x ROWS accumulators)
constexpr int64_t CHUNK_ROWS = 240;   // rows of x per parallel task (a multiple of ROWS)
constexpr int64_t TILE_BYTES = 256 * 1024;  // codebook bytes per tile: stays in L2 across a chunk

// The codebook in blocks of BLOCK = 2 x lanes codes, each block stored d-major: values[block][d][j],
// so the micro-kernel loads two full vectors per feature. half_norms[k] = 0.5 ||c_k||^2, and +inf for
// the padding codes of the last block, which therefore never win.
template <typename T>
struct PackedCodebook {
  static constexpr int lanes = Simd<T>::lanes;
  static constexpr int block = 2 * lanes;
  int64_t num_codes = 0;
  int64_t dim = 0;
  int64_t num_blocks = 0;
  at::Tensor values;      // (num_blocks, D, BLOCK)
  at::Tensor half_norms;  // (num_blocks * BLOCK,)
  T* values_data = nullptr;
  T* half_norms_data = nullptr;

  const T* block_values(int64_t b) const { return values_data + b * dim * block; }
  const T* block_half_norms(int64_t b) const { return half_norms_data + b * block; }
  T at(int64_t code, int64_t d) const { return values_data[(code / block) * dim * block + d * block + code % block]; }
};

template <typename T, typename scalar_t>
PackedCodebook<T> pack_codebook(const at::Tensor& codebook) {
  PackedCodebook<T> packed;
  constexpr int block = PackedCodebook<T>::block;
  packed.num_codes = codebook.size(0);
  packed.dim = codebook.size(1);
  packed.num_blocks = (packed.num_codes + block - 1) / block;
  const auto options = codebook.options().dtype(c10::CppTypeToScalarType<T>::value);
  packed.values = at::zeros({packed.num_blocks, packed.dim, block}, options);  // (blocks, D, BLOCK)
  packed.half_norms = at::full({packed.num_blocks * block}, std::numeric_limits<T>::infinity(), options);
  const scalar_t* source = codebook.data_ptr<scalar_t>();
  const int64_t row_stride = codebook.stride(0), column_stride = codebook.stride(1);
  packed.values_data = packed.values.template data_ptr<T>();
  packed.half_norms_data = packed.half_norms.template data_ptr<T>();
  T* values = packed.values_data;
  T* half_norms = packed.half_norms_data;
  at::parallel_for(0, packed.num_codes, 256, [&](int64_t begin, int64_t end) {
    for (int64_t code = begin; code < end; ++code) {
      T* destination = values + (code / block) * packed.dim * block + code % block;
      T norm = 0;
      for (int64_t d = 0; d < packed.dim; ++d) {
        const T value = static_cast<T>(source[code * row_stride + d * column_stride]);
        destination[d * block] = value;
        norm += value * value;
      }
      half_norms[code] = T(0.5) * norm;
    }
  });
  return packed;
}

// Running minimum of one row: per lane, the best score so far and its code index.
template <typename T>
struct alignas(64) RowBest {  // explicit: a generic build may align 64-byte vector types less
  typename Simd<T>::vector score;
  typename Simd<T>::index_vector code;
};

// Dot products of ROW_COUNT rows (row stride = dim) with one block of codes, folded into best[].
template <typename T, int ROW_COUNT>
VAESTUDIO_ALWAYS_INLINE void score_block(const T* rows, int64_t dim, const T* block_values, const T* block_half_norms,
                        typename Simd<T>::index_vector first_codes, RowBest<T>* best) {
  using Vector = typename Simd<T>::vector;
  using IndexVector = typename Simd<T>::index_vector;
  constexpr int lanes = Simd<T>::lanes;
  Vector low[ROW_COUNT], high[ROW_COUNT];  // dot products with codes j and lanes + j of the block
#pragma GCC unroll 16
  for (int r = 0; r < ROW_COUNT; ++r) {
    low[r] = Vector{};
    high[r] = Vector{};
  }
  for (int64_t d = 0; d < dim; ++d) {
    const Vector codes_low = *reinterpret_cast<const Vector*>(block_values + d * 2 * lanes);
    const Vector codes_high = *reinterpret_cast<const Vector*>(block_values + d * 2 * lanes + lanes);
#pragma GCC unroll 16
    for (int r = 0; r < ROW_COUNT; ++r) {
      const T feature = rows[r * dim + d];
      low[r] += feature * codes_low;
      high[r] += feature * codes_high;
    }
  }
  const Vector norms_low = *reinterpret_cast<const Vector*>(block_half_norms);
  const Vector norms_high = *reinterpret_cast<const Vector*>(block_half_norms + lanes);
  const IndexVector codes_high = first_codes + lanes;
#pragma GCC unroll 16
  for (int r = 0; r < ROW_COUNT; ++r) {
    const Vector score_low = norms_low - low[r];    // 0.5 ||c||^2 - x.c
    const Vector score_high = norms_high - high[r];
    // Within a lane the low code comes first: the high one replaces it only when strictly better.
    const auto high_wins = score_high < score_low;
    const Vector block_score = high_wins ? score_high : score_low;
    const IndexVector block_code = high_wins ? codes_high : first_codes;
    const auto improves = block_score < best[r].score;
    best[r].score = improves ? block_score : best[r].score;
    best[r].code = improves ? block_code : best[r].code;
  }
}

template <typename T, int ROW_COUNT>
VAESTUDIO_ALWAYS_INLINE void score_tile(const T* rows, const PackedCodebook<T>& packed, int64_t first_block, int64_t end_block,
                RowBest<T>* best) {
  using IndexVector = typename Simd<T>::index_vector;
  constexpr int block = PackedCodebook<T>::block;
  IndexVector lane_codes;
  for (int j = 0; j < Simd<T>::lanes; ++j) lane_codes[j] = j;
  for (int64_t b = first_block; b < end_block; ++b) {
    const IndexVector first_codes = lane_codes + static_cast<typename Simd<T>::index>(b * block);
    score_block<T, ROW_COUNT>(rows, packed.dim, packed.block_values(b), packed.block_half_norms(b), first_codes,
                              best);
  }
}

// The rest of a chunk when its row count is not a multiple of ROWS.
template <typename T, int ROW_COUNT = ROWS - 1>
VAESTUDIO_ALWAYS_INLINE void score_tile_tail(int row_count, const T* rows, const PackedCodebook<T>& packed, int64_t first_block,
                     int64_t end_block, RowBest<T>* best) {
  if constexpr (ROW_COUNT > 0) {
    if (row_count == ROW_COUNT) {
      score_tile<T, ROW_COUNT>(rows, packed, first_block, end_block, best);
    } else {
      score_tile_tail<T, ROW_COUNT - 1>(row_count, rows, packed, first_block, end_block, best);
    }
  }
}

// All codes against one chunk of rows: best[r] ends with the running minimum of row r.
template <typename T>
VAESTUDIO_ALWAYS_INLINE void score_chunk_generic(const T* rows, int64_t row_count, const PackedCodebook<T>& packed,
                                       int64_t blocks_per_tile, RowBest<T>* best) {
  for (int64_t r = 0; r < row_count; ++r) {
    for (int j = 0; j < Simd<T>::lanes; ++j) {
      best[r].score[j] = std::numeric_limits<T>::infinity();
      best[r].code[j] = 0;
    }
  }
  const int64_t full_rows = row_count / ROWS * ROWS;
  for (int64_t tile = 0; tile < packed.num_blocks; tile += blocks_per_tile) {
    const int64_t tile_end = std::min(packed.num_blocks, tile + blocks_per_tile);
    for (int64_t r = 0; r < full_rows; r += ROWS) {
      score_tile<T, ROWS>(rows + r * packed.dim, packed, tile, tile_end, best + r);
    }
    score_tile_tail<T>(int(row_count - full_rows), rows + full_rows * packed.dim, packed, tile, tile_end,
                       best + full_rows);
  }
}

// The SIMD entry points. A build with AVX-512 enabled (the JIT build's -march=native) uses it as is;
// a generic x86-64 build (setup.py) gets clones for x86-64-v4 (AVX-512), v3 (AVX2) and the baseline,
// picked at load time by the CPU, so the prebuilt extension is fast without -march flags.
VAESTUDIO_SIMD_CLONES void score_chunk(const float* rows, int64_t row_count, const PackedCodebook<float>& packed,
                             int64_t blocks_per_tile, RowBest<float>* best) {
  score_chunk_generic(rows, row_count, packed, blocks_per_tile, best);
}
VAESTUDIO_SIMD_CLONES void score_chunk(const double* rows, int64_t row_count, const PackedCodebook<double>& packed,
                             int64_t blocks_per_tile, RowBest<double>* best) {
  score_chunk_generic(rows, row_count, packed, blocks_per_tile, best);
}

// Lowest score across lanes; among equal scores the lowest code.
template <typename T>
int64_t reduce_lanes(const RowBest<T>& best) {
  T score = best.score[0];
  int64_t code = best.code[0];
  for (int j = 1; j < Simd<T>::lanes; ++j) {
    const T lane_score = best.score[j];
    const int64_t lane_code = best.code[j];
    if (lane_score < score || (lane_score == score && lane_code < code)) {
      score = lane_score;
      code = lane_code;
    }
  }
  return code;
}

template <typename scalar_t>
void nearest_code_kernel(const at::Tensor& x, const at::Tensor& codebook, at::Tensor& indices, at::Tensor& sqdist) {
  using T = at::opmath_type<scalar_t>;  // float for fp16/bf16/fp32, double for fp64
  const PackedCodebook<T> packed = pack_codebook<T, scalar_t>(codebook);
  const int64_t num_rows = x.size(0), dim = x.size(1);
  const int64_t blocks_per_tile =
      std::max<int64_t>(1, TILE_BYTES / std::max<int64_t>(1, dim * PackedCodebook<T>::block * int64_t(sizeof(T))));
  // Chunks small enough that every thread gets work, a multiple of ROWS, at most CHUNK_ROWS.
  const int64_t per_thread = (num_rows + at::get_num_threads() - 1) / at::get_num_threads();
  const int64_t chunk_rows = std::clamp<int64_t>((per_thread + ROWS - 1) / ROWS * ROWS, ROWS, CHUNK_ROWS);
  const int64_t num_chunks = (num_rows + chunk_rows - 1) / chunk_rows;
  const bool direct = std::is_same_v<scalar_t, T> && x.stride(1) == 1 && x.stride(0) == dim;
  const scalar_t* x_data = x.data_ptr<scalar_t>();
  const int64_t row_stride = x.stride(0), column_stride = x.stride(1);
  int64_t* indices_data = indices.data_ptr<int64_t>();
  float* sqdist_data = sqdist.data_ptr<float>();

  at::parallel_for(0, num_chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    std::vector<T> converted(direct ? 0 : chunk_rows * dim);  // (chunk_rows, D) rows of x as T
    std::vector<RowBest<T>> best(chunk_rows);
    for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      const int64_t first_row = chunk * chunk_rows;
      const int64_t row_count = std::min(chunk_rows, num_rows - first_row);
      const T* rows = converted.data();  // (row_count, D), row stride D
      if constexpr (std::is_same_v<scalar_t, T>) {
        if (direct) rows = x_data + first_row * dim;
      }
      if (!direct) {
        for (int64_t r = 0; r < row_count; ++r) {
          for (int64_t d = 0; d < dim; ++d) {
            converted[r * dim + d] = static_cast<T>(x_data[(first_row + r) * row_stride + d * column_stride]);
          }
        }
      }
      score_chunk(rows, row_count, packed, blocks_per_tile, best.data());
      for (int64_t r = 0; r < row_count; ++r) {
        const int64_t code = reduce_lanes(best[r]);
        double distance = 0;  // squared distance to the chosen code, in float64 (as the screen's re-check)
        for (int64_t d = 0; d < dim; ++d) {
          const double difference = static_cast<double>(rows[r * dim + d]) - static_cast<double>(packed.at(code, d));
          distance += difference * difference;
        }
        indices_data[first_row + r] = code;
        sqdist_data[first_row + r] = static_cast<float>(distance);
      }
    }
  });
}

std::tuple<at::Tensor, at::Tensor> nearest_code_cpu(const at::Tensor& x, const at::Tensor& codebook) {
  TORCH_CHECK(x.dim() == 2, "nearest_code: x must have 2 dimensions (N, D), got shape ", x.sizes());
  TORCH_CHECK(codebook.dim() == 2, "nearest_code: codebook must have 2 dimensions (K, D), got shape ",
              codebook.sizes());
  TORCH_CHECK(x.device().is_cpu(), "nearest_code: x must be a CPU tensor, got ", x.device());
  TORCH_CHECK(codebook.device().is_cpu(), "nearest_code: codebook must be a CPU tensor, got ", codebook.device());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()),
              "nearest_code: x must be float16, bfloat16, float32 or float64, got ", x.scalar_type());
  TORCH_CHECK(codebook.scalar_type() == x.scalar_type(), "nearest_code: codebook is ", codebook.scalar_type(),
              " but x is ", x.scalar_type(), "; cast one to the other");
  TORCH_CHECK(codebook.size(0) > 0, "nearest_code: codebook is empty (K = 0): a codebook needs at least one code");
  TORCH_CHECK(codebook.size(1) == x.size(1), "nearest_code: x has D = ", x.size(1),
              " features but codebook rows have D = ", codebook.size(1), "; they must match");
  TORCH_CHECK(codebook.size(0) <= std::numeric_limits<int32_t>::max(), "nearest_code: codebook has too many codes");
  auto indices = at::empty({x.size(0)}, x.options().dtype(at::kLong));   // (N,)
  auto sqdist = at::empty({x.size(0)}, x.options().dtype(at::kFloat));   // (N,)
  if (x.size(0) == 0) return {indices, sqdist};
  if (x.scalar_type() != at::kDouble && codebook.size(0) >= kScreenMinCodes &&
      codebook.size(0) * codebook.size(1) > kScreenMinWork && nearest_code_screen::available()) {
    const auto rows = x.to(at::kFloat).contiguous();         // (N, D)
    const auto codes = codebook.to(at::kFloat).contiguous();  // (K, D)
    nearest_code_screen::nearest_code(rows.data_ptr<float>(), rows.size(0), codes.data_ptr<float>(), codes.size(0),
                                      codes.size(1), indices.data_ptr<int64_t>(), sqdist.data_ptr<float>());
    return {indices, sqdist};
  }
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "nearest_code_cpu", [&] {
    nearest_code_kernel<scalar_t>(x, codebook, indices, sqdist);
  });
  return {indices, sqdist};
}

}  // namespace

TORCH_LIBRARY_IMPL(vaestudio, CPU, m) { m.impl("nearest_code", &nearest_code_cpu); }

}  // namespace vaestudio
