#include "kernels/simd_common.h"
#include "kernels/layer_norm.h"

namespace {

// Four independent accumulators, folded in a fixed order.
float sum_shifted(const float* x, int64_t n, float pivot) {
  const Vec p(pivot);
  Vec s0(0.f), s1(0.f), s2(0.f), s3(0.f);
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    s0 += load(x + i) - p;
    s1 += load(x + i + kLanes) - p;
    s2 += load(x + i + 2 * kLanes) - p;
    s3 += load(x + i + 3 * kLanes) - p;
  }
  for (; i + kLanes <= n; i += kLanes) s0 += load(x + i) - p;
  float s = xsimd::hadd((s0 + s1) + (s2 + s3));
  for (; i < n; ++i) s += x[i] - pivot;
  return s;
}

// out[0] = sum of d, out[1] = sum of d^2, d = x - pivot: both moments in one
// read, with four independent chains each so the adds do not wait on each
// other. `also(i, k)` runs beside each step over elements [i, i + k), so
// other work can share the loop without changing a bit of the sums.
template <class Also>
void moments(const float* x, int64_t n, float pivot, float* out, Also also) {
  const Vec p(pivot);
  Vec s0(0.f), s1(0.f), s2(0.f), s3(0.f), q0(0.f), q1(0.f), q2(0.f), q3(0.f);
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    Vec d0 = load(x + i) - p, d1 = load(x + i + kLanes) - p;
    Vec d2 = load(x + i + 2 * kLanes) - p, d3 = load(x + i + 3 * kLanes) - p;
    s0 += d0;
    s1 += d1;
    s2 += d2;
    s3 += d3;
    q0 = xsimd::fma(d0, d0, q0);
    q1 = xsimd::fma(d1, d1, q1);
    q2 = xsimd::fma(d2, d2, q2);
    q3 = xsimd::fma(d3, d3, q3);
    also(i, 4 * kLanes);
  }
  for (; i + kLanes <= n; i += kLanes) {
    Vec d = load(x + i) - p;
    s0 += d;
    q0 = xsimd::fma(d, d, q0);
    also(i, kLanes);
  }
  float s = xsimd::hadd((s0 + s1) + (s2 + s3)), q = xsimd::hadd((q0 + q1) + (q2 + q3));
  for (; i < n; ++i) {
    float d = x[i] - pivot;
    s += d;
    q += d * d;
    also(i, 1);
  }
  out[0] = s;
  out[1] = q;
}

void stats_shifted(const float* x, int64_t n, float pivot, float* out) {
  moments(x, n, pivot, out, [](int64_t, int64_t) {});
}

// s = a + b written out, and the moments of s - pivot.
void add_stats_shifted(const float* a, const float* b, float* sum, int64_t n, float pivot, float* out) {
  const Vec p(pivot);
  Vec s0(0.f), s1(0.f), q0(0.f), q1(0.f);
  int64_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    Vec u = load(a + i) + load(b + i), v = load(a + i + kLanes) + load(b + i + kLanes);
    store(sum + i, u);
    store(sum + i + kLanes, v);
    Vec d0 = u - p, d1 = v - p;
    s0 += d0;
    s1 += d1;
    q0 = xsimd::fma(d0, d0, q0);
    q1 = xsimd::fma(d1, d1, q1);
  }
  for (; i + kLanes <= n; i += kLanes) {
    Vec u = load(a + i) + load(b + i);
    store(sum + i, u);
    Vec d = u - p;
    s0 += d;
    q0 = xsimd::fma(d, d, q0);
  }
  float s = xsimd::hadd(s0 + s1), q = xsimd::hadd(q0 + q1);
  for (; i < n; ++i) {
    sum[i] = a[i] + b[i];
    float d = sum[i] - pivot;
    s += d;
    q += d * d;
  }
  out[0] = s;
  out[1] = q;
}

float sum_sq_centered(const float* x, int64_t n, float pivot, float delta) {
  const Vec p(pivot), d(delta);
  Vec s0(0.f), s1(0.f), s2(0.f), s3(0.f);
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    Vec c0 = (load(x + i) - p) - d, c1 = (load(x + i + kLanes) - p) - d;
    Vec c2 = (load(x + i + 2 * kLanes) - p) - d, c3 = (load(x + i + 3 * kLanes) - p) - d;
    s0 = xsimd::fma(c0, c0, s0);
    s1 = xsimd::fma(c1, c1, s1);
    s2 = xsimd::fma(c2, c2, s2);
    s3 = xsimd::fma(c3, c3, s3);
  }
  for (; i + kLanes <= n; i += kLanes) {
    Vec c = (load(x + i) - p) - d;
    s0 = xsimd::fma(c, c, s0);
  }
  float s = xsimd::hadd((s0 + s1) + (s2 + s3));
  for (; i < n; ++i) {
    float c = (x[i] - pivot) - delta;
    s += c * c;
  }
  return s;
}

// ((x - p) - delta) * rstd computed as fma(x - p, rstd, -delta * rstd): x - p is
// exact near p, and -delta * rstd is a small, precisely rounded constant.
template <bool has_gamma, bool has_beta>
struct Normalizer {
  const float *x, *gamma, *beta;
  float* y;
  float pivot, rstd, shift;
  Vec p, r, c;
  Normalizer(const float* x, float* y, float pivot, float delta, float rstd, const float* gamma, const float* beta)
      : x(x), gamma(gamma), beta(beta), y(y), pivot(pivot), rstd(rstd), shift(-delta * rstd), p(pivot), r(rstd),
        c(-delta * rstd) {}
  // Elements [i, i + k): whole vectors, or one scalar when k is 1.
  void operator()(int64_t i, int64_t k) const {
    if (k == 1) {
      float v = __builtin_fmaf(x[i] - pivot, rstd, shift);
      if constexpr (has_gamma && has_beta) v = __builtin_fmaf(v, gamma[i], beta[i]);
      else if constexpr (has_gamma) v = v * gamma[i];
      else if constexpr (has_beta) v = v + beta[i];
      y[i] = v;
      return;
    }
    for (int64_t j = i; j < i + k; j += kLanes) {
      Vec v = xsimd::fma(load(x + j) - p, r, c);
      if constexpr (has_gamma && has_beta) v = xsimd::fma(v, load(gamma + j), load(beta + j));
      else if constexpr (has_gamma) v = v * load(gamma + j);
      else if constexpr (has_beta) v = v + load(beta + j);
      store(y + j, v);
    }
  }
};

// Calls use(Normalizer<...>) with the variant for which of gamma and beta are given.
template <class Use>
void with_normalizer(const float* x, float* y, float pivot, float delta, float rstd, const float* gamma,
                     const float* beta, Use use) {
  if (gamma && beta) use(Normalizer<true, true>(x, y, pivot, delta, rstd, gamma, beta));
  else if (gamma) use(Normalizer<true, false>(x, y, pivot, delta, rstd, gamma, beta));
  else if (beta) use(Normalizer<false, true>(x, y, pivot, delta, rstd, gamma, beta));
  else use(Normalizer<false, false>(x, y, pivot, delta, rstd, gamma, beta));
}

// f over [0, n): whole vectors, then the tail one element at a time.
template <class F>
void each_element(int64_t n, const F& f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) f(i, kLanes);
  for (; i < n; ++i) f(i, 1);
}

void normalize(const float* x, float* y, int64_t n, float pivot, float delta, float rstd, const float* gamma,
               const float* beta) {
  with_normalizer(x, y, pivot, delta, rstd, gamma, beta, [&](const auto& f) { each_element(n, f); });
}

// normalize() of one row while taking the moments of the next (the row's
// stores and the next row's loads overlap in one loop).
void normalize_then_stats(const float* x, float* y, int64_t n, float pivot, float delta, float rstd,
                          const float* gamma, const float* beta, const float* next, float next_pivot, float* out) {
  with_normalizer(x, y, pivot, delta, rstd, gamma, beta,
                  [&](const auto& f) { moments(next, n, next_pivot, out, f); });
}

void normalize_affine(const float* x, float* y, int64_t n, float pivot, float delta, float scale, float shift) {
  const Vec p(pivot), d(delta), s(scale), t(shift);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(y + i, xsimd::fma((load(x + i) - p) - d, s, t));
  for (; i < n; ++i) y[i] = __builtin_fmaf((x[i] - pivot) - delta, scale, shift);
}

// y = x * rinv * gamma over [i, i + k) (RMS norm), as Normalizer.
template <bool has_gamma>
struct Scaler {
  const float *x, *gamma;
  float* y;
  float rinv;
  Vec r;
  Scaler(const float* x, float* y, float rinv, const float* gamma) : x(x), gamma(gamma), y(y), rinv(rinv), r(rinv) {}
  void operator()(int64_t i, int64_t k) const {
    if (k == 1) {
      y[i] = has_gamma ? x[i] * rinv * gamma[i] : x[i] * rinv;
      return;
    }
    for (int64_t j = i; j < i + k; j += kLanes) {
      if constexpr (has_gamma) store(y + j, load(x + j) * r * load(gamma + j));
      else store(y + j, load(x + j) * r);
    }
  }
};

void scale_rows(const float* x, float* y, int64_t n, float rinv, const float* gamma) {
  if (gamma) each_element(n, Scaler<true>(x, y, rinv, gamma));
  else each_element(n, Scaler<false>(x, y, rinv, gamma));
}

void scale_then_stats(const float* x, float* y, int64_t n, float rinv, const float* gamma, const float* next,
                      float* out) {
  if (gamma) moments(next, n, 0.f, out, Scaler<true>(x, y, rinv, gamma));
  else moments(next, n, 0.f, out, Scaler<false>(x, y, rinv, gamma));
}

}  // namespace

namespace normrt::kernels::NORMRT_ISA {
extern const LayerNormTable layer_norm_table = {&sum_shifted,      &stats_shifted,        &add_stats_shifted,
                                                &sum_sq_centered,  &normalize,            &normalize_then_stats,
                                                &normalize_affine, &scale_rows,           &scale_then_stats};
}
