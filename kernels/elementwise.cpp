#include "kernels/elementwise.h"

namespace normrt::kernels {

void unary(Isa isa, const UnaryParams& p, const float* x, float* y, int64_t n) {
  constexpr int64_t kChunk = 16384;
  auto f = elementwise_table_for(isa).unary;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t b = c * kChunk, e = b + kChunk < n ? b + kChunk : n;
    f(p, x + b, y + b, e - b);
  }
}

}  // namespace normrt::kernels
