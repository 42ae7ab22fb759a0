#include "kernels/simd_common.h"
#include "kernels/batch_norm.h"

namespace {

void scale_shift_row(const float* x, float* y, int64_t n, float scale, float shift) {
  const Vec s(scale), t(shift);
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    store(y + i, xsimd::fma(load(x + i), s, t));
    store(y + i + kLanes, xsimd::fma(load(x + i + kLanes), s, t));
    store(y + i + 2 * kLanes, xsimd::fma(load(x + i + 2 * kLanes), s, t));
    store(y + i + 3 * kLanes, xsimd::fma(load(x + i + 3 * kLanes), s, t));
  }
  for (; i + kLanes <= n; i += kLanes) store(y + i, xsimd::fma(load(x + i), s, t));
  for (; i < n; ++i) y[i] = __builtin_fmaf(x[i], scale, shift);
}

void scale_shift_channels(const float* x, float* y, int64_t C, const float* scale, const float* shift) {
  int64_t i = 0;
  for (; i + kLanes <= C; i += kLanes) store(y + i, xsimd::fma(load(x + i), load(scale + i), load(shift + i)));
  for (; i < C; ++i) y[i] = __builtin_fmaf(x[i], scale[i], shift[i]);
}

}  // namespace

namespace normrt::kernels::NORMRT_ISA {
extern const BatchNormTable batch_norm_table = {&scale_shift_row, &scale_shift_channels};
}
