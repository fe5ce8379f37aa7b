// nearest_code on CUDA: the torch-facing wrapper of quantize.cuh.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <limits>
#include <tuple>

#include "quantize.cuh"
#include "torch_types.h"

namespace vaestudio {
namespace cuda {
namespace {

std::tuple<at::Tensor, at::Tensor> nearest_code_cuda(const at::Tensor& x, const at::Tensor& codebook) {
  check_cuda(x, "x");
  check_cuda(codebook, "codebook");
  check_same_device(x, codebook, "x", "codebook");
  TORCH_CHECK(x.dim() == 2, "x must have 2 dimensions (N, D), got shape ", x.sizes());
  TORCH_CHECK(codebook.dim() == 2, "codebook must have 2 dimensions (K, D), got shape ", codebook.sizes());
  TORCH_CHECK(x.size(1) == codebook.size(1), "x has D = ", x.size(1), " features but codebook rows have D = ",
              codebook.size(1), "; they must match");
  TORCH_CHECK(x.scalar_type() == codebook.scalar_type(), "x is ", x.scalar_type(), " but codebook is ",
              codebook.scalar_type(), "; cast one to the other");
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), "x must be float16, bfloat16, float32 or float64, got ",
              x.scalar_type());
  TORCH_CHECK(codebook.size(0) > 0, "codebook is empty (K = 0): a codebook needs at least one code");
  TORCH_CHECK(codebook.size(0) < std::numeric_limits<int>::max(), "codebook has K = ", codebook.size(0),
              " codes; the CUDA kernel supports fewer than 2^31 - 1");
  TORCH_CHECK(x.size(1) < std::numeric_limits<int>::max() / 128, "x has D = ", x.size(1), " features; too many");

  const c10::cuda::CUDAGuard device_guard(x.device());
  const at::Tensor x_contiguous = x.contiguous();
  const at::Tensor codebook_contiguous = codebook.contiguous();
  const int64_t num_rows = x.size(0);
  const int num_codes = static_cast<int>(codebook.size(0));
  const int dim = static_cast<int>(x.size(1));

  at::Tensor indices = at::empty({num_rows}, x.options().dtype(at::kLong));
  at::Tensor sqdist = at::empty({num_rows}, x.options().dtype(at::kFloat));
  if (num_rows == 0) return {indices, sqdist};
  // ||c_k||^2: K floats (doubles for float64 inputs) of workspace, the only
  // memory beyond inputs and outputs (the packed (score, index) per row lives in
  // the int64 indices output).
  at::Tensor code_norms =
      at::empty({num_codes}, x.options().dtype(x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat));

  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const int num_sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "nearest_code_cuda", [&] {
    using kernel_t = cuda_scalar_t<scalar_t>;
    const cudaError_t status = quantize::launch_nearest_code<kernel_t>(
        cuda_data<scalar_t>(x_contiguous), cuda_data<scalar_t>(codebook_contiguous), num_rows, num_codes, dim,
        code_norms.data_ptr<opmath_t<kernel_t>>(), indices.data_ptr<int64_t>(), sqdist.data_ptr<float>(), num_sms, stream);
    C10_CUDA_CHECK(status);
  });
  return {indices, sqdist};
}

}  // namespace
}  // namespace cuda
}  // namespace vaestudio

TORCH_LIBRARY_IMPL(vaestudio, CUDA, m) { m.impl("nearest_code", &vaestudio::cuda::nearest_code_cuda); }
