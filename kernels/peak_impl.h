#include "kernels/simd_common.h"
#include "kernels/machine_limits.h"

namespace {

constexpr int kChains = 12;  // enough independent FMAs to cover latency x ports

float fma_loop(int64_t iters) {
  Vec acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = Vec(float(c) * 1e-3f);
  const Vec a(0.999999f), b(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = xsimd::fma(acc[c], a, b);
  Vec s(0.f);
  for (int c = 0; c < kChains; ++c) s += acc[c];
  return xsimd::hadd(s);
}

}  // namespace

namespace normrt::kernels::NORMRT_ISA {
extern const PeakTable peak_table = {&fma_loop, 2 * kLanes * kChains};
}
