#include "kernels/batch_norm.h"

#include <algorithm>
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
  if (inner == 1) {  // [N, C]: vectorize across channels, split long rows
    auto channels = batch_norm_table_for(isa).scale_shift_channels;
    const int64_t chunks = (C + kNormChunk - 1) / kNormChunk;
#pragma omp parallel for schedule(static) if (N * C > 32768)
    for (int64_t j = 0; j < N * chunks; ++j) {
      const int64_t n = j / chunks, c = (j % chunks) * kNormChunk, len = std::min(kNormChunk, C - c);
      channels(x + n * C + c, y + n * C + c, len, scale + c, shift + c);
    }
    return;
  }
  // Rows of (n, c), long ones cut into chunks so a single huge row still uses every thread.
  auto row = batch_norm_table_for(isa).scale_shift_row;
  const int64_t chunks = (inner + kNormChunk - 1) / kNormChunk, jobs = N * C * chunks;
#pragma omp parallel for schedule(static) if (N * C * inner > 32768)
  for (int64_t j = 0; j < jobs; ++j) {
    const int64_t r = j / chunks, b = (j % chunks) * kNormChunk, c = r % C;
    row(x + r * inner + b, y + r * inner + b, std::min(kNormChunk, inner - b), scale[c], shift[c]);
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
