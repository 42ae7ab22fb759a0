#include "kernels/batch_norm.h"

#include <cmath>

namespace normrt::kernels {

void batch_norm_fold_params(const float* gamma, const float* beta, const float* mean, const float* var, float eps,
                            int64_t C, float* scale, float* shift) {
  for (int64_t c = 0; c < C; ++c) {
    double s = double(gamma[c]) / std::sqrt(double(var[c]) + double(eps));
    scale[c] = float(s);
    shift[c] = float(double(beta[c]) - double(mean[c]) * s);
  }
}

void batch_norm_inference(Isa isa, const float* x, float* y, const float* scale, const float* shift, int64_t N,
                          int64_t C, int64_t inner) {
  auto row = batch_norm_table_for(isa).scale_shift_row;
  const int64_t rows = N * C;
#pragma omp parallel for schedule(static) if (rows * inner > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t c = r % C;
    row(x + r * inner, y + r * inner, inner, scale[c], shift[c]);
  }
}

}  // namespace normrt::kernels
