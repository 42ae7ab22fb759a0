// A Transpose feeding a MatMul's operand, or reading its result alone,
// becomes the product's perm_a / perm_b / perm_y: oneDNN then reads and
// writes that tensor in place with strides. Attention's head split and merge
// (q, k^T and v to [heads, seq, dim], the result back to [seq, heads, dim])
// stop being copies.
//   MatMul(Transpose(A, p), B)   -> FusedMatMul(A, B, perm_a = p)
//   Transpose(MatMul(A, B), p)   -> FusedMatMul(A, B, perm_y = p)
#include "graph/passes/pass_manager.h"

namespace normrt {
namespace {

// A Transpose with an explicit permutation of two or more dims.
bool explicit_transpose(const Node& n) { return is_op(n, "Transpose") && n.has("perm") && n.attr_ints("perm").size() >= 2; }

}  // namespace

bool fold_transpose_into_matmul(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  return rewrite_each(g, [&](const GraphView& v, size_t i) {
    const Node& n = g.nodes[i];
    std::optional<Node> fused = as_fused_matmul(n);
    if (!fused) return false;
    Node& out = *fused;
    std::vector<int> consumed{int(i)};
    const char* perm_attr[2] = {"perm_a", "perm_b"};
    for (size_t k = 0; k < 2 && consumed.size() == 1; ++k) {
      const int p = v.producer_of(n.inputs[k]);
      if (p < 0 || out.has(perm_attr[k]) || (k == 1 && out.attr_i("transB", 0))) continue;
      const Node& t = g.nodes[size_t(p)];
      if (!explicit_transpose(t) || !v.internal(n.inputs[k])) continue;
      out.inputs[k] = t.inputs[0];
      out.attrs[perm_attr[k]] = t.attrs.at("perm");
      consumed.push_back(p);
    }
    if (consumed.size() == 1 && !out.has("perm_y")) {
      const int r = v.sole_reader(n.outputs[0]);
      if (r >= 0 && explicit_transpose(g.nodes[size_t(r)])) {
        out.attrs["perm_y"] = g.nodes[size_t(r)].attrs.at("perm");
        out.outputs = g.nodes[size_t(r)].outputs;
        consumed.push_back(r);
      }
    }
    if (consumed.size() == 1) return false;
    replace_nodes(g, log, "fold_transpose_into_matmul", consumed, out);
    return true;
  });
}

}  // namespace normrt
