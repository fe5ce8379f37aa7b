// What this compiler can build: which per-ISA kernel sets exist in the library.
//
// VAESTUDIO_VECTOR_EXTENSIONS  GCC/Clang vector types (vector_size); without them (MSVC, or
//                              -DVAESTUDIO_PLAIN_CXX to check that path) the default kernels use plain loops.
// VAESTUDIO_X86_PATHS          the avx2 and avx512 kernel sets (x86-64 GCC/Clang: target attributes).
// VAESTUDIO_NEON_PATH          the neon kernel set (ARM64 GCC/Clang).
#pragma once

#if (defined(__GNUC__) || defined(__clang__)) && !defined(VAESTUDIO_PLAIN_CXX)
#define VAESTUDIO_VECTOR_EXTENSIONS 1
#endif

#if defined(VAESTUDIO_VECTOR_EXTENSIONS) && defined(__x86_64__)
#define VAESTUDIO_X86_PATHS 1
#endif

#if defined(VAESTUDIO_VECTOR_EXTENSIONS) && defined(__aarch64__)
#define VAESTUDIO_NEON_PATH 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define VAESTUDIO_ALWAYS_INLINE inline __attribute__((always_inline))
#define VAESTUDIO_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define VAESTUDIO_ALWAYS_INLINE __forceinline
#define VAESTUDIO_NOINLINE __declspec(noinline)
#else
#define VAESTUDIO_ALWAYS_INLINE inline
#define VAESTUDIO_NOINLINE
#endif

#if defined(__GNUC__) || defined(__clang__)
#define VAESTUDIO_RESTRICT __restrict__
#define VAESTUDIO_PREFETCH(address) __builtin_prefetch(address)
#elif defined(_MSC_VER)
#define VAESTUDIO_RESTRICT __restrict
#define VAESTUDIO_PREFETCH(address) ((void)(address))
#else
#define VAESTUDIO_RESTRICT
#define VAESTUDIO_PREFETCH(address) ((void)(address))
#endif
