// Inference BatchNormalization folded into the linear op in front of it:
//   s = gamma / sqrt(var + eps)
//   Conv:   W'[o] = W[o] * s[o],           b' = (b - mean) * s + beta
//   ConvTranspose: the same on its [C_in, C_out/group, k...] weights
//   Gemm:   B' scaled per output column,   C' = (beta_gemm * C - mean) * s + beta
//   MatMul (+ Add bias) with rank-2 output: the same on the weight columns and bias.
// Computed in double, stored float32, in new initializers (the old ones may be
// shared). Only when the BN is in inference mode with constant parameters,
// the weights are constants, and each folded output feeds nothing else and
// is not a graph output.
#include <cmath>

#include "graph/passes/pass_manager.h"

namespace normrt {
namespace {

const Tensor* float_constant(const Graph& g, const std::string& v) {
  const Tensor* t = v.empty() ? nullptr : g.constant(v);
  return t && t->dtype == DType::float32 ? t : nullptr;
}

struct Fold {
  enum class Kind { none, conv, conv_transpose, gemm, matmul } kind = Kind::none;
  int linear = -1, add = -1;  // node indices (add: MatMul's bias Add, or -1)
  std::string bias;           // MatMul's bias initializer
};

// Whether a MatMul's output is known to be rank 2 (BN's channel is then its last dim).
bool rank2_input(const Graph& g, const GraphView& v, const std::string& a) {
  auto d = g.declared.find(a);
  if (d != g.declared.end()) return d->second.dims.size() == 2;
  return v.produced_by(a, "Flatten") || v.produced_by(a, "Gemm");
}

Fold find(const Graph& g, const GraphView& v, const Node& bn, int64_t* channels) {
  Fold f;
  if (!is_op(bn, "BatchNormalization") || bn.attr_i("training_mode", 0) != 0 || bn.outputs.size() != 1 ||
      bn.num_inputs() != 5)
    return f;
  const Tensor* p[5] = {};
  for (size_t k = 1; k < 5; ++k)
    if (!(p[k] = float_constant(g, bn.inputs[k])) || p[k]->shape.size() != 1) return f;
  const int64_t C = p[1]->shape[0];
  for (size_t k = 2; k < 5; ++k)
    if (p[k]->shape[0] != C) return f;
  *channels = C;
  if (!v.internal(bn.inputs[0])) return f;
  const int at = v.producer_of(bn.inputs[0]);
  if (at < 0) return f;
  const Node& n = g.nodes[size_t(at)];
  if (is_op(n, "Conv")) {
    const Tensor* w = float_constant(g, n.inputs.at(1));
    if (!w || w->shape.empty() || w->shape[0] != C) return f;
    if (n.num_inputs() > 2 && !float_constant(g, n.inputs[2])) return f;
    return Fold{Fold::Kind::conv, at, -1, ""};
  }
  if (is_op(n, "ConvTranspose")) {
    const Tensor* w = float_constant(g, n.inputs.at(1));
    if (!w || w->shape.size() < 3 || w->shape[1] * n.attr_i("group", 1) != C) return f;
    if (n.num_inputs() > 2 && !float_constant(g, n.inputs[2])) return f;
    return Fold{Fold::Kind::conv_transpose, at, -1, ""};
  }
  if (is_op(n, "Gemm")) {
    const Tensor* w = float_constant(g, n.inputs.at(1));
    const bool tb = n.attr_i("transB", 0) != 0;
    if (!w || w->shape.size() != 2 || w->shape[tb ? 0 : 1] != C) return f;
    if (n.num_inputs() > 2) {
      const Tensor* c = float_constant(g, n.inputs[2]);
      if (!c || !(c->numel() == 1 || (c->numel() == C && c->shape.back() == C))) return f;
    }
    return Fold{Fold::Kind::gemm, at, -1, ""};
  }
  // MatMul, or MatMul + Add(bias).
  const Node* mm = &n;
  Fold r{Fold::Kind::matmul, -1, -1, ""};
  if (is_op(n, "Add")) {
    for (size_t k = 0; k < 2; ++k) {
      const Node* cand = v.produced_by(n.inputs[k], "MatMul");
      const Tensor* b = float_constant(g, n.inputs[1 - k]);
      if (cand && b && b->numel() == C && b->shape.back() == C && v.internal(n.inputs[k])) {
        mm = cand;
        r.add = at;
        r.bias = n.inputs[1 - k];
      }
    }
    if (r.add < 0) return f;
  }
  if (!is_op(*mm, "MatMul")) return f;
  const Tensor* w = float_constant(g, mm->inputs.at(1));
  if (!w || w->shape.size() != 2 || w->shape[1] != C || !rank2_input(g, v, mm->inputs[0])) return f;
  r.linear = v.index_of(mm);
  return r;
}

}  // namespace

bool fold_batch_norm(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  return rewrite_each(g, [&](const GraphView& v, size_t i) {
    int64_t C = 0;
    const Fold f = find(g, v, g.nodes[i], &C);
    if (f.kind == Fold::Kind::none) return false;
    const Node bn = g.nodes[i];
    auto param = [&](size_t k) { return g.constant(bn.inputs[k])->data<float>(); };
    const float *gamma = param(1), *beta = param(2), *mean = param(3), *var = param(4);
    const double eps = bn.attr_f("epsilon", 1e-5f);
    std::vector<double> s(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) s[size_t(c)] = double(gamma[c]) / std::sqrt(double(var[c]) + eps);

    Node linear = g.nodes[size_t(f.linear)];
    const Tensor& w = *g.constant(linear.inputs[1]);
    auto w2 = std::make_shared<Tensor>(DType::float32, w.shape);
    // Which output channel each weight element feeds.
    const bool channel_first = f.kind == Fold::Kind::conv || (f.kind == Fold::Kind::gemm && linear.attr_i("transB", 0));
    const int64_t per = w.numel() / std::max<int64_t>(C, 1);
    // ConvTranspose weights are [C_in, C_out/group, k...]: channel (i / icg) * ocg + j.
    const bool transposed = f.kind == Fold::Kind::conv_transpose;
    const int64_t ocg = transposed ? w.shape[1] : 1, icg = transposed ? w.shape[0] / linear.attr_i("group", 1) : 1,
                  k = transposed ? w.numel() / (w.shape[0] * w.shape[1]) : 1;
    for (int64_t e = 0; e < w.numel(); ++e) {
      int64_t c = channel_first ? e / per : e % C;
      if (transposed) {
        const int64_t i = e / (ocg * k), j = (e / k) % ocg;
        c = (i / icg) * ocg + j;
      }
      w2->data<float>()[e] = float(double(w.data<float>()[e]) * s[size_t(c)]);
    }
    // The bias the BN sees before normalizing, per channel.
    std::vector<double> bias(static_cast<size_t>(C), 0.0);
    std::string bias_name = f.kind == Fold::Kind::matmul ? f.bias : linear.num_inputs() > 2 ? linear.inputs[2] : "";
    if (!bias_name.empty()) {
      const Tensor& b = *g.constant(bias_name);
      const double scale = f.kind == Fold::Kind::gemm ? linear.attr_f("beta", 1.f) : 1.0;
      for (int64_t c = 0; c < C; ++c) bias[size_t(c)] = scale * b.data<float>()[b.numel() == 1 ? 0 : c];
    }
    auto b2 = std::make_shared<Tensor>(DType::float32, Shape{C});
    for (int64_t c = 0; c < C; ++c)
      b2->data<float>()[c] = float((bias[size_t(c)] - double(mean[c])) * s[size_t(c)] + double(beta[c]));

    const std::string wn = unique_name(g, linear.name + "_W_bnfold"), bname = unique_name(g, linear.name + "_B_bnfold");
    g.initializers[wn] = w2;
    g.initializers[bname] = b2;
    linear.inputs[1] = wn;
    if (f.kind == Fold::Kind::matmul) {
      // The MatMul stays (new weight); an Add, the existing one or a new one, applies the bias.
      Node add;
      if (f.add >= 0) {
        add = g.nodes[size_t(f.add)];
        for (auto& in : add.inputs)
          if (in == f.bias) in = bname;
      } else {
        add.name = bn.name + "_bias";
        add.op_type = "Add";
        add.inputs = {linear.outputs[0], bname};
      }
      add.outputs = {bn.outputs[0]};
      g.nodes[size_t(f.linear)] = linear;
      std::vector<int> remove{int(i)};
      if (f.add >= 0) remove.insert(remove.begin(), f.add);
      replace_nodes(g, log, "fold_batch_norm", remove, add);
    } else {
      if (f.kind == Fold::Kind::gemm) linear.attrs["beta"] = Attribute::real(1.f);
      linear.inputs.resize(3);
      linear.inputs[2] = bname;
      linear.outputs[0] = bn.outputs[0];
      replace_nodes(g, log, "fold_batch_norm", {f.linear, int(i)}, linear);
    }
    return true;
  });
}

}  // namespace normrt
