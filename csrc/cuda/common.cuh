// Plain-CUDA helpers shared by the vaestudio kernels: scalar conversions, the
// arithmetic type of each storage type, correctly rounded arithmetic that
// survives --use_fast_math, and warp reductions.
//
// No torch or ATen header may be included here or in any other .cuh of this
// folder: tests/ops/test_nvcc_compile.py compiles every header with bare nvcc
// on machines whose torch has no CUDA headers.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace vaestudio {
namespace cuda {

// ---------------------------------------------------------------------------
// Storage type -> arithmetic ("opmath") type: half and bfloat16 compute in
// float, as PyTorch does, float in float, double in double.
template <typename scalar_t>
struct OpMath {
  using type = float;
};
template <>
struct OpMath<double> {
  using type = double;
};
template <typename scalar_t>
using opmath_t = typename OpMath<scalar_t>::type;

// Conversions between storage types and float/double.
template <typename scalar_t>
__device__ __forceinline__ float to_float(scalar_t value) {
  return static_cast<float>(value);
}
template <>
__device__ __forceinline__ float to_float<__half>(__half value) {
  return __half2float(value);
}
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 value) {
  return __bfloat162float(value);
}

template <typename scalar_t>
__device__ __forceinline__ opmath_t<scalar_t> to_opmath(scalar_t value) {
  return static_cast<opmath_t<scalar_t>>(to_float(value));
}
template <>
__device__ __forceinline__ double to_opmath<double>(double value) {
  return value;
}

template <typename scalar_t, typename from_t>
__device__ __forceinline__ scalar_t from_opmath(from_t value) {
  return static_cast<scalar_t>(value);
}
template <>
__device__ __forceinline__ __half from_opmath<__half, float>(float value) {
  return __float2half_rn(value);
}
template <>
__device__ __forceinline__ __half from_opmath<__half, double>(double value) {
  return __double2half(value);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_opmath<__nv_bfloat16, float>(float value) {
  return __float2bfloat16_rn(value);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_opmath<__nv_bfloat16, double>(double value) {
  return __double2bfloat16(value);
}

// Rounds an opmath value to the storage type and back: what a PyTorch
// elementwise op does between two ops (identity for float and double).
template <typename scalar_t>
__device__ __forceinline__ opmath_t<scalar_t> round_to_storage(opmath_t<scalar_t> value) {
  return to_opmath<scalar_t>(from_opmath<scalar_t>(value));
}

// ---------------------------------------------------------------------------
// Correctly rounded arithmetic. The extension is built with --use_fast_math,
// which turns '/' into an approximate division and lets the compiler contract
// a * b + c into one FMA; where a kernel must reproduce PyTorch's rounding
// step by step (the EMA update) it uses these instead of the operators.
__device__ __forceinline__ float exact_add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double exact_add(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float exact_mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double exact_mul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float exact_div(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double exact_div(double a, double b) { return __ddiv_rn(a, b); }
// a * b + c with one rounding.
__device__ __forceinline__ float exact_fma(float a, float b, float c) { return __fmaf_rn(a, b, c); }
__device__ __forceinline__ double exact_fma(double a, double b, double c) { return __fma_rn(a, b, c); }

// ---------------------------------------------------------------------------
// Sum over the 32 lanes of a warp (every lane gets the total).
template <typename value_t>
__device__ __forceinline__ value_t warp_sum(value_t value) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    value += __shfl_xor_sync(0xffffffffu, value, offset);
  }
  return value;
}

// Number of blocks of `block_size` threads covering `count` items, capped so a
// grid-stride loop does the rest (gridDim.x may be up to 2^31 - 1).
inline unsigned int blocks_for(int64_t count, int block_size, int64_t max_blocks = 65535LL * 32) {
  int64_t blocks = (count + block_size - 1) / block_size;
  if (blocks < 1) blocks = 1;
  if (blocks > max_blocks) blocks = max_blocks;
  return static_cast<unsigned int>(blocks);
}

}  // namespace cuda
}  // namespace vaestudio
