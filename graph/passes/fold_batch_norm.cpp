// Inference BatchNormalization folded into the Conv in front of it:
//   W'[o] = W[o] * s[o],  b'[o] = (b[o] - mean[o]) * s[o] + beta[o],  s = gamma / sqrt(var + eps)
// computed in double, stored float32. Only when the BN's parameters and the
// Conv's weights are constants and the Conv's output feeds the BN alone.
#include <cmath>

#include "graph/passes/pass_manager.h"

namespace normrt {
namespace {

bool all_float_constants(const Graph& g, const Node& n, size_t from, size_t to) {
  for (size_t k = from; k < to; ++k) {
    const Tensor* t = k < n.inputs.size() ? g.constant(n.inputs[k]) : nullptr;
    if (!t || t->dtype != DType::float32) return false;
  }
  return true;
}

// The read-only check: the Conv index to fold into, or -1.
int foldable_conv(const Graph& g, const Node& bn, const std::map<std::string, int>& uses) {
  if (bn.op_type != "BatchNormalization" || !bn.domain.empty()) return -1;
  if (bn.attr_i("training_mode", 0) != 0 || bn.outputs.size() != 1 || bn.num_inputs() != 5) return -1;
  if (!all_float_constants(g, bn, 1, 5)) return -1;
  int p = producer_of(g, bn.inputs[0]);
  if (p < 0) return -1;
  const Node& conv = g.nodes[size_t(p)];
  if (conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1) return -1;
  if (uses.at(conv.outputs[0]) != 1 || g.is_output(conv.outputs[0])) return -1;
  if (!all_float_constants(g, conv, 1, conv.num_inputs())) return -1;
  const Tensor* w = g.constant(conv.inputs[1]);
  const int64_t C = w->shape.empty() ? -1 : w->shape[0];
  for (size_t k = 1; k < 5; ++k)
    if (g.constant(bn.inputs[k])->shape != Shape{C}) return -1;
  return p;
}

}  // namespace

bool fold_batch_norm(Graph& g, std::vector<Rewrite>& log) {
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    int p = foldable_conv(g, g.nodes[i], g.consumer_counts());
    if (p < 0) continue;
    Node bn = g.nodes[i];
    Node& conv = g.nodes[size_t(p)];
    auto param = [&](size_t k) { return g.constant(bn.inputs[k])->data<float>(); };
    const float *gamma = param(1), *beta = param(2), *mean = param(3), *var = param(4);
    const double eps = bn.attr_f("epsilon", 1e-5f);
    const Tensor& w = *g.constant(conv.inputs[1]);
    const int64_t C = w.shape[0], per = w.numel() / std::max<int64_t>(C, 1);
    const Tensor* b = conv.num_inputs() > 2 ? g.constant(conv.inputs[2]) : nullptr;

    auto w2 = std::make_shared<Tensor>(DType::float32, w.shape);
    auto b2 = std::make_shared<Tensor>(DType::float32, Shape{C});
    for (int64_t c = 0; c < C; ++c) {
      const double s = double(gamma[c]) / std::sqrt(double(var[c]) + eps);
      for (int64_t j = 0; j < per; ++j) w2->data<float>()[c * per + j] = float(double(w.data<float>()[c * per + j]) * s);
      const double bias = b ? double(b->data<float>()[c]) : 0.0;
      b2->data<float>()[c] = float((bias - double(mean[c])) * s + double(beta[c]));
    }
    // New initializers: the originals may be shared with other nodes.
    std::string wn = unique_name(g, conv.name + "_W_bnfold"), bname = unique_name(g, conv.name + "_B_bnfold");
    g.initializers[wn] = w2;
    g.initializers[bname] = b2;
    conv.inputs.resize(3);
    conv.inputs[1] = wn;
    conv.inputs[2] = bname;
    conv.outputs[0] = bn.outputs[0];
    log.push_back(Rewrite{"fold_batch_norm", {conv.label(), bn.label()}, conv.label()});
    g.nodes.erase(g.nodes.begin() + long(i));
    --i;
    changed = true;
  }
  return changed;
}

}  // namespace normrt
