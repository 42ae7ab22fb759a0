#pragma once
// Element-wise float32 kernels: activations and the four arithmetic ops.
#include <cstdint>

#include "kernels/isa.h"

namespace normrt::kernels {

enum class Unary {
  relu, leaky_relu, clip, sigmoid, hard_sigmoid, hard_swish,
  sqrt, reciprocal, neg, abs, exp, tanh, erf,
  gelu,       // x * 0.5 * (1 + erf(x / sqrt(2)))
  gelu_tanh,  // x * 0.5 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))
};
struct UnaryParams {
  Unary op = Unary::relu;
  float a = 0, b = 0;  // leaky_relu: alpha; clip: min, max; hard_sigmoid: alpha, beta
};

enum class Binary { add, sub, mul, div };

struct ElementwiseTable {
  void (*unary)(const UnaryParams& p, const float* x, float* y, int64_t n);
  // y[i] = a[i * sa] op b[i * sb] with sa, sb in {0, 1} (0 broadcasts a scalar).
  void (*binary)(Binary op, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n);
};
NORMRT_ISA_TABLE(ElementwiseTable, elementwise_table)

// Threaded over chunks of the flat array.
void unary(Isa isa, const UnaryParams& p, const float* x, float* y, int64_t n);

}  // namespace normrt::kernels
