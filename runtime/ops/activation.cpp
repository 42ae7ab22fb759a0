// Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish on the vectorized
// element-wise kernels.
#include <limits>

#include "kernels/elementwise.h"
#include "runtime/registry.h"

namespace normrt {
namespace {
using kernels::Unary;
using kernels::UnaryParams;

KernelFactory unary_op(Unary op, float a_default = 0, float b_default = 0, const char* a_name = nullptr,
                       const char* b_name = nullptr) {
  return [=](const BindContext& c) {
    UnaryParams p{op, a_name ? c.node.attr_f(a_name, a_default) : a_default,
                  b_name ? c.node.attr_f(b_name, b_default) : b_default};
    int64_t n = shape_numel(c.in_shape(0));
    Isa isa = c.isa;
    return kernel_fn([=](const RunArgs& a) {
      kernels::unary(isa, p, static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), n);
    });
  };
}

std::unique_ptr<Kernel> clip(const BindContext& c) {
  int64_t n = shape_numel(c.in_shape(0));
  Isa isa = c.isa;
  constexpr float inf = std::numeric_limits<float>::infinity();
  if (c.opset < 11) {
    UnaryParams p{Unary::clip, c.node.attr_f("min", -inf), c.node.attr_f("max", inf)};
    return kernel_fn([=](const RunArgs& a) {
      kernels::unary(isa, p, static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), n);
    });
  }
  bool has_min = c.has_input(1), has_max = c.has_input(2);
  return kernel_fn([=](const RunArgs& a) {
    UnaryParams p{Unary::clip, has_min ? *static_cast<const float*>(a.in[1]) : -inf,
                  has_max ? *static_cast<const float*>(a.in[2]) : inf};
    kernels::unary(isa, p, static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), n);
  });
}

}  // namespace

void register_activation_ops(Registry& r) {
  r.add("Relu", 6, 18, unary_op(Unary::relu));
  r.add("LeakyRelu", 6, 18, unary_op(Unary::leaky_relu, 0.01f, 0, "alpha"));
  r.add("Sigmoid", 6, 18, unary_op(Unary::sigmoid));
  r.add("HardSigmoid", 6, 18, unary_op(Unary::hard_sigmoid, 0.2f, 0.5f, "alpha", "beta"));
  r.add("HardSwish", 14, 18, unary_op(Unary::hard_swish));
  r.add("Clip", 6, 18, clip);
}

}  // namespace normrt
