// The avx2 kernel set: AVX2 + FMA, 32-byte vectors, 16 registers (see isa_kernels.h).
#include "isa_config.h"

#if defined(VAESTUDIO_X86_PATHS)
#define VAESTUDIO_ISA avx2
#define VAESTUDIO_ISA_CAPABILITY Capability::kAvx2
#define VAESTUDIO_ISA_TARGET __attribute__((target("avx2,fma")))
#define VAESTUDIO_VECTOR_BYTES 32
#define VAESTUDIO_NEAREST_CODE_ROWS 6
#define VAESTUDIO_GEMM_VECTORS 3
#include "isa_kernels.h"
#endif
