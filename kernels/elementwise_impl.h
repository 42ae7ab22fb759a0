#include "kernels/simd_common.h"
#include "kernels/elementwise.h"

namespace {
using normrt::kernels::Binary;
using normrt::kernels::Unary;
using normrt::kernels::UnaryParams;

// clamp_v's scalar twin (simd_common.h).
static inline float clamp_s(float v, float lo, float hi) {
  const float t = v < lo ? lo : v;
  return t > hi ? hi : t;
}
static inline Vec sigmoid_v(const Vec& x) { return Vec(1.f) / (Vec(1.f) + xsimd::exp(-x)); }
static inline float sigmoid_s(float x) { return 1.f / (1.f + __builtin_expf(-x)); }
// log(1 + e^x) as max(x, 0) + log1p(e^-|x|): no overflow for large x.
static inline Vec softplus_v(const Vec& x) {
  return xsimd::select(x > Vec(0.f), x, Vec(0.f)) + xsimd::log1p(xsimd::exp(-xsimd::abs(x)));
}
static inline float softplus_s(float x) { return (x > 0.f ? x : 0.f) + __builtin_log1pf(__builtin_expf(-__builtin_fabsf(x))); }
// Sign: NaN stays NaN, and zero stays zero.
static inline Vec sign_v(const Vec& x) {
  return xsimd::select(x > Vec(0.f), Vec(1.f), xsimd::select(x < Vec(0.f), Vec(-1.f), x));
}
static inline float sign_s(float x) { return x > 0.f ? 1.f : x < 0.f ? -1.f : x; }

template <Unary op>
void unary_loop(const UnaryParams& p, const float* x, float* y, int64_t n) {
  auto fv = [&p](const Vec& v) -> Vec {
    if constexpr (op == Unary::relu) return xsimd::select(v < Vec(0.f), Vec(0.f), v);
    if constexpr (op == Unary::leaky_relu) return xsimd::select(v < Vec(0.f), v * Vec(p.a), v);
    if constexpr (op == Unary::clip) return clamp_v(v, p.a, p.b);
    if constexpr (op == Unary::sigmoid) return sigmoid_v(v);
    if constexpr (op == Unary::hard_sigmoid) return clamp_v(xsimd::fma(v, Vec(p.a), Vec(p.b)), 0.f, 1.f);
    if constexpr (op == Unary::hard_swish) return v * clamp_v(xsimd::fma(v, Vec(1.f / 6), Vec(0.5f)), 0.f, 1.f);
    if constexpr (op == Unary::sqrt) return xsimd::sqrt(v);
    if constexpr (op == Unary::reciprocal) return Vec(1.f) / v;
    if constexpr (op == Unary::neg) return -v;
    if constexpr (op == Unary::abs) return xsimd::abs(v);
    if constexpr (op == Unary::exp) return xsimd::exp(v);
    if constexpr (op == Unary::tanh) return xsimd::tanh(v);
    if constexpr (op == Unary::erf) return xsimd::erf(v);
    if constexpr (op == Unary::gelu) return v * Vec(0.5f) * (Vec(1.f) + xsimd::erf(v * Vec(0.70710678118654752f)));
    if constexpr (op == Unary::gelu_tanh)
      return v * Vec(0.5f) *
             (Vec(1.f) + xsimd::tanh(Vec(0.79788456080286536f) * xsimd::fma(Vec(0.044715f) * v, v * v, v)));
    if constexpr (op == Unary::log) return xsimd::log(v);
    if constexpr (op == Unary::floor) return xsimd::floor(v);
    if constexpr (op == Unary::ceil) return xsimd::ceil(v);
    if constexpr (op == Unary::round) return xsimd::nearbyint(v);
    if constexpr (op == Unary::sign) return sign_v(v);
    if constexpr (op == Unary::sin) return xsimd::sin(v);
    if constexpr (op == Unary::cos) return xsimd::cos(v);
    if constexpr (op == Unary::softplus) return softplus_v(v);
    if constexpr (op == Unary::softsign) return v / (Vec(1.f) + xsimd::abs(v));
    if constexpr (op == Unary::elu) return xsimd::select(v < Vec(0.f), Vec(p.a) * xsimd::expm1(v), v);
    if constexpr (op == Unary::selu)
      return Vec(p.b) * xsimd::select(v > Vec(0.f), v, Vec(p.a) * xsimd::expm1(v));
    if constexpr (op == Unary::celu) return xsimd::select(v > Vec(0.f), v, Vec(p.a) * xsimd::expm1(v / Vec(p.a)));
    if constexpr (op == Unary::thresholded_relu) return xsimd::select(v <= Vec(p.a), Vec(0.f), v);
    if constexpr (op == Unary::mish) return v * xsimd::tanh(softplus_v(v));
    if constexpr (op == Unary::tan) return xsimd::tan(v);
    if constexpr (op == Unary::asin) return xsimd::asin(v);
    if constexpr (op == Unary::acos) return xsimd::acos(v);
    if constexpr (op == Unary::atan) return xsimd::atan(v);
    if constexpr (op == Unary::sinh) return xsimd::sinh(v);
    if constexpr (op == Unary::cosh) return xsimd::cosh(v);
    if constexpr (op == Unary::asinh) return xsimd::asinh(v);
    if constexpr (op == Unary::acosh) return xsimd::acosh(v);
    if constexpr (op == Unary::atanh) return xsimd::atanh(v);
    if constexpr (op == Unary::shrink)
      return xsimd::select(v < Vec(-p.a), v + Vec(p.b), xsimd::select(v > Vec(p.a), v - Vec(p.b), Vec(0.f) * v));
  };
  auto fs = [&p](float v) -> float {
    if constexpr (op == Unary::relu) return v < 0.f ? 0.f : v;
    if constexpr (op == Unary::leaky_relu) return v < 0.f ? v * p.a : v;
    if constexpr (op == Unary::clip) return clamp_s(v, p.a, p.b);
    if constexpr (op == Unary::sigmoid) return sigmoid_s(v);
    if constexpr (op == Unary::hard_sigmoid) return clamp_s(__builtin_fmaf(v, p.a, p.b), 0.f, 1.f);
    if constexpr (op == Unary::hard_swish) return v * clamp_s(__builtin_fmaf(v, 1.f / 6, 0.5f), 0.f, 1.f);
    if constexpr (op == Unary::sqrt) return __builtin_sqrtf(v);
    if constexpr (op == Unary::reciprocal) return 1.f / v;
    if constexpr (op == Unary::neg) return -v;
    if constexpr (op == Unary::abs) return __builtin_fabsf(v);
    if constexpr (op == Unary::exp) return __builtin_expf(v);
    if constexpr (op == Unary::tanh) return __builtin_tanhf(v);
    if constexpr (op == Unary::erf) return __builtin_erff(v);
    if constexpr (op == Unary::gelu) return v * 0.5f * (1.f + __builtin_erff(v * 0.70710678118654752f));
    if constexpr (op == Unary::gelu_tanh)
      return v * 0.5f * (1.f + __builtin_tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    if constexpr (op == Unary::log) return __builtin_logf(v);
    if constexpr (op == Unary::floor) return __builtin_floorf(v);
    if constexpr (op == Unary::ceil) return __builtin_ceilf(v);
    if constexpr (op == Unary::round) return __builtin_nearbyintf(v);
    if constexpr (op == Unary::sign) return sign_s(v);
    if constexpr (op == Unary::sin) return __builtin_sinf(v);
    if constexpr (op == Unary::cos) return __builtin_cosf(v);
    if constexpr (op == Unary::softplus) return softplus_s(v);
    if constexpr (op == Unary::softsign) return v / (1.f + __builtin_fabsf(v));
    if constexpr (op == Unary::elu) return v < 0.f ? p.a * __builtin_expm1f(v) : v;
    if constexpr (op == Unary::selu) return p.b * (v > 0.f ? v : p.a * __builtin_expm1f(v));
    if constexpr (op == Unary::celu) return v > 0.f ? v : p.a * __builtin_expm1f(v / p.a);
    if constexpr (op == Unary::thresholded_relu) return v <= p.a ? 0.f : v;
    if constexpr (op == Unary::mish) return v * __builtin_tanhf(softplus_s(v));
    if constexpr (op == Unary::tan) return __builtin_tanf(v);
    if constexpr (op == Unary::asin) return __builtin_asinf(v);
    if constexpr (op == Unary::acos) return __builtin_acosf(v);
    if constexpr (op == Unary::atan) return __builtin_atanf(v);
    if constexpr (op == Unary::sinh) return __builtin_sinhf(v);
    if constexpr (op == Unary::cosh) return __builtin_coshf(v);
    if constexpr (op == Unary::asinh) return __builtin_asinhf(v);
    if constexpr (op == Unary::acosh) return __builtin_acoshf(v);
    if constexpr (op == Unary::atanh) return __builtin_atanhf(v);
    if constexpr (op == Unary::shrink) return v < -p.a ? v + p.b : v > p.a ? v - p.b : 0.f * v;
  };
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(y + i, fv(load(x + i)));
  for (; i < n; ++i) y[i] = fs(x[i]);
}

void unary_any(const UnaryParams& p, const float* x, float* y, int64_t n) {
  switch (p.op) {
    case Unary::relu: return unary_loop<Unary::relu>(p, x, y, n);
    case Unary::leaky_relu: return unary_loop<Unary::leaky_relu>(p, x, y, n);
    case Unary::clip: return unary_loop<Unary::clip>(p, x, y, n);
    case Unary::sigmoid: return unary_loop<Unary::sigmoid>(p, x, y, n);
    case Unary::hard_sigmoid: return unary_loop<Unary::hard_sigmoid>(p, x, y, n);
    case Unary::hard_swish: return unary_loop<Unary::hard_swish>(p, x, y, n);
    case Unary::sqrt: return unary_loop<Unary::sqrt>(p, x, y, n);
    case Unary::reciprocal: return unary_loop<Unary::reciprocal>(p, x, y, n);
    case Unary::neg: return unary_loop<Unary::neg>(p, x, y, n);
    case Unary::abs: return unary_loop<Unary::abs>(p, x, y, n);
    case Unary::exp: return unary_loop<Unary::exp>(p, x, y, n);
    case Unary::tanh: return unary_loop<Unary::tanh>(p, x, y, n);
    case Unary::erf: return unary_loop<Unary::erf>(p, x, y, n);
    case Unary::gelu: return unary_loop<Unary::gelu>(p, x, y, n);
    case Unary::gelu_tanh: return unary_loop<Unary::gelu_tanh>(p, x, y, n);
    case Unary::log: return unary_loop<Unary::log>(p, x, y, n);
    case Unary::floor: return unary_loop<Unary::floor>(p, x, y, n);
    case Unary::ceil: return unary_loop<Unary::ceil>(p, x, y, n);
    case Unary::round: return unary_loop<Unary::round>(p, x, y, n);
    case Unary::sign: return unary_loop<Unary::sign>(p, x, y, n);
    case Unary::sin: return unary_loop<Unary::sin>(p, x, y, n);
    case Unary::cos: return unary_loop<Unary::cos>(p, x, y, n);
    case Unary::softplus: return unary_loop<Unary::softplus>(p, x, y, n);
    case Unary::softsign: return unary_loop<Unary::softsign>(p, x, y, n);
    case Unary::elu: return unary_loop<Unary::elu>(p, x, y, n);
    case Unary::selu: return unary_loop<Unary::selu>(p, x, y, n);
    case Unary::celu: return unary_loop<Unary::celu>(p, x, y, n);
    case Unary::thresholded_relu: return unary_loop<Unary::thresholded_relu>(p, x, y, n);
    case Unary::mish: return unary_loop<Unary::mish>(p, x, y, n);
    case Unary::tan: return unary_loop<Unary::tan>(p, x, y, n);
    case Unary::asin: return unary_loop<Unary::asin>(p, x, y, n);
    case Unary::acos: return unary_loop<Unary::acos>(p, x, y, n);
    case Unary::atan: return unary_loop<Unary::atan>(p, x, y, n);
    case Unary::sinh: return unary_loop<Unary::sinh>(p, x, y, n);
    case Unary::cosh: return unary_loop<Unary::cosh>(p, x, y, n);
    case Unary::asinh: return unary_loop<Unary::asinh>(p, x, y, n);
    case Unary::acosh: return unary_loop<Unary::acosh>(p, x, y, n);
    case Unary::atanh: return unary_loop<Unary::atanh>(p, x, y, n);
    case Unary::shrink: return unary_loop<Unary::shrink>(p, x, y, n);
  }
}

// Maximum and minimum that return NaN when either side is NaN.
static inline Vec max_nan(const Vec& u, const Vec& v) { return xsimd::select((u > v) | xsimd::isnan(u), u, v); }
static inline float max_nan(float u, float v) { return u > v || u != u ? u : v; }
static inline Vec min_nan(const Vec& u, const Vec& v) { return xsimd::select((u < v) | xsimd::isnan(u), u, v); }
static inline float min_nan(float u, float v) { return u < v || u != u ? u : v; }
static inline Vec prelu(const Vec& u, const Vec& v) { return xsimd::select(u < Vec(0.f), u * v, u); }
static inline float prelu(float u, float v) { return u < 0.f ? u * v : u; }

template <Binary op>
void binary_loop(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  auto f = [](auto u, auto v) {
    if constexpr (op == Binary::add) return u + v;
    if constexpr (op == Binary::sub) return u - v;
    if constexpr (op == Binary::mul) return u * v;
    if constexpr (op == Binary::div) return u / v;
    if constexpr (op == Binary::max) return max_nan(u, v);
    if constexpr (op == Binary::min) return min_nan(u, v);
    if constexpr (op == Binary::prelu) return prelu(u, v);
  };
  int64_t i = 0;
  if (sa && sb) {
    for (; i + kLanes <= n; i += kLanes) store(y + i, f(load(a + i), load(b + i)));
    for (; i < n; ++i) y[i] = f(a[i], b[i]);
  } else if (sa) {
    const Vec vb(b[0]);
    for (; i + kLanes <= n; i += kLanes) store(y + i, f(load(a + i), vb));
    for (; i < n; ++i) y[i] = f(a[i], b[0]);
  } else if (sb) {
    const Vec va(a[0]);
    for (; i + kLanes <= n; i += kLanes) store(y + i, f(va, load(b + i)));
    for (; i < n; ++i) y[i] = f(a[0], b[i]);
  } else {
    for (; i < n; ++i) y[i] = f(a[0], b[0]);
  }
}

// C's fmod, exact, one element at a time (no vector form is exact).
void fmod_loop(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = __builtin_fmodf(a[i * sa], b[i * sb]);
}

void binary_any(Binary op, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  switch (op) {
    case Binary::fmod:
    case Binary::mod: return fmod_loop(a, sa, b, sb, y, n);
    case Binary::add: return binary_loop<Binary::add>(a, sa, b, sb, y, n);
    case Binary::sub: return binary_loop<Binary::sub>(a, sa, b, sb, y, n);
    case Binary::mul: return binary_loop<Binary::mul>(a, sa, b, sb, y, n);
    case Binary::div: return binary_loop<Binary::div>(a, sa, b, sb, y, n);
    case Binary::max: return binary_loop<Binary::max>(a, sa, b, sb, y, n);
    case Binary::min: return binary_loop<Binary::min>(a, sa, b, sb, y, n);
    case Binary::prelu: return binary_loop<Binary::prelu>(a, sa, b, sb, y, n);
  }
}

}  // namespace

namespace normrt::kernels::NORMRT_ISA {
extern const ElementwiseTable elementwise_table = {&unary_any, &binary_any};
}
