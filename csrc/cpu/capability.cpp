// Run-time choice of the CPU kernel path (see capability.h) and the operators that report and set it.
#include "capability.h"

#include <torch/library.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <sstream>

#include "isa_config.h"
#include "kernel_set.h"

namespace vaestudio {
namespace cpu {
namespace {

// What the CPU supports, best first, limited to the kernel sets this build carries.
std::vector<Capability> detect(std::string* why) {
  std::vector<Capability> found;
#if defined(VAESTUDIO_X86_PATHS)
  __builtin_cpu_init();
  const bool fma = __builtin_cpu_supports("fma");
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && fma;
  const bool avx2 = __builtin_cpu_supports("avx2") && fma;
  if (avx512) found.push_back(Capability::kAvx512);
  if (avx2) found.push_back(Capability::kAvx2);
  *why = avx512 ? "the CPU has AVX-512 (F, BW, VL, DQ) and FMA"
         : avx2 ? "the CPU has AVX2 and FMA but not AVX-512"
                : "the CPU has neither AVX2 + FMA nor AVX-512";
#elif defined(VAESTUDIO_NEON_PATH)
  found.push_back(Capability::kNeon);
  *why = "ARM64: Advanced SIMD (NEON) is part of every ARMv8-A CPU";
#elif defined(VAESTUDIO_VECTOR_EXTENSIONS)
  *why = "this architecture has no dedicated kernel set";
#else
  *why = "built without GCC/Clang vector extensions (e.g. MSVC): plain C++ loops";
#endif
  found.push_back(Capability::kDefault);
  return found;
}

bool parse(const std::string& name, Capability* capability) {
  for (Capability candidate : {Capability::kAvx512, Capability::kAvx2, Capability::kNeon, Capability::kDefault}) {
    if (name == capability_name(candidate)) {
      *capability = candidate;
      return true;
    }
  }
  return false;
}

std::string join(const std::vector<Capability>& capabilities) {
  std::string text;
  for (Capability capability : capabilities) text += std::string(text.empty() ? "" : ", ") + capability_name(capability);
  return text;
}

bool contains(const std::vector<Capability>& capabilities, Capability wanted) {
  for (Capability capability : capabilities) {
    if (capability == wanted) return true;
  }
  return false;
}

struct State {
  std::vector<Capability> runnable;
  std::atomic<int> active{0};
  std::mutex mutex;  // guards reason
  std::string reason;
};

State& state() {
  static State* instance = [] {
    auto* created = new State();
    std::string cpu_says;
    created->runnable = detect(&cpu_says);
    Capability chosen = created->runnable.front();
    std::string why = cpu_says + " (runnable here: " + join(created->runnable) + ")";
    const char* setting = std::getenv("VAESTUDIO_CPU_CAPABILITY");
    if (setting != nullptr && *setting != '\0') {
      Capability asked;
      if (!parse(setting, &asked)) {
        why += "; VAESTUDIO_CPU_CAPABILITY=" + std::string(setting) +
               " is not one of avx512, avx2, neon, default and was ignored";
      } else if (!contains(created->runnable, asked)) {
        why += "; VAESTUDIO_CPU_CAPABILITY=" + std::string(setting) + " cannot run here and was ignored";
      } else {
        chosen = asked;
        why += "; capped by VAESTUDIO_CPU_CAPABILITY=" + std::string(setting);
      }
    }
    created->active.store(static_cast<int>(chosen));
    created->reason = why;
    return created;
  }();
  return *instance;
}

std::vector<std::string> describe() {
  State& current = state();
  std::lock_guard<std::mutex> lock(current.mutex);
  return {capability_name(active_capability()), current.reason, join(current.runnable)};
}

// vaestudio::cpu_capability() -> [path, reason, runnable paths (comma-separated)]
std::vector<std::string> cpu_capability_op() { return describe(); }

// vaestudio::set_cpu_capability(name) -> the same as cpu_capability() afterwards
std::vector<std::string> set_cpu_capability_op(const std::string& name) {
  set_capability(name);
  return describe();
}

}  // namespace

const char* capability_name(Capability capability) {
  switch (capability) {
    case Capability::kAvx512: return "avx512";
    case Capability::kAvx2: return "avx2";
    case Capability::kNeon: return "neon";
    default: return "default";
  }
}

Capability active_capability() { return static_cast<Capability>(state().active.load(std::memory_order_relaxed)); }

std::string capability_reason() {
  State& current = state();
  std::lock_guard<std::mutex> lock(current.mutex);
  return current.reason;
}

std::vector<Capability> runnable_capabilities() { return state().runnable; }

const KernelSet& kernels() {
  switch (active_capability()) {
#if defined(VAESTUDIO_X86_PATHS)
    case Capability::kAvx512: return avx512::kernel_set;
    case Capability::kAvx2: return avx2::kernel_set;
#endif
#if defined(VAESTUDIO_NEON_PATH)
    case Capability::kNeon: return neon::kernel_set;
#endif
    default: return generic::kernel_set;
  }
}

void set_capability(const std::string& name) {
  State& current = state();
  Capability asked;
  TORCH_CHECK(parse(name, &asked), "set_cpu_capability: '", name,
              "' is not a CPU kernel path; use one of avx512, avx2, neon, default (runnable here: ",
              join(current.runnable), ")");
  TORCH_CHECK(contains(current.runnable, asked), "set_cpu_capability: this CPU or build cannot run '", name,
              "'; runnable here: ", join(current.runnable));
  std::lock_guard<std::mutex> lock(current.mutex);
  current.active.store(static_cast<int>(asked));
  const std::string marker = "; set by set_cpu_capability";
  const size_t previous = current.reason.find(marker);
  if (previous != std::string::npos) current.reason.erase(previous);
  current.reason += marker + "(" + name + ")";
}

}  // namespace cpu

TORCH_LIBRARY_FRAGMENT(vaestudio, m) {
  // [path in use, why, runnable paths]: the CPU kernel path (csrc/cpu/capability.h).
  m.def("cpu_capability() -> str[]", &cpu::cpu_capability_op);
  // Caps the CPU kernel path from now on (tests and benchmarks run every path in one process).
  m.def("set_cpu_capability(str capability) -> str[]", &cpu::set_cpu_capability_op);
}

}  // namespace vaestudio
