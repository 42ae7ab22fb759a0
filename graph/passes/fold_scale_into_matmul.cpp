// Multiplying or dividing a MatMul's operand by a constant scalar, or its
// result when nothing else (bias, activation) acts on it, becomes the
// product's alpha, which oneDNN applies to the accumulated result:
//   MatMul(Div(A, s), B)  -> FusedMatMul(A, B, alpha = 1/s)
//   Mul(MatMul(A, B), s)  -> FusedMatMul(A, B, alpha = s)
//   Div(MatMul(A, B), s)  -> FusedMatMul(A, B, alpha = 1/s)
// (attention's 1/sqrt(head dim) on q, or on the scores).
#include "graph/passes/pass_manager.h"

namespace normrt {
namespace {

// `n` is x * s, s * x or x / s for a constant scalar s (of rank 0 only if
// `rank0`; a scalar is never above rank 1): returns x and sets the factor.
std::string scaled_value(const GraphView& v, const Node& n, float* factor, bool rank0) {
  auto rank_ok = [&](const std::string& s) { return !rank0 || v.g.constant(s)->shape.empty(); };
  float s;
  if ((is_op(n, "Mul") || is_op(n, "Div")) && n.inputs.size() == 2 && v.scalar(n.inputs[1], &s) &&
      rank_ok(n.inputs[1])) {
    if (is_op(n, "Div") && s == 0.f) return "";
    *factor = is_op(n, "Div") ? 1.f / s : s;
    return n.inputs[0];
  }
  if (is_op(n, "Mul") && n.inputs.size() == 2 && v.scalar(n.inputs[0], &s) && rank_ok(n.inputs[0])) {
    *factor = s;
    return n.inputs[1];
  }
  return "";
}

}  // namespace

bool fold_scale_into_matmul(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  return rewrite_each(g, [&](const GraphView& v, size_t i) {
    const Node& n = g.nodes[i];
    std::optional<Node> fused = as_fused_matmul(n);
    if (!fused || fused->has_input(2)) return false;  // alpha would scale the bias too
    Node& out = *fused;
    float alpha = out.attr_f("alpha", 1.f), factor = 1.f;
    for (size_t k = 0; k < 2; ++k) {
      const int p = v.producer_of(n.inputs[k]);
      if (p < 0 || !v.internal(n.inputs[k])) continue;
      const std::string x = scaled_value(v, g.nodes[size_t(p)], &factor, false);  // operands have rank >= 1
      if (x.empty()) continue;
      out.inputs[k] = x;
      out.attrs["alpha"] = Attribute::real(alpha * factor);
      replace_nodes(g, log, "fold_scale_into_matmul", {int(i), p}, out);
      return true;
    }
    const int r = v.sole_reader(n.outputs[0]);
    if (r < 0 || out.has("activation")) return false;
    const Node& m = g.nodes[size_t(r)];
    // Rank 0 only: a product of two vectors is a scalar, which a [1] would make [1].
    if (scaled_value(v, m, &factor, true) != n.outputs[0]) return false;
    out.attrs["alpha"] = Attribute::real(alpha * factor);
    out.outputs = m.outputs;
    replace_nodes(g, log, "fold_scale_into_matmul", {int(i), r}, out);
    return true;
  });
}

}  // namespace normrt
