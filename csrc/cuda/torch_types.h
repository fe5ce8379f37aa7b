// Torch-facing helpers shared by the .cu wrappers (never included by a .cuh).
#pragma once

#include <ATen/ATen.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace vaestudio {
namespace cuda {

// The plain-CUDA type of an ATen scalar type: the .cuh kernels are templated on
// __half / __nv_bfloat16, which have the same layout as at::Half / at::BFloat16.
template <typename scalar_t>
struct CudaScalar {
  using type = scalar_t;
};
template <>
struct CudaScalar<at::Half> {
  using type = __half;
};
template <>
struct CudaScalar<at::BFloat16> {
  using type = __nv_bfloat16;
};
template <typename scalar_t>
using cuda_scalar_t = typename CudaScalar<scalar_t>::type;

// A tensor's data as its plain-CUDA type.
template <typename scalar_t>
inline cuda_scalar_t<scalar_t>* cuda_data(const at::Tensor& tensor) {
  return reinterpret_cast<cuda_scalar_t<scalar_t>*>(tensor.data_ptr<scalar_t>());
}

inline void check_cuda(const at::Tensor& tensor, const char* name) {
  TORCH_CHECK(tensor.is_cuda(), name, " must be a CUDA tensor, got one on ", tensor.device());
}

inline void check_same_device(const at::Tensor& tensor, const at::Tensor& other, const char* name,
                              const char* other_name) {
  TORCH_CHECK(tensor.device() == other.device(), name, " is on ", tensor.device(), " but ", other_name, " is on ",
              other.device(), "; they must be on one device");
}

}  // namespace cuda
}  // namespace vaestudio
