// Activations and unary math (Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid,
// HardSwish, Gelu, Elu, Selu, Celu, ThresholdedRelu, Softplus, Softsign,
// Mish, Sqrt, Reciprocal, Neg, Abs, Exp, Log, Tanh, Erf, Floor, Ceil, Round,
// Sign, Shrink, and the trigonometric and hyperbolic functions and their inverses)
// on the vectorized element-wise kernels.
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

// Gelu (opset 20, or normrt.Gelu from the fusion pass): approximate="none"|"tanh".
std::unique_ptr<Kernel> gelu(const BindContext& c) {
  std::string approx = c.node.attr_s("approximate", "none");
  if (approx != "none" && approx != "tanh") c.fail("unknown approximate '" + approx + "'");
  return unary_op(approx == "tanh" ? Unary::gelu_tanh : Unary::gelu)(c);
}

}  // namespace

void register_activation_ops(Registry& r) {
  r.add("Relu", 6, 18, unary_op(Unary::relu));
  r.add("LeakyRelu", 6, 18, unary_op(Unary::leaky_relu, 0.01f, 0, "alpha"));
  r.add("Sigmoid", 6, 18, unary_op(Unary::sigmoid));
  r.add("HardSigmoid", 6, 18, unary_op(Unary::hard_sigmoid, 0.2f, 0.5f, "alpha", "beta"));
  r.add("HardSwish", 14, 18, unary_op(Unary::hard_swish));
  r.add("Clip", 6, 18, clip);
  r.add("Sqrt", 6, 18, unary_op(Unary::sqrt));
  r.add("Reciprocal", 6, 18, unary_op(Unary::reciprocal));
  r.add("Neg", 6, 18, unary_op(Unary::neg));
  r.add("Abs", 6, 18, unary_op(Unary::abs));
  r.add("Exp", 6, 18, unary_op(Unary::exp));
  r.add("Tanh", 6, 18, unary_op(Unary::tanh));
  r.add("Erf", 9, 18, unary_op(Unary::erf));
  r.add("Log", 6, 18, unary_op(Unary::log));
  r.add("Floor", 6, 18, unary_op(Unary::floor));
  r.add("Ceil", 6, 18, unary_op(Unary::ceil));
  r.add("Round", 11, 18, unary_op(Unary::round));
  r.add("Sign", 9, 18, unary_op(Unary::sign));
  r.add("Sin", 7, 18, unary_op(Unary::sin));
  r.add("Cos", 7, 18, unary_op(Unary::cos));
  r.add("Softplus", 1, 18, unary_op(Unary::softplus));
  r.add("Softsign", 1, 18, unary_op(Unary::softsign));
  r.add("Elu", 6, 18, unary_op(Unary::elu, 1.f, 0, "alpha"));
  r.add("Selu", 6, 18, unary_op(Unary::selu, 1.67326319217681884765625f, 1.05070102214813232421875f, "alpha", "gamma"));
  r.add("Celu", 12, 18, unary_op(Unary::celu, 1.f, 0, "alpha"));
  r.add("ThresholdedRelu", 10, 18, unary_op(Unary::thresholded_relu, 1.f, 0, "alpha"));
  r.add("Mish", 18, 18, unary_op(Unary::mish));
  r.add("Tan", 7, 18, unary_op(Unary::tan));
  r.add("Asin", 7, 18, unary_op(Unary::asin));
  r.add("Acos", 7, 18, unary_op(Unary::acos));
  r.add("Atan", 7, 18, unary_op(Unary::atan));
  r.add("Sinh", 9, 18, unary_op(Unary::sinh));
  r.add("Cosh", 9, 18, unary_op(Unary::cosh));
  r.add("Asinh", 9, 18, unary_op(Unary::asinh));
  r.add("Acosh", 9, 18, unary_op(Unary::acosh));
  r.add("Atanh", 9, 18, unary_op(Unary::atanh));
  r.add("Shrink", 9, 18, unary_op(Unary::shrink, 0.5f, 0.f, "lambd", "bias"));
  r.add("Gelu", 20, 20, gelu);
  r.add("Gelu", 1, 999, gelu, "normrt");
}

}  // namespace normrt
