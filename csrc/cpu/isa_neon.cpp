// The neon kernel set: ARM64 Advanced SIMD, 16-byte vectors, 32 registers (see isa_kernels.h).
// NEON is part of every ARMv8-A CPU, so no target attribute is needed.
#include "isa_config.h"

#if defined(VAESTUDIO_NEON_PATH)
#define VAESTUDIO_ISA neon
#define VAESTUDIO_ISA_CAPABILITY Capability::kNeon
#define VAESTUDIO_ISA_TARGET
#define VAESTUDIO_VECTOR_BYTES 16
#define VAESTUDIO_NEAREST_CODE_ROWS 12
#define VAESTUDIO_GEMM_VECTORS 4
#include "isa_kernels.h"
#endif
