// code_stats and ema_update_ on CUDA: the torch-facing wrappers of codebook.cuh.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <tuple>

#include "codebook.cuh"
#include "torch_types.h"

namespace vaestudio {
namespace cuda {
namespace {

std::tuple<at::Tensor, at::Tensor> code_stats_cuda(const at::Tensor& x, const at::Tensor& indices,
                                                   int64_t num_codes) {
  check_cuda(x, "x");
  check_cuda(indices, "indices");
  check_same_device(x, indices, "x", "indices");
  TORCH_CHECK(x.dim() == 2, "x must have 2 dimensions (N, D), got shape ", x.sizes());
  TORCH_CHECK(indices.dim() == 1, "indices must have 1 dimension (N,), got shape ", indices.sizes());
  TORCH_CHECK(indices.scalar_type() == at::kLong, "indices must be int64, got ", indices.scalar_type());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), "x must be float16, bfloat16, float32 or float64, got ",
              x.scalar_type());
  TORCH_CHECK(num_codes > 0, "num_codes must be positive, got ", num_codes);
  TORCH_CHECK(indices.size(0) == x.size(0), "indices has ", indices.size(0), " entries but x has ", x.size(0),
              " rows; they must match");

  const c10::cuda::CUDAGuard device_guard(x.device());
  const at::Tensor x_contiguous = x.contiguous();
  const at::Tensor indices_contiguous = indices.contiguous();
  const int64_t num_rows = x.size(0);
  const int64_t dim = x.size(1);
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  at::Tensor counts = at::zeros({num_codes}, x.options().dtype(at::kFloat));
  at::Tensor sums = at::zeros({num_codes, dim}, x.options().dtype(at::kFloat));
  if (num_rows == 0) return {counts, sums};
  // Out-of-range indices would be written out of bounds: one small reduction and a
  // synchronisation to raise the same error as the CPU kernel (the Python layer checks first anyway).
  const auto [lowest, highest] = at::aminmax(indices_contiguous);
  const int64_t lowest_index = lowest.item<int64_t>(), highest_index = highest.item<int64_t>();
  TORCH_CHECK(lowest_index >= 0 && highest_index < num_codes, "indices must lie in [0, num_codes = ", num_codes,
              "), found values in [", lowest_index, ", ", highest_index, "]");

  if (at::globalContext().deterministicAlgorithms()) {
    // Deterministic: stable sort, then one fixed-order sum per (code, feature).
    const auto sorted = at::sort(indices_contiguous, /*stable=*/true, /*dim=*/0, /*descending=*/false);
    const at::Tensor sorted_codes = std::get<0>(sorted).contiguous();
    const at::Tensor order = std::get<1>(sorted).contiguous();
    at::Tensor segment_start = at::empty({num_codes + 1}, indices.options());
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "code_stats_cuda_sorted", [&] {
      C10_CUDA_CHECK(codebook::launch_code_stats_sorted<cuda_scalar_t<scalar_t>>(
          cuda_data<scalar_t>(x_contiguous), sorted_codes.data_ptr<int64_t>(), order.data_ptr<int64_t>(), num_rows,
          dim, num_codes, segment_start.data_ptr<int64_t>(), counts.data_ptr<float>(), sums.data_ptr<float>(),
          stream));
    });
    return {counts, sums};
  }
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "code_stats_cuda", [&] {
    C10_CUDA_CHECK(codebook::launch_code_stats_atomic<cuda_scalar_t<scalar_t>>(
        cuda_data<scalar_t>(x_contiguous), indices_contiguous.data_ptr<int64_t>(), num_rows, dim, num_codes,
        counts.data_ptr<float>(), sums.data_ptr<float>(), stream));
  });
  return {counts, sums};
}

void ema_update_cuda(at::Tensor& codebook, at::Tensor& cluster_size, at::Tensor& embed_sum, const at::Tensor& counts,
                     const at::Tensor& sums, double decay, double eps) {
  const std::pair<const at::Tensor*, const char*> named[] = {
      {&codebook, "codebook"}, {&cluster_size, "cluster_size"}, {&embed_sum, "embed_sum"},
      {&counts, "counts"},     {&sums, "sums"}};
  for (const auto& [tensor, name] : named) {
    check_cuda(*tensor, name);
    check_same_device(*tensor, codebook, name, "codebook");
    TORCH_CHECK(at::isFloatingType(tensor->scalar_type()), name,
                " must be float16, bfloat16, float32 or float64, got ", tensor->scalar_type());
  }
  TORCH_CHECK(codebook.dim() == 2, "codebook must have 2 dimensions (K, D), got shape ", codebook.sizes());
  const int64_t num_codes = codebook.size(0);
  const int64_t dim = codebook.size(1);
  TORCH_CHECK(embed_sum.sizes() == codebook.sizes(), "embed_sum must have the codebook's shape ", codebook.sizes(),
              ", got ", embed_sum.sizes());
  TORCH_CHECK(sums.sizes() == codebook.sizes(), "sums must have the codebook's shape ", codebook.sizes(), ", got ",
              sums.sizes());
  TORCH_CHECK(cluster_size.dim() == 1 && cluster_size.size(0) == num_codes, "cluster_size must have shape (",
              num_codes, ",), one entry per code, got ", cluster_size.sizes());
  TORCH_CHECK(counts.dim() == 1 && counts.size(0) == num_codes, "counts must have shape (", num_codes,
              ",), one entry per code, got ", counts.sizes());
  TORCH_CHECK(cluster_size.scalar_type() == embed_sum.scalar_type(), "cluster_size is ", cluster_size.scalar_type(),
              " but embed_sum is ", embed_sum.scalar_type(), "; the CUDA kernel needs one EMA state type");
  TORCH_CHECK(decay >= 0.0 && decay < 1.0, "decay must lie in [0, 1), got ", decay);
  TORCH_CHECK(eps > 0.0, "eps must be positive, got ", eps);

  const c10::cuda::CUDAGuard device_guard(codebook.device());
  // Contiguous work tensors (copies only for strided state), written back at the end.
  at::Tensor codebook_work = codebook.contiguous();
  at::Tensor cluster_size_work = cluster_size.contiguous();
  at::Tensor embed_sum_work = embed_sum.contiguous();
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  // As the reference: counts and sums converted to the state type first.
  const at::Tensor counts_state = counts.to(cluster_size.scalar_type()).contiguous();
  const at::Tensor sums_state = sums.to(embed_sum.scalar_type()).contiguous();
  if (num_codes == 0) return;  // (the Python layer rejects an empty codebook)
  const at::ScalarType total_type = cluster_size.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor total = at::empty({1}, cluster_size.options().dtype(total_type));

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, cluster_size.scalar_type(), "ema_update_cuda", [&] {
    using state_t = scalar_t;
    using state_cuda_t = cuda_scalar_t<state_t>;
    using total_t = opmath_t<state_cuda_t>;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, codebook.scalar_type(), "ema_update_cuda_codebook", [&] {
      C10_CUDA_CHECK((codebook::launch_ema_update<state_cuda_t, cuda_scalar_t<scalar_t>>(
          cuda_data<scalar_t>(codebook_work), cuda_data<state_t>(cluster_size_work), cuda_data<state_t>(embed_sum_work),
          cuda_data<state_t>(counts_state), cuda_data<state_t>(sums_state), num_codes, dim, decay, eps,
          total.data_ptr<total_t>(), stream)));
    });
  });
  if (!codebook.is_same(codebook_work)) codebook.copy_(codebook_work);
  if (!cluster_size.is_same(cluster_size_work)) cluster_size.copy_(cluster_size_work);
  if (!embed_sum.is_same(embed_sum_work)) embed_sum.copy_(embed_sum_work);
}

}  // namespace
}  // namespace cuda
}  // namespace vaestudio

TORCH_LIBRARY_IMPL(vaestudio, CUDA, m) {
  m.impl("code_stats", &vaestudio::cuda::code_stats_cuda);
  m.impl("ema_update_", &vaestudio::cuda::ema_update_cuda);
}
