#include "kernels/softmax.h"

#include <cmath>
#include <limits>

namespace normrt::kernels {

void softmax(Isa isa, const float* x, float* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  if (inner == 1) {
    auto row = log ? softmax_table_for(isa).log_row : softmax_table_for(isa).row;
#pragma omp parallel for schedule(static) if (outer * n > 16384)
    for (int64_t o = 0; o < outer; ++o) row(x + o * n, y + o * n, n);
    return;
  }
  // Softmax over a strided axis: one pass per (outer, inner) column.
#pragma omp parallel for collapse(2) schedule(static) if (outer * n * inner > 16384)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      const float* xs = x + o * n * inner + j;
      float* ys = y + o * n * inner + j;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < n; ++i) mx = std::max(mx, xs[i * inner]);
      float sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += (ys[i * inner] = std::exp(xs[i * inner] - mx));
      if (log) {
        const float shift = mx + std::log(sum);
        for (int64_t i = 0; i < n; ++i) ys[i * inner] = xs[i * inner] - shift;
      } else {
        for (int64_t i = 0; i < n; ++i) ys[i * inner] /= sum;
      }
    }
}

}  // namespace normrt::kernels
