// C (M, N) += A (M, K) @ B (K, N) for the few rows (M = batch) of one sampling step, on the active
// CPU path's register-blocked kernel (isa_kernels.h: blocking per ISA).
#pragma once

#include <cstdint>

#include "kernel_set.h"

namespace vaestudio {

inline void small_gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                       float* c, int64_t ldc) {
  cpu::kernels().small_gemm_float(m, n, k, a, lda, b, ldb, c, ldc);
}

inline void small_gemm(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b, int64_t ldb,
                       double* c, int64_t ldc) {
  cpu::kernels().small_gemm_double(m, n, k, a, lda, b, ldb, c, ldc);
}

}  // namespace vaestudio
