// MatMul with a constant 2-D weight followed by Add of a constant bias of its
// output width, and Gemm in its plain form (transA 0, alpha 1, beta 1,
// constant B and a bias-shaped C), become one normrt FusedMatMul; an
// activation after it (Relu, Gelu, ...) joins as a post-op:
//   Y = activation(A x B + bias)
#include "graph/passes/pass_manager.h"

namespace normrt {
namespace {

// A constant of N elements shaped [N] or [1, N].
bool row_bias(const Graph& g, const std::string& name, int64_t N) {
  const Tensor* t = name.empty() ? nullptr : g.constant(name);
  return t && t->dtype == DType::float32 && t->numel() == N && !t->shape.empty() && t->shape.back() == N &&
         t->shape.size() <= 2;
}

}  // namespace

bool fuse_matmul_bias(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  return rewrite_each(g, [&](const GraphView& v, size_t i) {
    const Node& n = g.nodes[i];
    Node out;
    std::vector<int> consumed{int(i)};
    if (is_op(n, "FusedMatMul", "normrt")) {
      // Only an activation can still join.
      const int r = v.sole_reader(n.outputs[0]);
      std::string kind;
      float a, b;
      if (n.has("activation") || r < 0 || !fusible_activation(g, g.nodes[size_t(r)], &kind, &a, &b)) return false;
      out = n;
      set_activation(out, kind, a, b);
      out.outputs = g.nodes[size_t(r)].outputs;
      consumed.push_back(r);
    } else if (is_op(n, "MatMul") || is_op(n, "Gemm")) {
      const Tensor* w = g.constant(n.inputs[1]);
      if (!w || w->dtype != DType::float32 || w->shape.size() != 2) return false;
      const bool gemm = is_op(n, "Gemm"), tb = gemm && n.attr_i("transB", 0);
      const int64_t N = w->shape[tb ? 0 : 1];
      out = fused_node("FusedMatMul", n.name + "_fused", {n.inputs[0], n.inputs[1], ""}, n.outputs);
      if (tb) out.attrs["transB"] = Attribute::integer(1);
      if (gemm) {
        if (n.attr_i("transA", 0) || n.attr_f("alpha", 1) != 1.f || (n.has_input(2) && n.attr_f("beta", 1) != 1.f)) return false;
        if (n.has_input(2) && !row_bias(g, n.inputs[2], N)) return false;
        out.inputs[2] = n.num_inputs() > 2 ? n.inputs[2] : "";
      } else {
        const int r = v.sole_reader(n.outputs[0]);
        if (r < 0 || !is_op(g.nodes[size_t(r)], "Add")) return false;
        const Node& add = g.nodes[size_t(r)];
        const std::string bias = other_input(add, n.outputs[0]);
        if (!row_bias(g, bias, N)) return false;
        out.inputs[2] = bias;
        out.outputs = add.outputs;
        consumed.push_back(r);
      }
    } else {
      return false;
    }
    replace_nodes(g, log, "fuse_matmul_bias", consumed, out);
    return true;
  });
}

}  // namespace normrt
