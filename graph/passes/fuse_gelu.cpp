// GELU written out, as torch.onnx.export does below opset 20,
//   x * (Erf(x / sqrt(2)) + 1) * 0.5   (either product order; Div by sqrt(2) or Mul by 1/sqrt(2))
//   x * 0.5 * (Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)) + 1)   (the tanh form)
// becomes one normrt Gelu node (approximate "none" or "tanh").
#include <cmath>

#include "graph/passes/pass_manager.h"

namespace normrt {
namespace {

bool near(float a, double b) { return std::abs(double(a) - b) <= 1e-4 * std::abs(b); }

// `one_plus` = Add(inner, 1) with inner produced by `op` (Erf/Tanh); returns that node.
const Node* one_plus(const GraphView& v, const std::string& value, const char* op) {
  const Node* add = v.produced_by(value, "Add");
  if (!add || !v.internal(value)) return nullptr;
  for (size_t k = 0; k < 2; ++k) {
    float one = 0;
    const Node* f = v.produced_by(add->inputs[k], op);
    if (f && v.scalar(add->inputs[1 - k], &one) && one == 1.f && v.internal(add->inputs[k])) return f;
  }
  return nullptr;
}

// Erf's argument is x / sqrt(2) or x * (1/sqrt(2)); returns x or "".
std::string erf_input(const GraphView& v, const Node& erf, std::vector<const Node*>& nodes) {
  const std::string& a = erf.inputs[0];
  if (!v.internal(a)) return "";
  float c = 0;
  if (const Node* d = v.produced_by(a, "Div"); d && v.scalar(d->inputs[1], &c) && near(c, std::sqrt(2.0))) {
    nodes.push_back(d);
    return d->inputs[0];
  }
  if (const Node* m = v.produced_by(a, "Mul"))
    for (size_t k = 0; k < 2; ++k)
      if (v.scalar(m->inputs[1 - k], &c) && near(c, 1 / std::sqrt(2.0))) {
        nodes.push_back(m);
        return m->inputs[k];
      }
  return "";
}

// Tanh's argument is sqrt(2/pi) * (x + 0.044715 * x^3) in the usual spellings; returns x or "".
std::string tanh_input(const GraphView& v, const Node& tanh, std::vector<const Node*>& nodes) {
  float c = 0;
  const Node* scale = v.produced_by(tanh.inputs[0], "Mul");
  if (!scale || !v.internal(tanh.inputs[0])) return "";
  std::string inner;
  for (size_t k = 0; k < 2; ++k)
    if (v.scalar(scale->inputs[1 - k], &c) && near(c, std::sqrt(2.0 / M_PI))) inner = scale->inputs[k];
  const Node* sum = inner.empty() ? nullptr : v.produced_by(inner, "Add");
  if (!sum || !v.internal(inner)) return "";
  for (size_t k = 0; k < 2; ++k) {
    const std::string x = sum->inputs[k], cubic = sum->inputs[1 - k];
    const Node* m = v.produced_by(cubic, "Mul");
    if (!m || !v.internal(cubic)) continue;
    for (size_t j = 0; j < 2; ++j) {
      const Node* p = v.produced_by(m->inputs[j], "Pow");
      float three = 0;
      if (p && p->inputs[0] == x && v.scalar(p->inputs[1], &three) && three == 3.f && v.scalar(m->inputs[1 - j], &c) &&
          near(c, 0.044715) && v.internal(m->inputs[j])) {
        nodes.insert(nodes.end(), {scale, sum, m, p});
        return x;
      }
    }
  }
  return "";
}

}  // namespace

bool fuse_gelu(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  return rewrite_each(g, [&](const GraphView& v, size_t i) {
    const Node& last = g.nodes[i];
    if (!is_op(last, "Mul")) return false;
    // last = Mul(a, b): one side is 0.5 or x*0.5 or x*(1+f), the other the rest.
    for (const char* form : {"Erf", "Tanh"}) {
      std::vector<const Node*> nodes{&last};
      std::string x;
      const Node* f = nullptr;
      for (size_t k = 0; k < 2 && !f; ++k) {
        const std::string a = last.inputs[k], b = last.inputs[1 - k];
        float half = 0;
        const Node* inner = v.produced_by(a, "Mul");
        if (!inner || !v.internal(a)) continue;
        // (x * (1 + f)) * 0.5
        if (v.scalar(b, &half) && half == 0.5f)
          for (size_t j = 0; j < 2 && !f; ++j)
            if ((f = one_plus(v, inner->inputs[j], form))) {
              x = inner->inputs[1 - j];
              nodes.insert(nodes.end(), {inner, v.produced_by(inner->inputs[j], "Add")});
            }
        // (x * 0.5) * (1 + f)
        if (!f)
          for (size_t j = 0; j < 2 && !f; ++j)
            if (v.scalar(inner->inputs[1 - j], &half) && half == 0.5f && (f = one_plus(v, b, form))) {
              x = inner->inputs[j];
              nodes.insert(nodes.end(), {inner, v.produced_by(b, "Add")});
            }
      }
      if (!f) continue;
      nodes.push_back(f);
      const std::string arg = std::string(form) == "Erf" ? erf_input(v, *f, nodes) : tanh_input(v, *f, nodes);
      if (arg != x) continue;
      Node gelu = fused_node("Gelu", last.name + "_gelu", {x}, {last.outputs[0]});
      gelu.attrs["approximate"] = Attribute::text(std::string(form) == "Erf" ? "none" : "tanh");
      std::vector<int> idx;
      for (const Node* n : nodes) idx.push_back(v.index_of(n));
      replace_nodes(g, log, "fuse_gelu", idx, gelu);
      return true;
    }
    return false;
  });
}

}  // namespace normrt
