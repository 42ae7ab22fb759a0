#pragma once
// Pieces of the written-out normalizations that LayerNorm and RMS-norm
// fusion both match: y = v / sqrt(mean(v^2) + eps), then * gamma (+ beta).
#include <string>
#include <vector>

#include "graph/passes/pass_manager.h"

namespace normrt {

// norm = Div(v, s) or Mul(v, Reciprocal(s)).
struct Division {
  std::string value, divisor;
  std::vector<int> nodes;  // the Reciprocal, if any
};
bool match_division(const GraphView& v, const Node& norm, Division* d);

// divisor = Sqrt(ReduceMean(Pow(value, 2) | Mul(value, value)) + eps), the
// mean keepdims over the trailing axes -k..-1 and each step read only here.
struct RootMeanSquare {
  int64_t axes = 0;
  float eps = 0;
  int value_reads = 0;  // reads of `value` the square makes (1 for Pow, 2 for Mul)
  std::vector<int> nodes;
};
bool match_root_mean_square(const Graph& g, const GraphView& v, const std::string& divisor, const std::string& value,
                            RootMeanSquare* r);

// Both at once, norm = value / Sqrt(...): the nodes of the two (norm not
// among them) appended to `nodes`.
bool match_rms_division(const Graph& g, const GraphView& v, const Node& norm, Division* d, RootMeanSquare* r,
                        std::vector<int>* nodes);

// The count k of a keepdims Reduce node over axes -k..-1, or 0.
int64_t trailing_reduce_axes(const Graph& g, const Node& mean);

// The fused node (normrt LayerNormalization or RMSNormalization) over the
// trailing axes and with the epsilon the pattern used.
Node normalization_node(const char* op, std::string name, std::vector<std::string> inputs, const std::string& out,
                        const RootMeanSquare& r);

// `out` times a constant gamma, then plus a constant beta (when `beta` is
// given), each step reading the previous value only: fills what it finds
// and advances `out` past the nodes it took.
void match_affine(const Graph& g, const GraphView& v, std::string& out, std::string* gamma, std::string* beta,
                  std::vector<int>& nodes);

}  // namespace normrt
