#include "kernels/batch_norm.h"

#include <cmath>

#include "kernels/layer_norm.h"

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

void batch_norm_training(Isa isa, const BatchNormTrainingArgs& a) {
  const auto& t = layer_norm_table_for(isa);
  const int64_t count = a.N * a.inner;
#pragma omp parallel for schedule(static) if (a.N * a.C * a.inner > 32768)
  for (int64_t c = 0; c < a.C; ++c) {
    auto row = [&](int64_t n) { return a.x + (n * a.C + c) * a.inner; };
    // Same scheme as LayerNorm (kernels/layer_norm.h): pivot-shifted two-pass.
    const float pivot = count ? row(0)[0] : 0.f;
    double sum = 0, sq = 0;
    for (int64_t n = 0; n < a.N; ++n) sum += t.sum_shifted(row(n), a.inner, pivot);
    const float delta = count ? float(sum / double(count)) : 0.f;
    for (int64_t n = 0; n < a.N; ++n) sq += t.sum_sq_centered(row(n), a.inner, pivot, delta);
    const double mean = double(pivot) + (count ? sum / double(count) : 0.0), var = count ? sq / double(count) : 0.0;
    const float rstd = float(1.0 / std::sqrt(var + double(a.epsilon)));
    for (int64_t n = 0; n < a.N; ++n)
      t.normalize_affine(row(n), a.y + (n * a.C + c) * a.inner, a.inner, pivot, delta, rstd * a.gamma[c], a.beta[c]);
    const double m = a.momentum;
    if (a.running_mean_out) a.running_mean_out[c] = float(a.running_mean[c] * m + mean * (1 - m));
    if (a.running_var_out) a.running_var_out[c] = float(a.running_var[c] * m + var * (1 - m));
  }
}

}  // namespace normrt::kernels
