// The CPU kernels that are compiled once per instruction-set path. Not a normal header: each
// isa_<path>.cpp defines the path's parameters and includes it once, so every path gets its own
// copy in its own namespace (no two paths share a symbol):
//
//   VAESTUDIO_ISA                namespace of the set (avx512, avx2, neon, generic)
//   VAESTUDIO_ISA_CAPABILITY     its Capability
//   VAESTUDIO_ISA_TARGET         the target attribute of every function here (empty for generic)
//   VAESTUDIO_VECTOR_BYTES       vector width: 64 (AVX-512), 32 (AVX2), 16 (NEON, SSE2, plain C++)
//   VAESTUDIO_NEAREST_CODE_ROWS  rows per nearest_code micro-kernel panel (2 x rows accumulators)
//   VAESTUDIO_GEMM_VECTORS       vectors per small_gemm panel (4 rows x vectors accumulators)
//
// Register budget: AVX-512 and NEON have 32 vector registers, AVX2 and SSE2 16. A nearest_code panel
// holds 2 x rows accumulators, 2 code vectors and a broadcast feature; a small_gemm panel 4 x vectors
// accumulators and `vectors` rows of B.
//
// Functions that the compiler must build for the path carry VAESTUDIO_ISA_TARGET; lambdas do not
// inherit it, so the parallel loops call a target function from their lambda.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_set.h"

namespace vaestudio {
namespace cpu {
namespace VAESTUDIO_ISA {

#define VAESTUDIO_ISA_INLINE VAESTUDIO_ISA_TARGET VAESTUDIO_ALWAYS_INLINE
#include "simd.h"

// ---- nearest_code: the register-blocked kernel ---------------------------------------------------
//
// Ranks codes by 0.5 ||c||^2 - x.c (||x||^2 does not change the argmin) and reports the float64 squared
// distance of the chosen code. A micro-kernel computes a panel of kRows rows x a block of 2 vectors of
// codes of dot products in registers and folds them at once into a running per-row, per-lane minimum:
// the scores are never stored. Loop nest of one task (a chunk of at most kChunkRows rows):
//   for each tile of codes (sized to stay in L2)
//     for each panel of kRows rows of the chunk
//       for each block of codes of the tile: micro-kernel
// Ties go to the lowest index: every lane sees its codes in increasing order and keeps a strictly
// smaller score only, and the reduction across lanes prefers the lower index among equal scores.

constexpr int kRows = VAESTUDIO_NEAREST_CODE_ROWS;
constexpr int64_t kChunkRows = 20 * kRows;  // rows per parallel task
constexpr int64_t kTileBytes = 256 * 1024;  // codebook bytes per tile: stays in L2 across a chunk

// The codebook in blocks of 2 x lanes codes, each block stored d-major: values[block][d][j], so the
// micro-kernel loads two full vectors per feature. half_norms[k] = 0.5 ||c_k||^2, +inf for the padding
// codes of the last block, which therefore never win.
template <typename T>
struct PackedCodebook {
  static constexpr int lanes = Simd<T>::lanes;
  static constexpr int block = 2 * lanes;
  int64_t num_codes = 0, dim = 0, num_blocks = 0;
  std::vector<T> values;      // (num_blocks, D, block)
  std::vector<T> half_norms;  // (num_blocks * block,)

  const T* block_values(int64_t b) const { return values.data() + b * dim * block; }
  const T* block_half_norms(int64_t b) const { return half_norms.data() + b * block; }
};

template <typename T>
PackedCodebook<T> pack_codebook(const T* codes, int64_t num_codes, int64_t dim) {
  PackedCodebook<T> packed;
  constexpr int block = PackedCodebook<T>::block;
  packed.num_codes = num_codes;
  packed.dim = dim;
  packed.num_blocks = (num_codes + block - 1) / block;
  packed.values.assign(packed.num_blocks * dim * block, T(0));
  packed.half_norms.assign(packed.num_blocks * block, std::numeric_limits<T>::infinity());
  T* values = packed.values.data();
  T* half_norms = packed.half_norms.data();
  at::parallel_for(0, num_codes, 256, [&](int64_t begin, int64_t end) {
    for (int64_t code = begin; code < end; ++code) {
      T* destination = values + (code / block) * dim * block + code % block;
      T norm = 0;
      for (int64_t d = 0; d < dim; ++d) {
        const T value = codes[code * dim + d];
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
struct alignas(64) RowBest {
  typename Simd<T>::vector score;
  typename Simd<T>::index_vector code;
};

// Dot products of ROW_COUNT rows (row stride = dim) with one block of codes, folded into best[].
template <typename T, int ROW_COUNT>
VAESTUDIO_ISA_INLINE void score_block(const T* rows, int64_t dim, const T* block_values, const T* block_half_norms,
                                      typename Simd<T>::index_vector first_codes, RowBest<T>* best) {
  using Vector = typename Simd<T>::vector;
  using IndexVector = typename Simd<T>::index_vector;
  constexpr int lanes = Simd<T>::lanes;
  Vector low[ROW_COUNT], high[ROW_COUNT];  // dot products with codes j and lanes + j of the block
  for (int r = 0; r < ROW_COUNT; ++r) {
    low[r] = Vector{};
    high[r] = Vector{};
  }
  for (int64_t d = 0; d < dim; ++d) {
    const Vector codes_low = load<T>(block_values + d * 2 * lanes);
    const Vector codes_high = load<T>(block_values + d * 2 * lanes + lanes);
    for (int r = 0; r < ROW_COUNT; ++r) {
      const T feature = rows[r * dim + d];
      low[r] += feature * codes_low;
      high[r] += feature * codes_high;
    }
  }
  const Vector norms_low = load<T>(block_half_norms);
  const Vector norms_high = load<T>(block_half_norms + lanes);
  IndexVector codes_high = first_codes;
  for (int j = 0; j < lanes; ++j) codes_high[j] += lanes;
  for (int r = 0; r < ROW_COUNT; ++r) {
    const Vector score_low = norms_low - low[r];  // 0.5 ||c||^2 - x.c
    const Vector score_high = norms_high - high[r];
    // Within a lane the low code comes first: the high one replaces it only when strictly better.
    const auto high_wins = less(score_high, score_low);
    const Vector block_score = select(high_wins, score_high, score_low);
    const IndexVector block_code = select(high_wins, codes_high, first_codes);
    const auto improves = less(block_score, best[r].score);
    best[r].score = select(improves, block_score, best[r].score);
    best[r].code = select(improves, block_code, best[r].code);
  }
}

template <typename T, int ROW_COUNT>
VAESTUDIO_ISA_INLINE void score_tile(const T* rows, const PackedCodebook<T>& packed, int64_t first_block,
                                     int64_t end_block, RowBest<T>* best) {
  using IndexVector = typename Simd<T>::index_vector;
  using Index = typename Simd<T>::index;
  constexpr int block = PackedCodebook<T>::block;
  for (int64_t b = first_block; b < end_block; ++b) {
    IndexVector first_codes;
    for (int j = 0; j < Simd<T>::lanes; ++j) first_codes[j] = static_cast<Index>(b * block + j);
    score_block<T, ROW_COUNT>(rows, packed.dim, packed.block_values(b), packed.block_half_norms(b), first_codes,
                              best);
  }
}

// The rest of a chunk when its row count is not a multiple of kRows.
template <typename T, int ROW_COUNT = kRows - 1>
VAESTUDIO_ISA_INLINE void score_tile_tail(int row_count, const T* rows, const PackedCodebook<T>& packed,
                                          int64_t first_block, int64_t end_block, RowBest<T>* best) {
  if constexpr (ROW_COUNT > 0) {
    if (row_count == ROW_COUNT) {
      score_tile<T, ROW_COUNT>(rows, packed, first_block, end_block, best);
    } else {
      score_tile_tail<T, ROW_COUNT - 1>(row_count, rows, packed, first_block, end_block, best);
    }
  }
}

// Lowest score across lanes; among equal scores the lowest code.
template <typename T>
VAESTUDIO_ISA_INLINE int64_t reduce_lanes(const RowBest<T>& best) {
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

// Chunks [chunk_begin, chunk_end) of chunk_rows rows each: indices and float64 distances.
template <typename T>
VAESTUDIO_ISA_TARGET VAESTUDIO_NOINLINE void nearest_code_chunks(const T* x, int64_t num_rows, const T* codes,
                                                                 const PackedCodebook<T>& packed, int64_t chunk_rows,
                                                                 int64_t chunk_begin, int64_t chunk_end,
                                                                 int64_t* indices, float* sqdist) {
  const int64_t dim = packed.dim;
  const int64_t blocks_per_tile = std::max<int64_t>(
      1, kTileBytes / std::max<int64_t>(1, dim * PackedCodebook<T>::block * int64_t(sizeof(T))));
  std::vector<RowBest<T>> best(chunk_rows);
  for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
    const int64_t first_row = chunk * chunk_rows;
    const int64_t row_count = std::min(chunk_rows, num_rows - first_row);
    const T* rows = x + first_row * dim;
    for (int64_t r = 0; r < row_count; ++r) {
      best[r].score = broadcast<T>(std::numeric_limits<T>::infinity());
      for (int j = 0; j < Simd<T>::lanes; ++j) best[r].code[j] = 0;
    }
    const int64_t full_rows = row_count / kRows * kRows;
    for (int64_t tile = 0; tile < packed.num_blocks; tile += blocks_per_tile) {
      const int64_t tile_end = std::min(packed.num_blocks, tile + blocks_per_tile);
      for (int64_t r = 0; r < full_rows; r += kRows) {
        score_tile<T, kRows>(rows + r * dim, packed, tile, tile_end, best.data() + r);
      }
      score_tile_tail<T>(int(row_count - full_rows), rows + full_rows * dim, packed, tile, tile_end,
                         best.data() + full_rows);
    }
    for (int64_t r = 0; r < row_count; ++r) {
      const int64_t code = reduce_lanes(best[r]);
      double distance = 0;  // squared distance to the chosen code, in float64
      for (int64_t d = 0; d < dim; ++d) {
        const double difference = static_cast<double>(rows[r * dim + d]) - static_cast<double>(codes[code * dim + d]);
        distance += difference * difference;
      }
      indices[first_row + r] = code;
      sqdist[first_row + r] = static_cast<float>(distance);
    }
  }
}

template <typename T>
void nearest_code_register(const T* x, int64_t num_rows, const T* codes, int64_t num_codes, int64_t dim,
                           int64_t* indices, float* sqdist) {
  const PackedCodebook<T> packed = pack_codebook(codes, num_codes, dim);
  // Chunks small enough that every thread gets work, a multiple of kRows, at most kChunkRows.
  const int64_t per_thread = (num_rows + at::get_num_threads() - 1) / at::get_num_threads();
  const int64_t chunk_rows = std::clamp<int64_t>((per_thread + kRows - 1) / kRows * kRows, kRows, kChunkRows);
  const int64_t num_chunks = (num_rows + chunk_rows - 1) / chunk_rows;
  at::parallel_for(0, num_chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    nearest_code_chunks<T>(x, num_rows, codes, packed, chunk_rows, chunk_begin, chunk_end, indices, sqdist);
  });
}

void nearest_code_float(const float* x, int64_t num_rows, const float* codes, int64_t num_codes, int64_t dim,
                        int64_t* indices, float* sqdist) {
  nearest_code_register<float>(x, num_rows, codes, num_codes, dim, indices, sqdist);
}

void nearest_code_double(const double* x, int64_t num_rows, const double* codes, int64_t num_codes, int64_t dim,
                         int64_t* indices, float* sqdist) {
  nearest_code_register<double>(x, num_rows, codes, num_codes, dim, indices, sqdist);
}

// ---- nearest_code: candidates from a tile of GEMM dot products ------------------------------------
//
// Per row: the tile's smallest score 0.5 ||c||^2 - x.c (one vector pass); when it is within the row's
// threshold (a new best, or a near tie), a second pass adds every code within the lowered threshold.
VAESTUDIO_ISA_TARGET void scan_dot_tile(const float* dots, int64_t stride, int64_t rows, int64_t count,
                                        const float* half_norms, int32_t first_code,
                                        nearest_code_candidates::RowCandidates* row_candidates) {
  using Vector = Simd<float>::vector;
  constexpr int lanes = Simd<float>::lanes;
  const int64_t full = count / lanes * lanes;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = dots + r * stride;
    nearest_code_candidates::RowCandidates& candidates = row_candidates[r];
    Vector smallest = broadcast<float>(std::numeric_limits<float>::infinity());
    for (int64_t j = 0; j < full; j += lanes) {
      const Vector score = load<float>(half_norms + j) - load<float>(row + j);
      smallest = select(less(score, smallest), score, smallest);
    }
    float tile_best = min_lane<float>(smallest);
    for (int64_t j = full; j < count; ++j) tile_best = std::min(tile_best, half_norms[j] - row[j]);
    if (!(tile_best <= candidates.threshold)) continue;  // nothing here can be a candidate
    candidates.lower(tile_best);
    const float threshold = candidates.threshold;
    for (int64_t j = 0; j < full; j += lanes) {
      const Vector score = load<float>(half_norms + j) - load<float>(row + j);
      if (min_lane<float>(score) <= threshold) {
        for (int k = 0; k < lanes; ++k) candidates.add(score[k], first_code + static_cast<int32_t>(j + k));
      }
    }
    for (int64_t j = full; j < count; ++j) candidates.add(half_norms[j] - row[j], first_code + static_cast<int32_t>(j));
    candidates.compact();
  }
}

// ---- small_gemm: C (M, N) += A (M, K) @ B (K, N) for the few rows of one sampling step -------------
//
// Row-major with leading dimensions, single-threaded, no allocation: the per-position GEMMs of the
// cached PixelCNN sampler are too small for a BLAS call to pay off. Up to 4 rows of A times a panel
// of VAESTUDIO_GEMM_VECTORS vectors of B accumulate in registers over the whole K, so each row of B is
// loaded once per 4 rows of A.

template <typename T, int Rows, int Vectors>
VAESTUDIO_ISA_INLINE void gemm_block(int64_t k_size, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
                                     int64_t ldc) {
  using V = typename Simd<T>::vector;
  constexpr int lanes = Simd<T>::lanes;
  V accumulator[Rows][Vectors];
  for (int row = 0; row < Rows; ++row) {
    for (int vector = 0; vector < Vectors; ++vector) accumulator[row][vector] = load<T>(c + row * ldc + vector * lanes);
  }
  for (int64_t k = 0; k < k_size; ++k) {
    V b_row[Vectors];
    for (int vector = 0; vector < Vectors; ++vector) b_row[vector] = load<T>(b + k * ldb + vector * lanes);
    for (int row = 0; row < Rows; ++row) {
      const T a_value = a[row * lda + k];
      for (int vector = 0; vector < Vectors; ++vector) accumulator[row][vector] += a_value * b_row[vector];
    }
  }
  for (int row = 0; row < Rows; ++row) {
    for (int vector = 0; vector < Vectors; ++vector) store<T>(c + row * ldc + vector * lanes, accumulator[row][vector]);
  }
}

// Rows 0..rows-1 (rows <= 4) of a panel of Vectors vectors.
template <typename T, int Vectors>
VAESTUDIO_ISA_INLINE void gemm_panel(int64_t rows, int64_t k_size, const T* a, int64_t lda, const T* b, int64_t ldb,
                                     T* c, int64_t ldc) {
  switch (rows) {
    case 4: gemm_block<T, 4, Vectors>(k_size, a, lda, b, ldb, c, ldc); break;
    case 3: gemm_block<T, 3, Vectors>(k_size, a, lda, b, ldb, c, ldc); break;
    case 2: gemm_block<T, 2, Vectors>(k_size, a, lda, b, ldb, c, ldc); break;
    default: gemm_block<T, 1, Vectors>(k_size, a, lda, b, ldb, c, ldc); break;
  }
}

template <typename T>
VAESTUDIO_ISA_INLINE void small_gemm(int64_t m, int64_t n, int64_t k_size, const T* a, int64_t lda, const T* b,
                                     int64_t ldb, T* c, int64_t ldc) {
  constexpr int kPanelRows = 4, kWide = VAESTUDIO_GEMM_VECTORS, lanes = Simd<T>::lanes;
  for (int64_t row = 0; row < m; row += kPanelRows) {
    const int64_t rows = std::min<int64_t>(kPanelRows, m - row);
    const T* a_block = a + row * lda;
    T* c_block = c + row * ldc;
    int64_t column = 0;
    for (; column + kWide * lanes <= n; column += kWide * lanes) {
      gemm_panel<T, kWide>(rows, k_size, a_block, lda, b + column, ldb, c_block + column, ldc);
    }
    for (; column + lanes <= n; column += lanes) {
      gemm_panel<T, 1>(rows, k_size, a_block, lda, b + column, ldb, c_block + column, ldc);
    }
    for (int64_t r = 0; r < rows && column < n; ++r) {  // the last columns, fewer than a vector: plain loops
      for (int64_t k = 0; k < k_size; ++k) {
        const T a_value = a_block[r * lda + k];
        for (int64_t j = column; j < n; ++j) c_block[r * ldc + j] += a_value * b[k * ldb + j];
      }
    }
  }
}

VAESTUDIO_ISA_TARGET void small_gemm_float(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                                           const float* b, int64_t ldb, float* c, int64_t ldc) {
  small_gemm<float>(m, n, k, a, lda, b, ldb, c, ldc);
}

VAESTUDIO_ISA_TARGET void small_gemm_double(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda,
                                            const double* b, int64_t ldb, double* c, int64_t ldc) {
  small_gemm<double>(m, n, k, a, lda, b, ldb, c, ldc);
}

extern const KernelSet kernel_set;
const KernelSet kernel_set = {
    VAESTUDIO_ISA_CAPABILITY, &nearest_code_float, &nearest_code_double, &scan_dot_tile, &small_gemm_float,
    &small_gemm_double,
};

#undef VAESTUDIO_ISA_INLINE

}  // namespace VAESTUDIO_ISA
}  // namespace cpu
}  // namespace vaestudio
