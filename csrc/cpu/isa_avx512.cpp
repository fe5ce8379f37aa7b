// The avx512 kernel set: AVX-512 F/BW/VL/DQ + FMA, 64-byte vectors, 32 registers (see isa_kernels.h).
#include "isa_config.h"

#if defined(VAESTUDIO_X86_PATHS)
#define VAESTUDIO_ISA avx512
#define VAESTUDIO_ISA_CAPABILITY Capability::kAvx512
#define VAESTUDIO_ISA_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
#define VAESTUDIO_VECTOR_BYTES 64
#define VAESTUDIO_NEAREST_CODE_ROWS 12
#define VAESTUDIO_GEMM_VECTORS 4
#include "isa_kernels.h"
#endif
