#include "kernels/simd_common.h"
#include "kernels/softmax.h"

namespace {

// Two chains of maxima, so a short row does not wait on one.
float row_max(const float* x, int64_t n) {
  int64_t i = 0;
  float mx = -__builtin_inff();
  if (n >= kLanes) {
    Vec m0 = load(x), m1 = m0;
    for (i = kLanes; i + 2 * kLanes <= n; i += 2 * kLanes) {
      m0 = xsimd::max(m0, load(x + i));
      m1 = xsimd::max(m1, load(x + i + kLanes));
    }
    for (; i + kLanes <= n; i += kLanes) m0 = xsimd::max(m0, load(x + i));
    mx = hmax(xsimd::max(m0, m1));
  }
  for (; i < n; ++i) mx = fmaxs(mx, x[i]);
  return mx;
}

// y = x - max - log(sum(exp(x - max)))
void log_softmax_row(const float* x, float* y, int64_t n) {
  const float mx = row_max(x, n);
  const Vec vmx(mx);
  Vec vs(0.f);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) vs += xsimd::exp(load(x + i) - vmx);
  float sum = xsimd::hadd(vs);
  for (; i < n; ++i) sum += __builtin_expf(x[i] - mx);
  const float shift = mx + __builtin_logf(sum);
  const Vec vsh(shift);
  for (i = 0; i + kLanes <= n; i += kLanes) store(y + i, load(x + i) - vsh);
  for (; i < n; ++i) y[i] = x[i] - shift;
}

void softmax_row(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  const float mx = row_max(x, n);
  // A row of -inf (everything masked) gives NaN, as the definition does.
  const Vec vmx(mx);
  Vec s0(0.f), s1(0.f);
  for (i = 0; i + 2 * kLanes <= n; i += 2 * kLanes) {
    Vec e0 = xsimd::exp(load(x + i) - vmx), e1 = xsimd::exp(load(x + i + kLanes) - vmx);
    store(y + i, e0);
    store(y + i + kLanes, e1);
    s0 += e0;
    s1 += e1;
  }
  for (; i + kLanes <= n; i += kLanes) {
    Vec e = xsimd::exp(load(x + i) - vmx);
    store(y + i, e);
    s0 += e;
  }
  float sum = xsimd::hadd(s0 + s1);
  for (; i < n; ++i) {
    y[i] = __builtin_expf(x[i] - mx);
    sum += y[i];
  }
  const float inv = 1.f / sum;
  const Vec vinv(inv);
  for (i = 0; i + kLanes <= n; i += kLanes) store(y + i, load(y + i) * vinv);
  for (; i < n; ++i) y[i] *= inv;
}

}  // namespace

namespace normrt::kernels::NORMRT_ISA {
extern const SoftmaxTable softmax_table = {&softmax_row, &log_softmax_row};
}
