// CPU kernel of vaestudio::nearest_code: the nearest codebook row of every row of x.
//
// Three algorithms, chosen per call by the CPU path (capability.h) and the size of the problem
// (thresholds measured with bench/bench_nearest_code.py, see docs/benchmarks-cpu.md):
//
// - register: a register-blocked micro-kernel per path (isa_kernels.h) ranks codes by the fp32 (fp64 for
//   float64 input) score 0.5 ||c||^2 - x.c and keeps a running per-lane minimum: no GEMM call, best for
//   small codebooks and the only one for float64.
// - tiles: x.c for a tile of rows x a tile of codes through torch's own matmul (at::mm, tuned per
//   ISA by MKL / oneDNN), then a per-path scan of the tile keeps each row's candidates within the
//   fp32 rounding bound of its best (nearest_code_candidates.h), and a float64 re-check picks the exact
//   nearest code. Memory: one tile of dot products per thread, never N x K.
// - screen (avx512 path on CPUs with AVX512-BF16): the same candidates from bf16 dot products
//   (nearest_code_screen.h), at twice the fp32 rate.
//
// tiles and screen return the exact nearest code (float64 distances, ties to the lowest index);
// register returns a code within fp32 rounding of it (ties of equal scores to the lowest index).
// VAESTUDIO_NEAREST_CODE_KERNEL=register|tiles|screen (read at every call) forces one for comparisons;
// VAESTUDIO_NEAREST_CODE_SCREEN=0 turns the screen off.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernel_set.h"
#include "nearest_code_candidates.h"
#include "nearest_code_screen.h"

namespace vaestudio {
namespace {

using nearest_code_candidates::RowCandidates;

// Which algorithm each path runs, measured with bench/bench_nearest_code.py (docs/benchmarks-cpu.md):
// - avx512: the bf16 screen where the CPU has AVX512-BF16 and the codebook is large enough (screen over
//   the fp32 register kernel on a 2-core Zen 4, D = 64: 0.97x at K = 512, 1.19x at 1024, 1.43x at 2048;
//   D = 256, K = 512: 1.29x), else the register kernel (about 2x the tiles: MKL runs AVX2 GEMMs on AMD).
// - avx2 (and neon, not measured here: its register kernel has 32 registers and FMA): the register kernel, near the FMA
//   peak of one core (100-115 GFLOP/s single-threaded on Zen 4 capped to AVX2), 1.3-2x the tiles.
// - default: the tiles (torch's GEMM is tuned per ISA; 16-byte vectors without FMA in the register
//   kernel reach about half of it), except for codebooks too small for a GEMM call to pay off.
constexpr int64_t kScreenMinCodes = 64;
constexpr int64_t kScreenMinWork = 32 * 1024;  // K x D
constexpr int64_t kTilesMinCodes = 128;
constexpr int64_t kTileRows = 128;   // rows of x per GEMM tile (and per parallel task)
constexpr int64_t kTileCodes = 512;  // codes per GEMM tile: kTileRows x kTileCodes fp32 = 256 KiB of dots

enum class Algorithm { kRegister, kTiles, kScreen };

Algorithm forced_algorithm(bool* forced) {
  const char* setting = std::getenv("VAESTUDIO_NEAREST_CODE_KERNEL");
  *forced = setting != nullptr && *setting != '\0' && std::strcmp(setting, "auto") != 0;
  if (!*forced) return Algorithm::kRegister;
  const std::string name = setting;
  TORCH_CHECK(name == "register" || name == "tiles" || name == "screen", "VAESTUDIO_NEAREST_CODE_KERNEL='", name,
              "' is not one of register, tiles, screen, auto; unset it or use one of those");
  return name == "tiles" ? Algorithm::kTiles : name == "screen" ? Algorithm::kScreen : Algorithm::kRegister;
}

bool screen_runs_here() {
  return cpu::active_capability() == cpu::Capability::kAvx512 && nearest_code_screen::available();
}

// fp32 matmuls are exact fp32 only at the "highest" precision (else oneDNN may use bf16 / tf32).
bool matmul_is_fp32() {
  return at::globalContext().float32MatmulPrecision() == at::Float32MatmulPrecision::HIGHEST;
}

Algorithm choose(const at::Tensor& x, const at::Tensor& codebook) {
  const int64_t num_codes = codebook.size(0), dim = codebook.size(1);
  if (x.scalar_type() == at::kDouble) return Algorithm::kRegister;
  bool forced = false;
  const Algorithm asked = forced_algorithm(&forced);
  if (forced) {
    TORCH_CHECK(asked != Algorithm::kScreen || screen_runs_here(), "VAESTUDIO_NEAREST_CODE_KERNEL=screen needs the ",
                "avx512 path on a CPU with AVX512-BF16 (path now: ", cpu::capability_name(cpu::active_capability()),
                ")");
    return asked == Algorithm::kTiles && !matmul_is_fp32() ? Algorithm::kRegister : asked;
  }
  if (num_codes >= kScreenMinCodes && num_codes * dim > kScreenMinWork && screen_runs_here()) return Algorithm::kScreen;
  const bool default_path = cpu::active_capability() == cpu::Capability::kDefault;
  if (default_path && num_codes >= kTilesMinCodes && matmul_is_fp32()) return Algorithm::kTiles;
  return Algorithm::kRegister;
}

// The tiles algorithm on fp32 rows (N, D) and codes (K, D), both contiguous.
void nearest_code_tiles(const at::Tensor& rows, const at::Tensor& codes, int64_t* indices, float* sqdist) {
  const int64_t num_rows = rows.size(0), num_codes = codes.size(0), dim = rows.size(1);
  const float* x = rows.data_ptr<float>();
  const float* code_values = codes.data_ptr<float>();
  std::vector<float> half_norms(num_codes);  // 0.5 ||c||^2, from float64
  std::vector<double> norms(num_codes);
  at::parallel_for(0, num_codes, 256, [&](int64_t begin, int64_t end) {
    for (int64_t code = begin; code < end; ++code) {
      double norm = 0.0;
      for (int64_t d = 0; d < dim; ++d) norm += static_cast<double>(code_values[code * dim + d]) * code_values[code * dim + d];
      half_norms[code] = static_cast<float>(0.5 * norm);
      norms[code] = std::sqrt(norm);
    }
  });
  const double max_norm = *std::max_element(norms.begin(), norms.end());
  // A fp32 dot product of D terms, in any order, is within (D + 2) u ||x|| ||c|| of the exact one.
  const double dot_error = static_cast<double>(dim + 2) * std::ldexp(1.0, -24);
  const int64_t per_thread = (num_rows + at::get_num_threads() - 1) / at::get_num_threads();
  const int64_t chunk_rows = std::clamp<int64_t>(per_thread, 1, kTileRows);
  const int64_t num_chunks = (num_rows + chunk_rows - 1) / chunk_rows;
  const int64_t tile_codes = std::min(num_codes, kTileCodes);
  const cpu::KernelSet& kernels = cpu::kernels();
  at::parallel_for(0, num_chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    std::vector<float> dots(chunk_rows * tile_codes);  // (rows, codes) of one tile
    std::vector<RowCandidates> candidates(chunk_rows);
    for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      const int64_t first_row = chunk * chunk_rows;
      const int64_t row_count = std::min(chunk_rows, num_rows - first_row);
      for (int64_t r = 0; r < row_count; ++r) {
        const float* row = x + (first_row + r) * dim;
        double norm = 0.0;
        for (int64_t d = 0; d < dim; ++d) norm += static_cast<double>(row[d]) * row[d];
        candidates[r].reset(nearest_code_candidates::margin(std::sqrt(norm), max_norm, dim, dot_error));
      }
      const at::Tensor row_tile = rows.narrow(0, first_row, row_count);  // (rows, D)
      for (int64_t first_code = 0; first_code < num_codes; first_code += tile_codes) {
        const int64_t code_count = std::min(tile_codes, num_codes - first_code);
        at::Tensor dot_tile = at::from_blob(dots.data(), {row_count, code_count}, rows.options());  // (rows, codes)
        at::mm_out(dot_tile, row_tile, codes.narrow(0, first_code, code_count).t());
        kernels.scan_dot_tile(dots.data(), code_count, row_count, code_count, half_norms.data() + first_code,
                              static_cast<int32_t>(first_code), candidates.data());
      }
      for (int64_t r = 0; r < row_count; ++r) {
        nearest_code_candidates::recheck(x + (first_row + r) * dim, code_values, dim, candidates[r],
                                         indices + first_row + r, sqdist + first_row + r);
      }
    }
  });
}

std::tuple<at::Tensor, at::Tensor> nearest_code_cpu(const at::Tensor& x, const at::Tensor& codebook) {
  TORCH_CHECK(x.dim() == 2, "nearest_code: x must have 2 dimensions (N, D), got shape ", x.sizes());
  TORCH_CHECK(codebook.dim() == 2, "nearest_code: codebook must have 2 dimensions (K, D), got shape ",
              codebook.sizes());
  TORCH_CHECK(x.device().is_cpu(), "nearest_code: x must be a CPU tensor, got ", x.device());
  TORCH_CHECK(codebook.device().is_cpu(), "nearest_code: codebook must be a CPU tensor, got ", codebook.device());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()),
              "nearest_code: x must be float16, bfloat16, float32 or float64, got ", x.scalar_type());
  TORCH_CHECK(codebook.scalar_type() == x.scalar_type(), "nearest_code: codebook is ", codebook.scalar_type(),
              " but x is ", x.scalar_type(), "; cast one to the other");
  TORCH_CHECK(codebook.size(0) > 0, "nearest_code: codebook is empty (K = 0): a codebook needs at least one code");
  TORCH_CHECK(codebook.size(1) == x.size(1), "nearest_code: x has D = ", x.size(1),
              " features but codebook rows have D = ", codebook.size(1), "; they must match");
  TORCH_CHECK(codebook.size(0) <= std::numeric_limits<int32_t>::max(), "nearest_code: codebook has too many codes");
  auto indices = at::empty({x.size(0)}, x.options().dtype(at::kLong));  // (N,)
  auto sqdist = at::empty({x.size(0)}, x.options().dtype(at::kFloat));  // (N,)
  if (x.size(0) == 0) return {indices, sqdist};
  const Algorithm algorithm = choose(x, codebook);
  int64_t* indices_data = indices.data_ptr<int64_t>();
  float* sqdist_data = sqdist.data_ptr<float>();
  if (x.scalar_type() == at::kDouble) {
    const auto rows = x.contiguous();         // (N, D)
    const auto codes = codebook.contiguous();  // (K, D)
    cpu::kernels().nearest_code_double(rows.data_ptr<double>(), rows.size(0), codes.data_ptr<double>(),
                                       codes.size(0), codes.size(1), indices_data, sqdist_data);
    return {indices, sqdist};
  }
  const auto rows = x.to(at::kFloat).contiguous();          // (N, D); fp16 / bf16 -> fp32 is exact
  const auto codes = codebook.to(at::kFloat).contiguous();  // (K, D)
  switch (algorithm) {
    case Algorithm::kScreen:
      nearest_code_screen::nearest_code(rows.data_ptr<float>(), rows.size(0), codes.data_ptr<float>(), codes.size(0),
                                        codes.size(1), indices_data, sqdist_data);
      break;
    case Algorithm::kTiles:
      nearest_code_tiles(rows, codes, indices_data, sqdist_data);
      break;
    default:
      cpu::kernels().nearest_code_float(rows.data_ptr<float>(), rows.size(0), codes.data_ptr<float>(),
                                        codes.size(0), codes.size(1), indices_data, sqdist_data);
  }
  return {indices, sqdist};
}

}  // namespace

TORCH_LIBRARY_IMPL(vaestudio, CPU, m) { m.impl("nearest_code", &nearest_code_cpu); }

}  // namespace vaestudio
