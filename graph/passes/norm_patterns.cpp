#include "graph/passes/norm_patterns.h"

#include <algorithm>

namespace normrt {

bool match_division(const GraphView& v, const Node& norm, Division* d) {
  if (is_op(norm, "Div")) {
    d->value = norm.inputs[0];
    d->divisor = norm.inputs[1];
    return true;
  }
  if (!is_op(norm, "Mul")) return false;
  for (size_t k = 0; k < 2; ++k)
    if (const Node* r = v.produced_by(norm.inputs[k], "Reciprocal"); r && v.internal(norm.inputs[k])) {
      d->value = norm.inputs[1 - k];
      d->divisor = r->inputs[0];
      d->nodes.push_back(v.index_of(r));
      return true;
    }
  return false;
}

int64_t trailing_reduce_axes(const Graph& g, const Node& mean) {
  std::vector<int64_t> axes;
  if (mean.attr_i("keepdims", 1) != 1 || !reduce_axes_of(g, mean, &axes) || axes.empty()) return 0;
  std::sort(axes.begin(), axes.end());
  const int64_t k = int64_t(axes.size());
  for (int64_t i = 0; i < k; ++i)
    if (axes[size_t(i)] != i - k) return 0;
  return k;
}

bool match_root_mean_square(const Graph& g, const GraphView& v, const std::string& divisor, const std::string& value,
                            RootMeanSquare* r) {
  const Node* sqrt = v.produced_by(divisor, "Sqrt");
  if (!sqrt || !v.internal(divisor)) return false;
  const Node* add = v.produced_by(sqrt->inputs[0], "Add");
  if (!add || !v.internal(sqrt->inputs[0])) return false;
  std::string ms;
  const Node* mean = nullptr;
  for (size_t k = 0; k < 2 && !mean; ++k)
    if (v.scalar(add->inputs[1 - k], &r->eps) && (mean = v.produced_by(add->inputs[k], "ReduceMean"))) ms = add->inputs[k];
  if (!mean || !v.internal(ms)) return false;
  const Node* sq = v.produced_by(mean->inputs[0], "Pow");
  float two = 0;
  if (sq) {
    if (sq->inputs[0] != value || !v.scalar(sq->inputs[1], &two) || two != 2.f) return false;
    r->value_reads = 1;
  } else {
    sq = v.produced_by(mean->inputs[0], "Mul");
    if (!sq || sq->inputs[0] != value || sq->inputs[1] != value) return false;
    r->value_reads = 2;
  }
  r->axes = trailing_reduce_axes(g, *mean);
  if (r->axes == 0 || !v.internal(mean->inputs[0])) return false;
  for (const Node* n : {sq, mean, add, sqrt}) r->nodes.push_back(v.index_of(n));
  return true;
}

bool match_rms_division(const Graph& g, const GraphView& v, const Node& norm, Division* d, RootMeanSquare* r,
                        std::vector<int>* nodes) {
  if (!match_division(v, norm, d) || !match_root_mean_square(g, v, d->divisor, d->value, r)) return false;
  nodes->insert(nodes->end(), d->nodes.begin(), d->nodes.end());
  nodes->insert(nodes->end(), r->nodes.begin(), r->nodes.end());
  return true;
}

Node normalization_node(const char* op, std::string name, std::vector<std::string> inputs, const std::string& out,
                        const RootMeanSquare& r) {
  Node n = fused_node(op, std::move(name), std::move(inputs), {out});
  n.attrs["axis"] = Attribute::integer(-r.axes);
  n.attrs["epsilon"] = Attribute::real(r.eps);
  return n;
}

void match_affine(const Graph& g, const GraphView& v, std::string& out, std::string* gamma, std::string* beta,
                  std::vector<int>& nodes) {
  auto step = [&](const char* op, std::string* param) {
    const int i = param ? v.sole_reader(out) : -1;
    if (i < 0) return;
    const Node& n = g.nodes[size_t(i)];
    const std::string other = is_op(n, op) ? other_input(n, out) : "";
    if (other.empty() || !v.constant(other)) return;
    *param = other;
    nodes.push_back(i);
    out = n.outputs[0];
  };
  step("Mul", gamma);
  step("Add", beta);
}

}  // namespace normrt
