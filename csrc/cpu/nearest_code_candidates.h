// Exact nearest codes from approximate scores: the candidate list of one row and its float64 re-check.
//
// A screen ranks codes by an approximate score a(c) ~ s(c) = 0.5 ||c||^2 - x.c with |a - s| <= e for a
// known bound e (the bf16 screen: bf16 rounding; the GEMM tiles: fp32 rounding). The nearest code c*
// has s(c*) <= s(c) for all c, so a(c*) <= a(c) + 2e <= min a + 2e: every code with a(c) <= min a + 2e
// is a candidate and the exact nearest is among them. The re-check computes the candidates' squared
// distances in float64 and keeps the smallest, ties to the lowest index: the exact nearest code.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace vaestudio {
namespace nearest_code_candidates {

struct Candidate {
  float approx;
  int32_t code;
};

// The candidates of one row and the threshold min a + 2e so far (it only decreases).
struct RowCandidates {
  float best = std::numeric_limits<float>::infinity();  // smallest approx seen so far
  float margin = 0.0f;                                   // 2e, rounded up
  float threshold = std::numeric_limits<float>::infinity();
  std::vector<Candidate> candidates;
  size_t compacted_size = 0;  // size after the last compaction

  void reset(float new_margin) {
    best = std::numeric_limits<float>::infinity();
    threshold = std::numeric_limits<float>::infinity();
    margin = new_margin;
    candidates.clear();
    compacted_size = 0;
  }

  // Lowers the threshold for a new smallest approx (one ulp up covers the rounding of the sum).
  void lower(float approx) {
    if (approx < best) {
      best = approx;
      threshold = std::nextafter(best + margin, std::numeric_limits<float>::infinity());
    }
  }

  // Adds a code whose approx is within the threshold (after lower() saw the smallest of its block).
  void add(float approx, int32_t code) {
    if (approx <= threshold) candidates.push_back({approx, code});
  }

  // Drops what a tighter threshold excludes, when the list has grown (amortised).
  void compact() {
    if (candidates.size() < 2 * compacted_size + 64) return;
    const float limit = threshold;
    candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                    [limit](const Candidate& candidate) { return candidate.approx > limit; }),
                     candidates.end());
    compacted_size = candidates.size();
  }
};

// 2e for a row of norm ||x|| against codes of norm <= max_norm, where every approx score is
// 0.5 ||c||^2 - x.c up to `relative_dot` * ||x|| * max_norm (the dot products' error), and fp32
// rounding of the half norms and the subtraction, (dim + 4) u (||x|| C + C^2), u = 2^-24.
inline float margin(double row_norm, double max_norm, int64_t dim, double relative_dot) {
  const double rounding = static_cast<double>(dim + 4) * std::ldexp(1.0, -24);
  const double error = relative_dot * row_norm * max_norm + rounding * (max_norm * max_norm + row_norm * max_norm);
  return std::nextafter(static_cast<float>(2.0 * error), std::numeric_limits<float>::infinity());
}

// The exact nearest among a row's candidates within its final threshold: index and float32 distance.
inline void recheck(const float* row, const float* codes, int64_t dim, const RowCandidates& row_candidates,
                    int64_t* index, float* sqdist) {
  double best_distance = std::numeric_limits<double>::infinity();
  int64_t best_code = -1;
  for (const Candidate& candidate : row_candidates.candidates) {
    if (!(candidate.approx <= row_candidates.threshold)) continue;
    const float* code = codes + static_cast<int64_t>(candidate.code) * dim;
    double distance = 0.0;
    for (int64_t d = 0; d < dim; ++d) {
      const double difference = static_cast<double>(row[d]) - code[d];
      distance += difference * difference;
    }
    if (distance < best_distance || (distance == best_distance && candidate.code < best_code)) {
      best_distance = distance;
      best_code = candidate.code;
    }
  }
  if (best_code < 0) {  // no candidate: the scores were not finite (NaN input); report code 0 and its distance
    best_code = 0;
    best_distance = 0.0;
    for (int64_t d = 0; d < dim; ++d) best_distance += (static_cast<double>(row[d]) - codes[d]) * (row[d] - codes[d]);
  }
  *index = best_code;
  *sqdist = static_cast<float>(best_distance);
}

}  // namespace nearest_code_candidates
}  // namespace vaestudio
