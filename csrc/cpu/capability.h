// Which instruction-set path the CPU kernels run: one generic build carries a kernel set per
// path (cpu/isa_<path>.cpp, compiled with target attributes) and picks one at run time.
//
//   avx512   x86-64 with AVX-512 F/BW/VL/DQ + FMA (64-byte vectors, 32 registers)
//   avx2     x86-64 with AVX2 + FMA (32-byte vectors, 16 registers)
//   neon     ARM64 Advanced SIMD (16-byte vectors, 32 registers)
//   default  anything else: 16-byte GCC/Clang vectors (SSE2 on x86-64), or plain C++ loops where the
//            compiler has no vector extensions (MSVC)
//
// The path is the best one the CPU and the build support, capped by the environment variable
// VAESTUDIO_CPU_CAPABILITY (read once, when the library loads) or by vaestudio::set_cpu_capability.
#pragma once

#include <string>
#include <vector>

namespace vaestudio {
namespace cpu {

enum class Capability { kDefault = 0, kAvx2 = 1, kAvx512 = 2, kNeon = 3 };

const char* capability_name(Capability capability);

// The path the kernels run now.
Capability active_capability();

// Why that path: what the CPU has, what the build carries and what capped it.
std::string capability_reason();

// Every path this CPU and this build can run, best first (the last is always "default").
std::vector<Capability> runnable_capabilities();

// Runs `name` from now on; fails with a message listing the runnable paths when it cannot run here.
void set_capability(const std::string& name);

}  // namespace cpu
}  // namespace vaestudio
