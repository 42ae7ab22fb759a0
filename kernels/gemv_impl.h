#include "kernels/gemv.h"
#include "kernels/simd_common.h"

namespace {
using normrt::kernels::kGemvPanel;
constexpr int64_t kAcc = kGemvPanel / kLanes;
// A panel's rows in this many consecutive parts, each its own stream from
// memory and its own accumulators: more reads in flight (AVX-512,
// 1×1280×1000 with B not in cache, Zen 4: 18 GB/s with four parts, 16 with
// two), and independent FMA chains. 16 accumulators fit AVX-512's registers;
// AVX2's 16 registers hold one part.
constexpr int64_t kStreams = kAcc <= 4 ? 4 : 1;

// Each part's sum over its rows in order, then the parts added in order: a
// fixed order, whatever the thread count.
void gemv_panel(const float* x, const float* w, const float* bias, float* y, int64_t K, int64_t kp, int64_t N,
                int64_t p) {
  const float* wp = w + p * kp * kGemvPanel;
  const int64_t part = K / kStreams;
  Vec acc[kStreams][kAcc];
  for (int64_t s = 0; s < kStreams; ++s)
    for (int64_t j = 0; j < kAcc; ++j) acc[s][j] = Vec(0.f);
  for (int64_t k = 0; k < part; ++k)
    for (int64_t s = 0; s < kStreams; ++s) {
      const int64_t row = s * part + k;
      const Vec a(x[row]);
      for (int64_t j = 0; j < kAcc; ++j) acc[s][j] = xsimd::fma(a, load(wp + row * kGemvPanel + j * kLanes), acc[s][j]);
    }
  for (int64_t row = kStreams * part; row < K; ++row) {
    const Vec a(x[row]);
    for (int64_t j = 0; j < kAcc; ++j) acc[0][j] = xsimd::fma(a, load(wp + row * kGemvPanel + j * kLanes), acc[0][j]);
  }
  for (int64_t s = 1; s < kStreams; ++s)
    for (int64_t j = 0; j < kAcc; ++j) acc[0][j] += acc[s][j];
  const int64_t c0 = p * kGemvPanel, width = N - c0 < kGemvPanel ? N - c0 : kGemvPanel;
  if (width == kGemvPanel) {
    for (int64_t j = 0; j < kAcc; ++j)
      store(y + c0 + j * kLanes, bias ? acc[0][j] + load(bias + c0 + j * kLanes) : acc[0][j]);
    return;
  }
  alignas(64) float sums[kGemvPanel];
  for (int64_t j = 0; j < kAcc; ++j) acc[0][j].store_aligned(sums + j * kLanes);
  for (int64_t j = 0; j < width; ++j) y[c0 + j] = bias ? sums[j] + bias[c0 + j] : sums[j];
}

}  // namespace

namespace normrt::kernels::NORMRT_ISA {
extern const GemvTable gemv_table = {&gemv_panel};
}
