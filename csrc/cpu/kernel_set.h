// The CPU kernels that exist once per instruction-set path (isa_kernels.h, compiled per path in
// isa_<path>.cpp) and the run-time choice among them (capability.h).
#pragma once

#include <cstdint>

#include "capability.h"
#include "isa_config.h"
#include "nearest_code_candidates.h"

namespace vaestudio {
namespace cpu {

struct KernelSet {
  Capability capability;
  // nearest_code by the register-blocked kernel: x (N, D) and codes (K, D) contiguous; indices (N,),
  // sqdist (N,) = the float64 squared distance to the chosen code, rounded to float32.
  void (*nearest_code_float)(const float* x, int64_t num_rows, const float* codes, int64_t num_codes, int64_t dim,
                             int64_t* indices, float* sqdist);
  void (*nearest_code_double)(const double* x, int64_t num_rows, const double* codes, int64_t num_codes,
                              int64_t dim, int64_t* indices, float* sqdist);
  // The candidates of a tile of GEMM scores: dots (rows, count) with row stride `stride` holds x.c for
  // the codes first_code .. first_code + count - 1, half_norms (count,) their 0.5 ||c||^2.
  void (*scan_dot_tile)(const float* dots, int64_t stride, int64_t rows, int64_t count, const float* half_norms,
                        int32_t first_code, nearest_code_candidates::RowCandidates* row_candidates);
  // C (m, n) += A (m, k) @ B (k, n), row-major with leading dimensions, single-threaded.
  void (*small_gemm_float)(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                           float* c, int64_t ldc);
  void (*small_gemm_double)(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
                            int64_t ldb, double* c, int64_t ldc);
};

// The kernel set of the active path.
const KernelSet& kernels();

// Each path's set (defined in isa_<path>.cpp where the build carries it).
#if defined(VAESTUDIO_X86_PATHS)
namespace avx512 {
extern const KernelSet kernel_set;
}
namespace avx2 {
extern const KernelSet kernel_set;
}
#endif
#if defined(VAESTUDIO_NEON_PATH)
namespace neon {
extern const KernelSet kernel_set;
}
#endif
namespace generic {
extern const KernelSet kernel_set;
}

}  // namespace cpu
}  // namespace vaestudio
