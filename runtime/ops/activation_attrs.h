#pragma once
// The activation a fused node carries (attributes activation, activation_alpha,
// activation_beta, written by graph/passes), as a oneDNN post-op or as our
// own element-wise kernel.
#include "graph/ir.h"
#include "kernels/dnnl_ops.h"
#include "kernels/elementwise.h"

namespace normrt {

struct FusedActivation {
  bool present = false;
  kernels::PostOp post;
  kernels::UnaryParams unary;
};

inline FusedActivation fused_activation(const Node& n, const std::string& where) {
  FusedActivation a;
  const std::string kind = n.attr_s("activation", "");
  if (kind.empty()) return a;
  using P = kernels::PostOp::Kind;
  using U = kernels::Unary;
  const float alpha = n.attr_f("activation_alpha", 0), beta = n.attr_f("activation_beta", 0);
  struct Entry { const char* name; P post; U unary; };
  static const Entry table[] = {
      {"Relu", P::relu, U::relu},         {"LeakyRelu", P::leaky_relu, U::leaky_relu},
      {"Clip", P::clip, U::clip},         {"Sigmoid", P::sigmoid, U::sigmoid},
      {"HardSwish", P::hard_swish, U::hard_swish}, {"Gelu", P::gelu, U::gelu},
      {"GeluTanh", P::gelu_tanh, U::gelu_tanh},
  };
  for (auto& e : table)
    if (kind == e.name) {
      a.present = true;
      a.post.kind = e.post;
      a.post.alpha = alpha;
      a.post.beta = beta;
      a.unary = kernels::UnaryParams{e.unary, alpha, beta};
      return a;
    }
  throw Error(where + ": unknown fused activation '" + kind + "'");
}

}  // namespace normrt
