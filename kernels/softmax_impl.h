#include "kernels/simd_common.h"
#include "kernels/softmax.h"

namespace {

void softmax_row(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  float mx = -__builtin_inff();
  if (n >= kLanes) {
    Vec vm = load(x);
    for (i = kLanes; i + kLanes <= n; i += kLanes) vm = xsimd::max(vm, load(x + i));
    mx = hmax(vm);
  }
  for (; i < n; ++i) mx = fmaxs(mx, x[i]);
  // A row of -inf (everything masked) gives NaN, as the definition does.
  const Vec vmx(mx);
  Vec vs(0.f);
  for (i = 0; i + kLanes <= n; i += kLanes) {
    Vec e = xsimd::exp(load(x + i) - vmx);
    store(y + i, e);
    vs += e;
  }
  float sum = xsimd::hadd(vs);
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
extern const SoftmaxTable softmax_table = {&softmax_row};
}
