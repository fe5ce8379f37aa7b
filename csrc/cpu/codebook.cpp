// CPU kernels of the EMA codebook update (VQ-VAE-2): vaestudio::code_stats and vaestudio::ema_update_.
//
// code_stats is deterministic whatever the thread count: every (code, column) sum starts at 0 and
// adds its rows in increasing row order, in float32, on one thread, so the floating-point
// summation order never depends on how the work was shared (no atomics, no per-thread partial
// sums). The result is bitwise the sequential loop `sums[codes[n]] += x[n]` for n = 0, 1, ..., N-1.
//
// Two ways to get there, the same numbers either way:
//  - small sums table (it fits in L2): one thread streams x and adds each row into its code's row
//    of sums ("direct");
//  - otherwise ("by code"): a stable counting sort of the row numbers by code (one pass counts,
//    which also gives counts and checks the indices, one pass places; rows keep their increasing
//    order within a code), then threads take contiguous ranges of codes holding about the same
//    number of rows, and each code's sum row is built once, in L1, from its rows (prefetched a
//    few rows ahead) and written once: no zero-filled K x D table, no scattered read-modify-write
//    into a table larger than the cache, and both cores get work.
// ema_update_ is elementwise over codes (the total cluster size is one serial sum in double).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "isa_config.h"

namespace vaestudio {
namespace {

constexpr int64_t DIRECT_SUMS_BYTES = int64_t(256) << 10;  // float32 sums tables up to this size: direct
constexpr int64_t COLUMNS_PER_TASK = 16;                    // direct: one 64-byte line of float32 sums
constexpr int64_t DIRECT_PARALLEL_ELEMENTS = int64_t(1) << 23;   // direct: smaller x runs on one thread
constexpr int64_t BY_CODE_PARALLEL_ELEMENTS = int64_t(1) << 18;  // by code: smaller x runs on one thread
constexpr int64_t PREFETCH_ROWS = 32;         // rows of x requested ahead of the one being added
constexpr int64_t CACHE_LINE = 64;            // bytes
constexpr int64_t ELEMENTS_PER_TASK = 65536;  // ema_update_: smaller updates run on one thread

// Checks every index and counts the rows of each code: (K,) int64. One pass over indices (N,).
std::vector<int64_t> rows_per_code(const int64_t* codes, int64_t num_rows, int64_t num_codes) {
  std::vector<int64_t> counts(num_codes, 0);
  for (int64_t n = 0; n < num_rows; ++n) {
    const int64_t code = codes[n];
    TORCH_CHECK(code >= 0 && code < num_codes, "code_stats: indices must lie in [0, num_codes = ", num_codes,
                "), found ", code, " at position ", n);
    ++counts[code];
  }
  return counts;
}

// Asks for the cache lines of [start, start + bytes) ahead of use (bytes = 0: nothing). Measured on
// this EPYC (one thread, N = 65536, D = 64, other jobs loading memory), rows requested 32 ahead:
// the code-order gather ~2x faster, the row-order pass ~30% faster; 16 and 64 ahead were slower.
inline void prefetch(const void* start, int64_t bytes) {
  const auto first = reinterpret_cast<uintptr_t>(start), end = first + static_cast<uintptr_t>(bytes);
  for (uintptr_t line = first & ~uintptr_t(CACHE_LINE - 1); line < end; line += CACHE_LINE) {
    VAESTUDIO_PREFETCH(reinterpret_cast<const void*>(line));
  }
}

// sum_row (D,) += x_row (D,) in float32; column_stride is x's stride between features.
template <typename scalar_t>
inline void add_row(float* VAESTUDIO_RESTRICT sum_row, const scalar_t* VAESTUDIO_RESTRICT x_row, int64_t dim,
                    int64_t column_stride) {
  if (column_stride == 1) {
    for (int64_t c = 0; c < dim; ++c) sum_row[c] += static_cast<float>(x_row[c]);
  } else {
    for (int64_t c = 0; c < dim; ++c) sum_row[c] += static_cast<float>(x_row[c * column_stride]);
  }
}

// Direct: streams x in row order and adds row n into sums[codes[n]] (sums (K, D), zeroed).
template <typename scalar_t>
void add_rows_by_code(const at::Tensor& x, const int64_t* codes, float* sums) {
  const int64_t num_rows = x.size(0), dim = x.size(1);
  const int64_t row_stride = x.stride(0), column_stride = x.stride(1);
  const scalar_t* x_data = x.data_ptr<scalar_t>();
  // One pass over x is memory-bound and about as fast as a copy on one core: split the columns over
  // threads only when x is large enough for that to pay for waking them (measured: at N = 65536,
  // D = 64 two threads were 3x slower than one, for K = 512 and K = 8192 alike).
  const int64_t columns_per_task = num_rows * dim >= DIRECT_PARALLEL_ELEMENTS ? COLUMNS_PER_TASK : dim;
  at::parallel_for(0, dim, columns_per_task, [&](int64_t first_column, int64_t end_column) {
    const int64_t width = end_column - first_column;
    const int64_t task_bytes = column_stride == 1 ? width * static_cast<int64_t>(sizeof(scalar_t)) : 0;
    for (int64_t n = 0; n < num_rows; ++n) {
      const scalar_t* x_row = x_data + n * row_stride + first_column * column_stride;
      if (n + PREFETCH_ROWS < num_rows) prefetch(x_row + PREFETCH_ROWS * row_stride, task_bytes);
      add_row(sums + codes[n] * dim + first_column, x_row, width, column_stride);
    }
  });
}

// The row numbers sorted by code, stably: rows of code k are order[offsets[k] .. offsets[k + 1]),
// in increasing order. Needs N < 2^31.
struct RowsByCode {
  std::vector<int64_t> offsets;      // (K + 1,)
  std::unique_ptr<int32_t[]> order;  // (N,)
};

RowsByCode sort_rows_by_code(const int64_t* codes, int64_t num_rows, const std::vector<int64_t>& counts) {
  const int64_t num_codes = static_cast<int64_t>(counts.size());
  RowsByCode sorted{std::vector<int64_t>(num_codes + 1, 0), std::unique_ptr<int32_t[]>(new int32_t[num_rows])};
  std::vector<int32_t> cursor(num_codes);  // (K,) next free slot of each code (int32: in L1 at K = 8192)
  for (int64_t k = 0; k < num_codes; ++k) {
    cursor[k] = static_cast<int32_t>(sorted.offsets[k]);
    sorted.offsets[k + 1] = sorted.offsets[k] + counts[k];
  }
  int32_t* order = sorted.order.get();
  for (int64_t n = 0; n < num_rows; ++n) order[cursor[codes[n]]++] = static_cast<int32_t>(n);
  return sorted;
}

// The first code of task `task` of `num_tasks`: tasks hold contiguous codes and about N / num_tasks
// rows each (a code's rows are never split, so its sum stays on one thread).
int64_t first_code_of_task(const std::vector<int64_t>& offsets, int64_t task, int64_t num_tasks) {
  const int64_t num_codes = static_cast<int64_t>(offsets.size()) - 1;
  if (task >= num_tasks) return num_codes;
  const int64_t first_row = offsets.back() * task / num_tasks;
  return std::lower_bound(offsets.begin(), offsets.end(), first_row) - offsets.begin();
}

// By code: sums[k] (D,) = 0 + x[order[offsets[k]]] + x[order[offsets[k] + 1]] + ..., code by code.
template <typename scalar_t>
void sum_rows_by_code(const at::Tensor& x, const RowsByCode& sorted, float* sums) {
  const int64_t num_rows = x.size(0), dim = x.size(1);
  const int64_t row_stride = x.stride(0), column_stride = x.stride(1);
  const int64_t row_bytes = column_stride == 1 ? dim * static_cast<int64_t>(sizeof(scalar_t)) : 0;
  const scalar_t* x_data = x.data_ptr<scalar_t>();
  const int32_t* order = sorted.order.get();
  const int64_t num_tasks = num_rows * dim >= BY_CODE_PARALLEL_ELEMENTS ? at::get_num_threads() : 1;
  at::parallel_for(0, num_tasks, 1, [&](int64_t first_task, int64_t end_task) {
    const int64_t first_code = first_code_of_task(sorted.offsets, first_task, num_tasks);
    const int64_t end_code = first_code_of_task(sorted.offsets, end_task, num_tasks);
    const int64_t end_slot = sorted.offsets[end_code];  // this task's rows: order[offsets[first_code] .. end_slot)
    for (int64_t k = first_code; k < end_code; ++k) {
      float* sum_row = sums + k * dim;  // (D,) stays in L1 while its rows are added
      std::fill(sum_row, sum_row + dim, 0.0f);
      for (int64_t slot = sorted.offsets[k]; slot < sorted.offsets[k + 1]; ++slot) {
        // The rows come in no order x's layout would help the hardware prefetcher with: ask ahead.
        if (slot + PREFETCH_ROWS < end_slot) prefetch(x_data + order[slot + PREFETCH_ROWS] * row_stride, row_bytes);
        add_row(sum_row, x_data + order[slot] * row_stride, dim, column_stride);
      }
    }
  });
}

std::tuple<at::Tensor, at::Tensor> code_stats_cpu(const at::Tensor& x, const at::Tensor& indices,
                                                  int64_t num_codes) {
  TORCH_CHECK(x.dim() == 2, "code_stats: x must have 2 dimensions (N, D), got shape ", x.sizes());
  TORCH_CHECK(indices.dim() == 1, "code_stats: indices must have 1 dimension (N,), got shape ", indices.sizes());
  TORCH_CHECK(x.device().is_cpu(), "code_stats: x must be a CPU tensor, got ", x.device());
  TORCH_CHECK(indices.device().is_cpu(), "code_stats: indices must be a CPU tensor, got ", indices.device());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()),
              "code_stats: x must be float16, bfloat16, float32 or float64, got ", x.scalar_type());
  TORCH_CHECK(indices.scalar_type() == at::kLong, "code_stats: indices must be int64, got ", indices.scalar_type());
  TORCH_CHECK(num_codes > 0, "code_stats: num_codes must be positive, got ", num_codes);
  TORCH_CHECK(indices.size(0) == x.size(0), "code_stats: indices has ", indices.size(0), " entries but x has ",
              x.size(0), " rows; they must match");
  const int64_t num_rows = x.size(0), dim = x.size(1);
  const at::Tensor codes = indices.contiguous();  // (N,)
  const int64_t* code_data = codes.data_ptr<int64_t>();
  const std::vector<int64_t> row_counts = rows_per_code(code_data, num_rows, num_codes);  // (K,)
  auto counts = at::empty({num_codes}, x.options().dtype(at::kFloat));  // (K,)
  std::copy(row_counts.begin(), row_counts.end(), counts.data_ptr<float>());
  const bool direct = num_codes * dim * static_cast<int64_t>(sizeof(float)) <= DIRECT_SUMS_BYTES ||
                      num_rows > std::numeric_limits<int32_t>::max();
  if (num_rows == 0 || dim == 0 || direct) {
    auto sums = at::zeros({num_codes, dim}, x.options().dtype(at::kFloat));  // (K, D)
    if (num_rows == 0 || dim == 0) return {counts, sums};
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "code_stats_cpu", [&] {
      add_rows_by_code<scalar_t>(x, code_data, sums.data_ptr<float>());
    });
    return {counts, sums};
  }
  const RowsByCode sorted = sort_rows_by_code(code_data, num_rows, row_counts);
  auto sums = at::empty({num_codes, dim}, x.options().dtype(at::kFloat));  // (K, D) every row written once
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "code_stats_cpu", [&] {
    sum_rows_by_code<scalar_t>(x, sorted, sums.data_ptr<float>());
  });
  return {counts, sums};
}

template <typename scalar_t>
void ema_update_kernel(at::Tensor& codebook, at::Tensor& cluster_size, at::Tensor& embed_sum,
                       const at::Tensor& counts, const at::Tensor& sums, double decay, double eps) {
  const int64_t num_codes = codebook.size(0), dim = codebook.size(1);
  const scalar_t keep = static_cast<scalar_t>(decay), take = static_cast<scalar_t>(1.0 - decay);
  scalar_t* size_data = cluster_size.data_ptr<scalar_t>();
  const scalar_t* count_data = counts.data_ptr<scalar_t>();
  double total = 0.0;
  for (int64_t k = 0; k < num_codes; ++k) {
    size_data[k] = size_data[k] * keep + take * count_data[k];
    total += static_cast<double>(size_data[k]);
  }
  scalar_t* embed_data = embed_sum.data_ptr<scalar_t>();
  const scalar_t* sum_data = sums.data_ptr<scalar_t>();
  scalar_t* code_data = codebook.data_ptr<scalar_t>();
  // With no mass at all (nothing ever assigned, or everything decayed to exactly 0) the smoothed
  // sizes would be 0 and the division 0 / 0: the codebook is then left as it is.
  const bool update_codebook = total > 0.0;
  const double normaliser = total / (total + num_codes * eps);
  const int64_t codes_per_task = std::max<int64_t>(1, ELEMENTS_PER_TASK / std::max<int64_t>(1, dim));
  at::parallel_for(0, num_codes, codes_per_task, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      scalar_t* embed_row = embed_data + k * dim;
      const scalar_t* sum_row = sum_data + k * dim;
      for (int64_t d = 0; d < dim; ++d) embed_row[d] = embed_row[d] * keep + take * sum_row[d];
      if (!update_codebook) continue;
      // Laplace smoothing: (size + eps) / (total + K eps) * total.
      const scalar_t smoothed = static_cast<scalar_t>((static_cast<double>(size_data[k]) + eps) * normaliser);
      scalar_t* code_row = code_data + k * dim;
      for (int64_t d = 0; d < dim; ++d) code_row[d] = embed_row[d] / smoothed;
    }
  });
}

void ema_update_cpu(at::Tensor& codebook, at::Tensor& cluster_size, at::Tensor& embed_sum, const at::Tensor& counts,
                    const at::Tensor& sums, double decay, double eps) {
  TORCH_CHECK(codebook.dim() == 2, "ema_update_: codebook must have 2 dimensions (K, D), got shape ",
              codebook.sizes());
  TORCH_CHECK(codebook.size(0) > 0, "ema_update_: codebook is empty (K = 0)");
  const auto dtype = codebook.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble, "ema_update_: codebook must be float32 or float64, got ",
              dtype);
  const std::pair<const char*, const at::Tensor*> operands[] = {
      {"codebook", &codebook}, {"cluster_size", &cluster_size}, {"embed_sum", &embed_sum},
      {"counts", &counts},     {"sums", &sums}};
  for (const auto& [name, tensor] : operands) {
    TORCH_CHECK(tensor->device().is_cpu(), "ema_update_: ", name, " must be a CPU tensor, got ", tensor->device());
    TORCH_CHECK(tensor->scalar_type() == dtype, "ema_update_: ", name, " is ", tensor->scalar_type(),
                " but codebook is ", dtype, "; the EMA state and statistics must share the codebook's dtype");
    const bool is_vector = tensor == &cluster_size || tensor == &counts;
    const auto expected = is_vector ? std::vector<int64_t>{codebook.size(0)} : codebook.sizes().vec();
    TORCH_CHECK(tensor->sizes() == expected, "ema_update_: ", name, " must have shape ", at::IntArrayRef(expected),
                ", got ", tensor->sizes());
  }
  TORCH_CHECK(decay >= 0.0 && decay < 1.0, "ema_update_: decay must lie in [0, 1), got ", decay);
  TORCH_CHECK(eps > 0.0, "ema_update_: eps must be positive, got ", eps);
  // Work on contiguous views (copies only when a caller passed strided state) and write back.
  at::Tensor codebook_work = codebook.contiguous(), size_work = cluster_size.contiguous(),
             embed_work = embed_sum.contiguous();
  AT_DISPATCH_FLOATING_TYPES(dtype, "ema_update_cpu", [&] {
    ema_update_kernel<scalar_t>(codebook_work, size_work, embed_work, counts.contiguous(), sums.contiguous(), decay,
                                eps);
  });
  if (!codebook.is_same(codebook_work)) codebook.copy_(codebook_work);
  if (!cluster_size.is_same(size_work)) cluster_size.copy_(size_work);
  if (!embed_sum.is_same(embed_work)) embed_sum.copy_(embed_work);
}

}  // namespace

TORCH_LIBRARY_IMPL(vaestudio, CPU, m) {
  m.impl("code_stats", &code_stats_cpu);
  m.impl("ema_update_", &ema_update_cpu);
}

}  // namespace vaestudio
