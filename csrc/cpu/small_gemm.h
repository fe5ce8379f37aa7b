// C (M, N) += A (M, K) @ B (K, N) for the few rows (M = batch) of one sampling step.
//
// Row-major with leading dimensions, single-threaded, no allocation and no dispatch: the
// per-position GEMMs of the cached PixelCNN sampler are too small for a BLAS call to pay
// off, and an OpenMP team per call stalls badly on a busy machine. Register blocking: up to
// 4 rows of A times a panel of 64 (float) or 32 (double) columns of B accumulate in
// registers over the whole K, so each row of B is loaded once per 4 rows of A.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace vaestudio {

// 64-byte vectors (GCC/Clang vector extensions): one AVX-512 register, or two AVX2 ones.
// (Spelled per type: GCC drops vector_size on an alias template of a dependent type.)
template <typename T>
struct VectorOf;
template <>
struct VectorOf<float> {
  typedef float type __attribute__((vector_size(64)));
};
template <>
struct VectorOf<double> {
  typedef double type __attribute__((vector_size(64)));
};
template <typename T>
using Vector = typename VectorOf<T>::type;

template <typename T>
constexpr int kLanes = 64 / sizeof(T);

// Rows x (Vectors * lanes) block of C += A @ B, the accumulators held in registers over all of K.
template <typename T, int Rows, int Vectors>
inline void gemm_block(int64_t k_size, const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc) {
  using V = Vector<T>;
  static_assert(sizeof(V) == 64, "a vector holds 64 bytes");
  V accumulator[Rows][Vectors];
  for (int row = 0; row < Rows; ++row) {
    for (int vector = 0; vector < Vectors; ++vector) {
      std::memcpy(&accumulator[row][vector], c + row * ldc + vector * kLanes<T>, sizeof(V));
    }
  }
  for (int64_t k = 0; k < k_size; ++k) {
    V b_row[Vectors];
    for (int vector = 0; vector < Vectors; ++vector) {
      std::memcpy(&b_row[vector], b + k * ldb + vector * kLanes<T>, sizeof(V));
    }
    for (int row = 0; row < Rows; ++row) {
      const T a_value = a[row * lda + k];
      for (int vector = 0; vector < Vectors; ++vector) accumulator[row][vector] += a_value * b_row[vector];
    }
  }
  for (int row = 0; row < Rows; ++row) {
    for (int vector = 0; vector < Vectors; ++vector) {
      std::memcpy(c + row * ldc + vector * kLanes<T>, &accumulator[row][vector], sizeof(V));
    }
  }
}

// Rows 0..rows-1 (rows <= 4) of a panel of Vectors vectors.
template <typename T, int Vectors>
inline void gemm_panel(int64_t rows, int64_t k_size, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
                       int64_t ldc) {
  switch (rows) {
    case 4: gemm_block<T, 4, Vectors>(k_size, a, lda, b, ldb, c, ldc); break;
    case 3: gemm_block<T, 3, Vectors>(k_size, a, lda, b, ldb, c, ldc); break;
    case 2: gemm_block<T, 2, Vectors>(k_size, a, lda, b, ldb, c, ldc); break;
    default: gemm_block<T, 1, Vectors>(k_size, a, lda, b, ldb, c, ldc); break;
  }
}

// Any leftover block (fewer columns than a panel): plain loops.
template <typename T>
inline void gemm_tail(int64_t rows, int64_t columns, int64_t k_size, const T* a, int64_t lda, const T* b, int64_t ldb,
                      T* c, int64_t ldc) {
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t k = 0; k < k_size; ++k) {
      const T a_value = a[row * lda + k];
      for (int64_t column = 0; column < columns; ++column) c[row * ldc + column] += a_value * b[k * ldb + column];
    }
  }
}

template <typename T>
void small_gemm(int64_t m, int64_t n, int64_t k_size, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
                int64_t ldc) {
  constexpr int kRows = 4, kWide = 4;  // panels of 4 vectors, then single vectors, then scalars
  for (int64_t row = 0; row < m; row += kRows) {
    const int64_t rows = std::min<int64_t>(kRows, m - row);
    const T* a_block = a + row * lda;
    T* c_block = c + row * ldc;
    int64_t column = 0;
    for (; column + kWide * kLanes<T> <= n; column += kWide * kLanes<T>) {
      gemm_panel<T, kWide>(rows, k_size, a_block, lda, b + column, ldb, c_block + column, ldc);
    }
    for (; column + kLanes<T> <= n; column += kLanes<T>) {
      gemm_panel<T, 1>(rows, k_size, a_block, lda, b + column, ldb, c_block + column, ldc);
    }
    if (column < n) gemm_tail(rows, n - column, k_size, a_block, lda, b + column, ldb, c_block + column, ldc);
  }
}

}  // namespace vaestudio
