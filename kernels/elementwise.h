#pragma once
// Element-wise float32 kernels: activations, unary math and binary arithmetic.
#include <cstdint>

#include "kernels/isa.h"

namespace normrt::kernels {

enum class Unary {
  relu, leaky_relu, clip, sigmoid, hard_sigmoid, hard_swish,
  sqrt, reciprocal, neg, abs, exp, tanh, erf,
  gelu,       // x * 0.5 * (1 + erf(x / sqrt(2)))
  gelu_tanh,  // x * 0.5 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))
  log, floor, ceil,
  round,      // half to even
  sign, sin, cos,
  softplus,   // log(1 + e^x)
  softsign,   // x / (1 + |x|)
  elu,        // x < 0 ? a (e^x - 1) : x
  selu,       // b * (x <= 0 ? a (e^x - 1) : x)
  celu,       // max(0, x) + min(0, a (e^(x/a) - 1)), a > 0
  thresholded_relu,  // x > a ? x : 0 (NaN stays NaN)
  mish,       // x * tanh(softplus(x))
  tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh,
  shrink,     // x < -a ? x + b : x > a ? x - b : 0
};
struct UnaryParams {
  Unary op = Unary::relu;
  // leaky_relu, elu, celu, thresholded_relu: alpha; clip: min, max;
  // hard_sigmoid, selu: alpha, beta (selu: gamma)
  float a = 0, b = 0;
};

// max and min propagate NaN from either side (as numpy's maximum); prelu is
// a < 0 ? a * b : a; fmod is C's (the sign of a), mod Python's (the sign of
// b; integers only: Mod of floats is fmod).
enum class Binary { add, sub, mul, div, max, min, prelu, fmod, mod };

struct ElementwiseTable {
  void (*unary)(const UnaryParams& p, const float* x, float* y, int64_t n);
  // y[i] = a[i * sa] op b[i * sb] with sa, sb in {0, 1} (0 broadcasts a scalar).
  void (*binary)(Binary op, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n);
};
NORMRT_ISA_TABLE(ElementwiseTable, elementwise_table)

// Threaded over chunks of the flat array.
void unary(Isa isa, const UnaryParams& p, const float* x, float* y, int64_t n);

}  // namespace normrt::kernels
