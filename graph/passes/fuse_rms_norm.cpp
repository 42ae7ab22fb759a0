// RMS norm written out, x / Sqrt(ReduceMean(x^2) + eps) (or x * Reciprocal(...)),
// optionally * gamma, becomes one normrt RMSNormalization node. Same
// conditions as the LayerNorm fusion: trailing negative axes with keepdims,
// constant eps and gamma, intermediates used only by the pattern.
#include <algorithm>

#include <optional>

#include "graph/passes/pass_manager.h"

namespace normrt {
namespace {

int64_t trailing(const Graph& g, const Node& mean) {
  std::vector<int64_t> axes;
  if (mean.attr_i("keepdims", 1) != 1 || !reduce_axes_of(g, mean, &axes) || axes.empty()) return 0;
  std::sort(axes.begin(), axes.end());
  for (size_t i = 0; i < axes.size(); ++i)
    if (axes[i] != int64_t(i) - int64_t(axes.size())) return 0;
  return int64_t(axes.size());
}

}  // namespace

bool fuse_rms_norm(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  bool changed = false;
  std::optional<GraphView> view;  // rebuilt after each rewrite
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!view) view.emplace(g);
    const GraphView& v = *view;
    const Node& norm = g.nodes[i];
    std::vector<int> nodes;
    std::string x, s;
    if (is_op(norm, "Div")) {
      x = norm.inputs[0];
      s = norm.inputs[1];
    } else if (is_op(norm, "Mul")) {
      for (size_t k = 0; k < 2 && s.empty(); ++k)
        if (const Node* r = v.produced_by(norm.inputs[k], "Reciprocal"); r && v.internal(norm.inputs[k])) {
          x = norm.inputs[1 - k];
          s = r->inputs[0];
          nodes.push_back(v.index_of(r));
        }
    }
    const Node* sqrt = s.empty() ? nullptr : v.produced_by(s, "Sqrt");
    if (!sqrt || !v.internal(s)) continue;
    const Node* add = v.produced_by(sqrt->inputs[0], "Add");
    if (!add || !v.internal(sqrt->inputs[0])) continue;
    float eps = 0;
    std::string ms;
    for (size_t k = 0; k < 2 && ms.empty(); ++k)
      if (v.scalar(add->inputs[1 - k], &eps) && v.produced_by(add->inputs[k], "ReduceMean")) ms = add->inputs[k];
    if (ms.empty() || !v.internal(ms)) continue;
    const Node* mean = v.produced_by(ms, "ReduceMean");
    const int64_t axes = trailing(g, *mean);
    const Node* sq = v.produced_by(mean->inputs[0], "Pow");
    float two = 0;
    bool squares_x = sq ? sq->inputs[0] == x && v.scalar(sq->inputs[1], &two) && two == 2.f
                        : (sq = v.produced_by(mean->inputs[0], "Mul")) && sq->inputs[0] == x && sq->inputs[1] == x;
    if (!squares_x || axes == 0 || !v.internal(mean->inputs[0])) continue;
    for (const Node* n : {sq, mean, add, sqrt, &norm}) nodes.push_back(v.index_of(n));
    std::string out = norm.outputs[0], gamma;
    if (int r = v.sole_reader(out); r >= 0 && is_op(g.nodes[size_t(r)], "Mul")) {
      std::string other = other_input(g.nodes[size_t(r)], out);
      if (!other.empty() && v.constant(other)) {
        gamma = other;
        nodes.push_back(r);
        out = g.nodes[size_t(r)].outputs[0];
      }
    }
    Node rms;
    rms.name = norm.name + "_rmsnorm";
    rms.op_type = "RMSNormalization";
    rms.domain = "normrt";
    rms.inputs = {x, gamma};
    rms.outputs = {out};
    rms.attrs["axis"] = Attribute{Attribute::Kind::i, 0, -axes};
    rms.attrs["epsilon"] = Attribute{Attribute::Kind::f, eps};
    std::vector<std::string> labels;
    for (int k : nodes) labels.push_back(g.nodes[size_t(k)].label());
    log.push_back(Rewrite{"fuse_rms_norm", labels, rms.label()});
    replace_nodes(g, nodes, rms);
    view.reset();
    changed = true;
  }
  return changed;
}

}  // namespace normrt
