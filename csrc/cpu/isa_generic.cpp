// The default kernel set: 16-byte vectors in the build's baseline instruction set (SSE2 on x86-64,
// 16 registers), or plain C++ loops where the compiler has no vector extensions (see isa_kernels.h).
#include "isa_config.h"

#define VAESTUDIO_ISA generic
#define VAESTUDIO_ISA_CAPABILITY Capability::kDefault
#define VAESTUDIO_ISA_TARGET
#define VAESTUDIO_VECTOR_BYTES 16
#define VAESTUDIO_NEAREST_CODE_ROWS 6
#define VAESTUDIO_GEMM_VECTORS 3
#include "isa_kernels.h"
