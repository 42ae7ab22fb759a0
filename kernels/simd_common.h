#pragma once
// Included only by the per-ISA kernel translation units (after NORMRT_ISA and
// NORMRT_ARCH are defined). Everything here must stay out of the linker's
// reach: a helper compiled with AVX-512 flags that got merged with a baseline
// copy of the same inline function would crash on older CPUs. So helpers are
// `static` and no std:: function templates are used on this side.
#include <xsimd/xsimd.hpp>

#include <cstdint>

#ifndef NORMRT_ISA
#error "compile through the generated per-ISA translation units"
#endif

namespace {
using Arch = NORMRT_ARCH;
using Vec = xsimd::batch<float, Arch>;
constexpr int64_t kLanes = int64_t(Vec::size);

static inline Vec load(const float* p) { return Vec::load_unaligned(p); }
static inline void store(float* p, const Vec& v) { v.store_unaligned(p); }
static inline float fmaxs(float a, float b) { return a > b ? a : b; }
// min(max(v, lo), hi): hi wherever lo > hi, as ONNX's Clip (numpy.clip)
// gives. Comparisons are false for NaN, so NaN passes through (max/min
// instructions would drop it). Relu is clamp_v(v, 0, inf).
static inline Vec clamp_v(const Vec& v, float lo, float hi) {
  const Vec t = xsimd::select(v < Vec(lo), Vec(lo), v);
  return xsimd::select(t > Vec(hi), Vec(hi), t);
}
// The largest lane of a vector, as a tree of pairwise maxima (a chain of
// kLanes - 1 dependent maxima would cost a softmax row more than its exps).
static inline float hmax(const Vec& v) {
  alignas(64) float lanes[kLanes];
  v.store_aligned(lanes);
  for (int64_t half = kLanes / 2; half > 0; half /= 2)
    for (int64_t i = 0; i < half; ++i) lanes[i] = fmaxs(lanes[i], lanes[i + half]);
  return lanes[0];
}
}  // namespace
