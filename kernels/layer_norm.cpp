#include "kernels/layer_norm.h"

#include <cmath>
#include <vector>

namespace normrt::kernels {
namespace {

struct RowStats {
  float pivot = 0, delta = 0, rstd = 0;
  double mean = 0;
};

// Statistics of row r, its chunks done one after another (rows of one chunk,
// or the caller's chunk partials already combined).
RowStats finish(double sum, double sumsq, float pivot, float delta, int64_t n, const LayerNormArgs& a) {
  RowStats s;
  s.pivot = pivot;
  s.delta = delta;
  s.mean = double(pivot) + sum / double(n);
  s.rstd = float(1.0 / std::sqrt(sumsq / double(n) + double(a.epsilon)));
  return s;
}

}  // namespace

void layer_norm(Isa isa, const LayerNormArgs& a) {
  const auto& t = layer_norm_table_for(isa);
  const int64_t rows = a.rows, n = a.n;
  if (rows == 0 || n == 0) return;
  const int64_t chunks = (n + kNormChunk - 1) / kNormChunk;
  // The row as it is normalized: x, or x + residual once pass 1 has written it.
  const float* src = a.residual ? a.sum_out : a.x;
  auto pivot_of = [&](int64_t r) { return a.rms ? 0.f : a.residual ? a.x[r * n] + a.residual[r * n] : a.x[r * n]; };
  // Pass 1 on chunk [b, b+len) of row r: writes the sum for Add+LN, returns the shifted sum (or sum of squares for RMS).
  auto pass1 = [&](int64_t r, int64_t b, int64_t len, float pivot) -> float {
    const int64_t o = r * n + b;
    if (a.residual) {
      float s = t.add_sum_shifted(a.x + o, a.residual + o, a.sum_out + o, len, pivot);
      return a.rms ? t.sum_sq(a.sum_out + o, len) : s;
    }
    return a.rms ? t.sum_sq(a.x + o, len) : t.sum_shifted(a.x + o, len, pivot);
  };
  auto pass3 = [&](int64_t r, int64_t b, int64_t len, const RowStats& s) {
    const int64_t o = r * n + b;
    const float* g = a.gamma ? a.gamma + b : nullptr;
    if (a.rms) t.scale_rows(src + o, a.y + o, len, s.rstd, g);
    else t.normalize(src + o, a.y + o, len, s.pivot, s.delta, s.rstd, g, a.beta ? a.beta + b : nullptr);
  };
  auto outputs = [&](int64_t r, const RowStats& s) {
    if (a.mean_out) a.mean_out[r] = float(s.mean);
    if (a.inv_std_out) a.inv_std_out[r] = s.rstd;
  };

  if (chunks == 1) {
#pragma omp parallel for schedule(static) if (rows * n > 32768)
    for (int64_t r = 0; r < rows; ++r) {
      const float pivot = pivot_of(r);
      const double s1 = pass1(r, 0, n, pivot);
      RowStats s;
      if (a.rms) {
        s = finish(0, s1, 0, 0, n, a);
      } else {
        const float delta = float(s1 / double(n));
        s = finish(s1, t.sum_sq_centered(src + r * n, n, pivot, delta), pivot, delta, n, a);
      }
      pass3(r, 0, n, s);
      outputs(r, s);
    }
    return;
  }

  // Long rows: every phase runs over all (row, chunk) pairs; partials are
  // combined per row in chunk order, so the thread count changes nothing.
  thread_local std::vector<double> partial;
  thread_local std::vector<RowStats> stats;
  partial.resize(size_t(rows * chunks));
  stats.resize(size_t(rows));
  const int64_t jobs = rows * chunks;
  double* part = partial.data();
  RowStats* st = stats.data();
  auto chunk_len = [&](int64_t c) { return c == chunks - 1 ? n - c * kNormChunk : kNormChunk; };
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t j = 0; j < jobs; ++j) {
      const int64_t r = j / chunks, c = j % chunks;
      part[j] = pass1(r, c * kNormChunk, chunk_len(c), pivot_of(r));
    }
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t c = 0; c < chunks; ++c) s += part[r * chunks + c];
      st[r] = a.rms ? finish(0, s, 0, 0, n, a) : RowStats{pivot_of(r), float(s / double(n)), 0, s};
    }
    if (!a.rms) {
#pragma omp for schedule(static)
      for (int64_t j = 0; j < jobs; ++j) {
        const int64_t r = j / chunks, c = j % chunks;
        part[j] = t.sum_sq_centered(src + r * n + c * kNormChunk, chunk_len(c), st[r].pivot, st[r].delta);
      }
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        double sq = 0;
        for (int64_t c = 0; c < chunks; ++c) sq += part[r * chunks + c];
        st[r] = finish(st[r].mean, sq, st[r].pivot, st[r].delta, n, a);
      }
    }
#pragma omp for schedule(static)
    for (int64_t j = 0; j < jobs; ++j) pass3(j / chunks, (j % chunks) * kNormChunk, chunk_len(j % chunks), st[j / chunks]);
  }
  for (int64_t r = 0; r < rows; ++r) outputs(r, st[r]);
}

void instance_norm(Isa isa, const float* x, float* y, const float* scale, const float* bias, int64_t N, int64_t C,
                   int64_t inner, float epsilon) {
  const auto& t = layer_norm_table_for(isa);
  if (inner == 0) return;
#pragma omp parallel for schedule(static) if (N * C * inner > 32768)
  for (int64_t r = 0; r < N * C; ++r) {
    const float* xr = x + r * inner;
    const int64_t c = r % C;
    const float pivot = xr[0];
    const double s1 = t.sum_shifted(xr, inner, pivot);
    const float delta = float(s1 / double(inner));
    const double sq = t.sum_sq_centered(xr, inner, pivot, delta);
    const float rstd = float(1.0 / std::sqrt(sq / double(inner) + double(epsilon)));
    t.normalize_affine(xr, y + r * inner, inner, pivot, delta, rstd * scale[c], bias[c]);
  }
}

}  // namespace normrt::kernels
