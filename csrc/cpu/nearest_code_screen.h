// nearest_code on CPUs with AVX512-BF16 (AMD Zen 4, Intel Sapphire Rapids and later): a bf16 screen
// followed by an exact re-check, so the answer is exact while most of the work runs at twice the
// fp32 FMA rate (vdpbf16ps multiplies and sums two bf16 pairs per fp32 lane).
//
// 1. Screen. Rows of x and codes are rounded to bf16 (round to nearest even: relative error <= 2^-9
//    each), and approx_k = 0.5 ||c_k||^2 - x~.c~_k is computed for every code by a register-blocked
//    micro-kernel (ROWS rows x 32 codes of fp32 accumulators). Rounding both operands and summing D
//    products in fp32 moves a dot product by at most eps_D ||x|| ||c_k||, eps_D = 2^-8 + 2^-18 +
//    (D + 2) 2^-24 (products of rounded values, then the fp32 sum). With C = max_k ||c_k|| and the
//    fp32 rounding of 0.5 ||c||^2 and of the subtraction, every code's approx is within
//    e = eps_D ||x|| C + (D + 4) 2^-24 (C^2 + ||x|| C) of its exact score.
// 2. Candidates. The nearest code's approx is at most best_approx + 2e, where best_approx is the
//    smallest approx of all codes. Each row keeps a threshold t = (smallest approx so far) + 2e, which
//    only decreases, and pushes every code whose approx is <= t when its block is scored: so every
//    code with approx <= (final best) + 2e is pushed, the nearest one included. A block pushes
//    nothing (one compare per 16 codes) once t is tight, which is nearly always.
// 3. Re-check. The pushed codes still within the final threshold get their exact squared distance
//    sum_d (x_d - c_d)^2 in float64 from the fp32 values; the smallest wins, ties to the lowest index.
//
// Extra memory: the bf16 codebook (K x D x 2 bytes) and a float copy of it for the re-check, plus the
// candidate lists of a chunk of rows (a few entries per row once the thresholds are tight).
#pragma once

#include "isa_config.h"

#if defined(VAESTUDIO_X86_PATHS)
#define VAESTUDIO_BF16_SCREEN 1
#include <immintrin.h>
#endif

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "nearest_code_candidates.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

namespace vaestudio {
namespace nearest_code_screen {

#ifdef VAESTUDIO_BF16_SCREEN
#define VAESTUDIO_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

constexpr int kLanes = 16;              // fp32 lanes of a zmm register
constexpr int kBlock = 2 * kLanes;      // codes per micro-kernel block
constexpr int kRows = 12;               // rows of x per micro-kernel panel (2 x kRows accumulators)
constexpr int64_t kChunkRows = 240;     // rows per parallel task (a multiple of kRows)
constexpr int64_t kTileBytes = 256 * 1024;  // bf16 codebook bytes per tile (stays in L2 across a chunk)

// float -> bf16 bits, rounding to nearest even (finite inputs; the op rejects non-finite ones).
inline uint32_t bf16_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
}

// Two features as one 32-bit lane of bf16 pairs: feature 2p in the low half, 2p + 1 in the high one.
inline uint32_t bf16_pair(const float* values, int64_t pair, int64_t dim) {
  const int64_t first = 2 * pair;
  const uint32_t low = bf16_bits(values[first]);
  const uint32_t high = first + 1 < dim ? bf16_bits(values[first + 1]) : 0u;
  return low | (high << 16);
}

// The codebook for the screen: blocks of 32 codes stored pair-major, pairs[block][p][j] (j < 32),
// half norms 0.5 ||c||^2 in fp32 (+inf for the padding codes of the last block), and C = max ||c||.
struct ScreenCodebook {
  int64_t num_codes = 0, dim = 0, num_pairs = 0, num_blocks = 0;
  std::vector<uint32_t> pairs;      // (num_blocks, num_pairs, 32)
  std::vector<float> half_norms;    // (num_blocks * 32,)
  const float* codes = nullptr;     // (K, D) float, contiguous: the re-check reads it
  double max_norm = 0.0;
};

inline ScreenCodebook pack_screen_codebook(const float* codes, int64_t num_codes, int64_t dim) {
  ScreenCodebook packed;
  packed.num_codes = num_codes;
  packed.dim = dim;
  packed.num_pairs = (dim + 1) / 2;
  packed.num_blocks = (num_codes + kBlock - 1) / kBlock;
  packed.codes = codes;
  packed.pairs.assign(packed.num_blocks * packed.num_pairs * kBlock, 0u);
  packed.half_norms.assign(packed.num_blocks * kBlock, std::numeric_limits<float>::infinity());
  std::vector<double> norms(num_codes);
  at::parallel_for(0, num_codes, 256, [&](int64_t begin, int64_t end) {
    for (int64_t code = begin; code < end; ++code) {
      const float* row = codes + code * dim;
      uint32_t* target = packed.pairs.data() + (code / kBlock) * packed.num_pairs * kBlock + code % kBlock;
      for (int64_t pair = 0; pair < packed.num_pairs; ++pair) target[pair * kBlock] = bf16_pair(row, pair, dim);
      float half_norm = 0.0f;  // fp32, as the bound assumes
      double norm = 0.0;
      for (int64_t d = 0; d < dim; ++d) {
        half_norm += row[d] * row[d];
        norm += static_cast<double>(row[d]) * row[d];
      }
      packed.half_norms[code] = 0.5f * half_norm;
      norms[code] = std::sqrt(norm);
    }
  });
  packed.max_norm = *std::max_element(norms.begin(), norms.end());
  return packed;
}

using nearest_code_candidates::RowCandidates;

// Adds the codes of a block whose approx is <= the row's threshold (mask bit j: code first_code + j), after
// tightening the threshold with the block's own best: a code above the new threshold can never be
// within the final one (thresholds only decrease).
inline void push(RowCandidates& row, const float* scores, uint32_t mask, int32_t first_code) {
  for (uint32_t bits = mask; bits; bits &= bits - 1) row.lower(scores[__builtin_ctz(bits)]);
  for (uint32_t bits = mask; bits; bits &= bits - 1) {
    const int j = __builtin_ctz(bits);
    row.add(scores[j], first_code + j);
  }
  row.compact();
}

// Approx scores of ROW_COUNT rows against one block of 32 codes; pushes what passes each row's threshold.
template <int ROW_COUNT>
VAESTUDIO_BF16_TARGET inline void screen_block(const uint32_t* row_pairs, int64_t num_pairs, const uint32_t* block_pairs,
                                               const float* block_half_norms, int32_t first_code, RowCandidates* rows) {
  __m512 low[ROW_COUNT], high[ROW_COUNT];
#pragma GCC unroll 16
  for (int r = 0; r < ROW_COUNT; ++r) {
    low[r] = _mm512_setzero_ps();
    high[r] = _mm512_setzero_ps();
  }
  for (int64_t pair = 0; pair < num_pairs; ++pair) {
    const __m512bh codes_low = (__m512bh)_mm512_loadu_si512(block_pairs + pair * kBlock);
    const __m512bh codes_high = (__m512bh)_mm512_loadu_si512(block_pairs + pair * kBlock + kLanes);
#pragma GCC unroll 16
    for (int r = 0; r < ROW_COUNT; ++r) {
      const __m512bh feature = (__m512bh)_mm512_set1_epi32(static_cast<int>(row_pairs[r * num_pairs + pair]));
      low[r] = _mm512_dpbf16_ps(low[r], codes_low, feature);
      high[r] = _mm512_dpbf16_ps(high[r], codes_high, feature);
    }
  }
  const __m512 norms_low = _mm512_loadu_ps(block_half_norms);
  const __m512 norms_high = _mm512_loadu_ps(block_half_norms + kLanes);
#pragma GCC unroll 16
  for (int r = 0; r < ROW_COUNT; ++r) {
    const __m512 score_low = _mm512_sub_ps(norms_low, low[r]);  // 0.5 ||c||^2 - x.c, approximately
    const __m512 score_high = _mm512_sub_ps(norms_high, high[r]);
    const __m512 threshold = _mm512_set1_ps(rows[r].threshold);
    const uint32_t mask = static_cast<uint32_t>(_mm512_cmp_ps_mask(score_low, threshold, _CMP_LE_OQ)) |
                          (static_cast<uint32_t>(_mm512_cmp_ps_mask(score_high, threshold, _CMP_LE_OQ)) << 16);
    if (__builtin_expect(mask != 0, 0)) {
      alignas(64) float scores[kBlock];
      _mm512_store_ps(scores, score_low);
      _mm512_store_ps(scores + kLanes, score_high);
      push(rows[r], scores, mask, first_code);
    }
  }
}

template <int ROW_COUNT>
VAESTUDIO_BF16_TARGET inline void screen_tile(const uint32_t* row_pairs, const ScreenCodebook& packed,
                                              int64_t first_block, int64_t end_block, RowCandidates* rows) {
  for (int64_t block = first_block; block < end_block; ++block) {
    screen_block<ROW_COUNT>(row_pairs, packed.num_pairs, packed.pairs.data() + block * packed.num_pairs * kBlock,
                            packed.half_norms.data() + block * kBlock, static_cast<int32_t>(block * kBlock), rows);
  }
}

template <int ROW_COUNT = kRows - 1>
VAESTUDIO_BF16_TARGET inline void screen_tile_tail(int row_count, const uint32_t* row_pairs,
                                                   const ScreenCodebook& packed, int64_t first_block,
                                                   int64_t end_block, RowCandidates* rows) {
  if constexpr (ROW_COUNT > 0) {
    if (row_count == ROW_COUNT) {
      screen_tile<ROW_COUNT>(row_pairs, packed, first_block, end_block, rows);
    } else {
      screen_tile_tail<ROW_COUNT - 1>(row_count, row_pairs, packed, first_block, end_block, rows);
    }
  }
}

// All codes against a chunk of rows: rows[r] ends with row r's candidates.
VAESTUDIO_BF16_TARGET __attribute__((noinline)) inline void screen_chunk(const uint32_t* row_pairs, int64_t row_count,
                                                                          const ScreenCodebook& packed,
                                                                          RowCandidates* rows) {
  const int64_t blocks_per_tile =
      std::max<int64_t>(1, kTileBytes / std::max<int64_t>(1, packed.num_pairs * kBlock * int64_t(sizeof(uint32_t))));
  const int64_t full_rows = row_count / kRows * kRows;
  for (int64_t tile = 0; tile < packed.num_blocks; tile += blocks_per_tile) {
    const int64_t tile_end = std::min(packed.num_blocks, tile + blocks_per_tile);
    for (int64_t r = 0; r < full_rows; r += kRows) {
      screen_tile<kRows>(row_pairs + r * packed.num_pairs, packed, tile, tile_end, rows + r);
    }
    screen_tile_tail(int(row_count - full_rows), row_pairs + full_rows * packed.num_pairs, packed, tile, tile_end,
                     rows + full_rows);
  }
}

// A row's bf16 pairs (num_pairs = ceil(D / 2) 32-bit lanes, rounded to nearest even, a zero pad feature
// when D is odd) and its norm ||x|| in float64, 32 features at a time.
VAESTUDIO_BF16_TARGET inline double prepare_row(const float* row, int64_t dim, uint32_t* pairs) {
  __m512d squares = _mm512_setzero_pd();
  for (int64_t start = 0; start < dim; start += kBlock) {
    const int64_t count = std::min<int64_t>(kBlock, dim - start);
    const __mmask16 low_mask = count >= kLanes ? __mmask16(0xffff) : __mmask16((1u << count) - 1);
    const __mmask16 high_mask = count <= kLanes ? __mmask16(0) :
        count >= kBlock ? __mmask16(0xffff) : __mmask16((1u << (count - kLanes)) - 1);
    const __m512 low = _mm512_maskz_loadu_ps(low_mask, row + start);
    const __m512 high = _mm512_maskz_loadu_ps(high_mask, row + start + kLanes);
    // lanes p of the result hold features (start + 2p, start + 2p + 1): low's 16 then high's 16 bf16 values
    const __m512i packed = (__m512i)_mm512_cvtne2ps_pbh(high, low);
    const int64_t lanes = (count + 1) / 2;
    _mm512_mask_storeu_epi32(pairs + start / 2, __mmask16(lanes >= kLanes ? 0xffff : (1u << lanes) - 1), packed);
    for (const __m512 part : {low, high}) {
      const __m512d first = _mm512_cvtps_pd(_mm512_castps512_ps256(part));
      const __m512d second = _mm512_cvtps_pd(_mm512_extractf32x8_ps(part, 1));
      squares = _mm512_fmadd_pd(first, first, squares);
      squares = _mm512_fmadd_pd(second, second, squares);
    }
  }
  return std::sqrt(_mm512_reduce_add_pd(squares));
}

// Whether this call runs the screen: the CPU has AVX512-BF16 (checked once) and the environment does
// not say VAESTUDIO_NEAREST_CODE_SCREEN=0 (read at every call, so one process can compare both kernels).
inline bool available() {
  static const bool supported = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }();
  const char* setting = std::getenv("VAESTUDIO_NEAREST_CODE_SCREEN");
  return supported && !(setting != nullptr && std::strcmp(setting, "0") == 0);
}

// nearest_code of fp32 rows (N, D) (row stride D) against a contiguous fp32 codebook (K, D).
inline void nearest_code(const float* x, int64_t num_rows, const float* codes, int64_t num_codes, int64_t dim,
                         int64_t* indices, float* sqdist) {
  const ScreenCodebook packed = pack_screen_codebook(codes, num_codes, dim);
  const double eps = std::ldexp(1.0, -8) + std::ldexp(1.0, -18) + static_cast<double>(dim + 2) * std::ldexp(1.0, -24);
  const int64_t per_thread = (num_rows + at::get_num_threads() - 1) / at::get_num_threads();
  const int64_t chunk_rows = std::clamp<int64_t>((per_thread + kRows - 1) / kRows * kRows, kRows, kChunkRows);
  const int64_t num_chunks = (num_rows + chunk_rows - 1) / chunk_rows;
  at::parallel_for(0, num_chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    std::vector<uint32_t> row_pairs(chunk_rows * packed.num_pairs);  // (chunk_rows, pairs)
    std::vector<RowCandidates> rows(chunk_rows);
    for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      const int64_t first_row = chunk * chunk_rows;
      const int64_t row_count = std::min(chunk_rows, num_rows - first_row);
      for (int64_t r = 0; r < row_count; ++r) {
        const double norm = prepare_row(x + (first_row + r) * dim, dim, row_pairs.data() + r * packed.num_pairs);
        rows[r].reset(nearest_code_candidates::margin(norm, packed.max_norm, dim, eps));
      }
      screen_chunk(row_pairs.data(), row_count, packed, rows.data());
      for (int64_t r = 0; r < row_count; ++r) {
        nearest_code_candidates::recheck(x + (first_row + r) * dim, packed.codes, dim, rows[r], indices + first_row + r,
                                         sqdist + first_row + r);
      }
    }
  });
}

#else  // not x86-64 GCC/Clang: the fp32 kernel serves every call

inline bool available() { return false; }
inline void nearest_code(const float*, int64_t, const float*, int64_t, int64_t, int64_t*, float*) {}

#endif

}  // namespace nearest_code_screen
}  // namespace vaestudio
