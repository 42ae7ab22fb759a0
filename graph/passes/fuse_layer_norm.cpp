// The decomposed LayerNorm that torch.onnx.export writes below opset 17,
//   m = ReduceMean(x); d = x - m; v = ReduceMean(d^2 | d*d); y = d / Sqrt(v + eps)
//   (or d * Reciprocal(Sqrt(v + eps))), then optionally * gamma and + beta,
// becomes one normrt LayerNormalization node. Only when both means reduce the
// same trailing axes (given as negative axes) with keepdims, eps, gamma and
// beta are constants, and every intermediate feeds only the pattern.
#include <algorithm>

#include <optional>

#include "graph/passes/pass_manager.h"

namespace normrt {
namespace {

// The trailing-axes count of a keepdims ReduceMean over axes -k..-1, or 0.
int64_t trailing_axes(const Graph& g, const Node& mean) {
  std::vector<int64_t> axes;
  if (mean.attr_i("keepdims", 1) != 1 || !reduce_axes_of(g, mean, &axes) || axes.empty()) return 0;
  std::sort(axes.begin(), axes.end());
  const int64_t k = int64_t(axes.size());
  for (int64_t i = 0; i < k; ++i)
    if (axes[size_t(i)] != i - k) return 0;
  return k;
}

struct Match {
  std::vector<int> nodes;
  std::string x, gamma, beta, out;
  int64_t axes = 0;
  float eps = 0;
};

bool match(const Graph& g, const GraphView& v, const Node& norm, Match& m) {
  // norm: Div(d, s) or Mul(d, Reciprocal(s))
  std::string d, s;
  if (is_op(norm, "Div")) {
    d = norm.inputs[0];
    s = norm.inputs[1];
  } else if (is_op(norm, "Mul")) {
    for (size_t k = 0; k < 2 && s.empty(); ++k)
      if (const Node* r = v.produced_by(norm.inputs[k], "Reciprocal"); r && v.internal(norm.inputs[k])) {
        d = norm.inputs[1 - k];
        s = r->inputs[0];
        m.nodes.push_back(v.index_of(r));
      }
    if (s.empty()) return false;
  } else {
    return false;
  }
  const Node* sub = v.produced_by(d, "Sub");
  const Node* sqrt = v.produced_by(s, "Sqrt");
  if (!sub || !sqrt || !v.internal(s)) return false;
  const Node* mean = v.produced_by(sub->inputs[1], "ReduceMean");
  if (!mean || mean->inputs[0] != sub->inputs[0] || !v.internal(sub->inputs[1])) return false;
  const Node* add = v.produced_by(sqrt->inputs[0], "Add");
  if (!add || !v.internal(sqrt->inputs[0])) return false;
  std::string var;
  for (size_t k = 0; k < 2 && var.empty(); ++k)
    if (v.scalar(add->inputs[1 - k], &m.eps) && v.produced_by(add->inputs[k], "ReduceMean")) var = add->inputs[k];
  if (var.empty() || !v.internal(var)) return false;
  const Node* mean2 = v.produced_by(var, "ReduceMean");
  const Node* sq = v.produced_by(mean2->inputs[0], "Pow");
  float two = 0;
  int d_uses = 2;
  if (sq) {
    if (sq->inputs[0] != d || !v.scalar(sq->inputs[1], &two) || two != 2.f) return false;
  } else {
    sq = v.produced_by(mean2->inputs[0], "Mul");
    if (!sq || sq->inputs[0] != d || sq->inputs[1] != d) return false;
    d_uses = 3;
  }
  if (!v.internal(mean2->inputs[0]) || !v.internal(d, d_uses)) return false;
  m.axes = trailing_axes(g, *mean);
  if (m.axes == 0 || trailing_axes(g, *mean2) != m.axes) return false;
  m.x = sub->inputs[0];
  for (const Node* n : {mean, sub, sq, mean2, add, sqrt, &norm}) m.nodes.push_back(v.index_of(n));
  m.out = norm.outputs[0];
  // Optional * gamma, then optional + beta (constants, reached through sole uses).
  auto affine = [&](const char* op, std::string& param) {
    const int i = v.sole_reader(m.out);
    if (i < 0) return;
    const Node& n = g.nodes[size_t(i)];
    std::string other = is_op(n, op) ? other_input(n, m.out) : "";
    if (other.empty() || !v.constant(other)) return;
    param = other;
    m.nodes.push_back(i);
    m.out = n.outputs[0];
  };
  affine("Mul", m.gamma);
  affine("Add", m.beta);
  return true;
}

}  // namespace

bool fuse_layer_norm(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  bool changed = false;
  std::optional<GraphView> view;  // rebuilt after each rewrite
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!view) view.emplace(g);
    const GraphView& v = *view;
    Match m;
    if (!match(g, v, g.nodes[i], m)) continue;
    Node ln;
    ln.name = g.nodes[i].name + "_layernorm";
    ln.op_type = "LayerNormalization";
    ln.domain = "normrt";
    ln.inputs = {m.x, m.gamma, m.beta};
    ln.outputs = {m.out};
    ln.attrs["axis"] = Attribute{Attribute::Kind::i, 0, -m.axes};
    ln.attrs["epsilon"] = Attribute{Attribute::Kind::f, m.eps};
    std::vector<std::string> labels;
    for (int k : m.nodes) labels.push_back(g.nodes[size_t(k)].label());
    log.push_back(Rewrite{"fuse_layer_norm", labels, ln.label()});
    replace_nodes(g, m.nodes, ln);
    view.reset();
    changed = true;
  }
  return changed;
}

}  // namespace normrt
