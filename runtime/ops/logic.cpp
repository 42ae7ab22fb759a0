// Comparisons, logic and selection: Equal, Less, Greater, LessOrEqual,
// GreaterOrEqual, And, Or, Xor, Not, IsNaN, IsInf, Where.
#include <cmath>

#include "runtime/ops/broadcast.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

enum class Cmp { eq, lt, gt, le, ge, logical_and, logical_or, logical_xor };

template <class T>
bool compare(Cmp op, T a, T b) {
  switch (op) {
    case Cmp::eq: return a == b;
    case Cmp::lt: return a < b;
    case Cmp::gt: return a > b;
    case Cmp::le: return a <= b;
    case Cmp::ge: return a >= b;
    case Cmp::logical_and: return a && b;
    case Cmp::logical_or: return a || b;
    case Cmp::logical_xor: return bool(a) != bool(b);
  }
  return false;
}

KernelFactory compare_op(Cmp op) {
  return [op](const BindContext& c) -> std::unique_ptr<Kernel> {
    const Shape out = c.out[0].shape;
    auto strides = broadcast_strides({c.in_shape(0), c.in_shape(1)}, out);
    const DType t = c.in[0]->dtype;
    return kernel_fn([=](const RunArgs& a) {
      auto* y = static_cast<uint8_t*>(a.out[0]);
      auto run = [&](auto tag) {
        using T = decltype(tag);
        auto* p = static_cast<const T*>(a.in[0]);
        auto* q = static_cast<const T*>(a.in[1]);
        for_each_broadcast(out, strides, [&](int64_t i, const auto& o) { y[i] = compare(op, p[o[0]], q[o[1]]); });
      };
      with_element_type(t, run);
    });
  };
}

std::unique_ptr<Kernel> not_op(const BindContext& c) {
  const int64_t n = shape_numel(c.out[0].shape);
  return kernel_fn([n](const RunArgs& a) {
    auto* x = static_cast<const uint8_t*>(a.in[0]);
    auto* y = static_cast<uint8_t*>(a.out[0]);
    for (int64_t i = 0; i < n; ++i) y[i] = !x[i];
  });
}

// IsNaN (nan_test) or IsInf (which infinities its attributes ask for).
std::unique_ptr<Kernel> float_test(const BindContext& c, bool nan_test) {
  const int64_t n = shape_numel(c.out[0].shape);
  const bool neg = c.node.attr_i("detect_negative", 1) != 0, pos = c.node.attr_i("detect_positive", 1) != 0;
  return kernel_fn([=](const RunArgs& a) {
    auto* x = static_cast<const float*>(a.in[0]);
    auto* y = static_cast<uint8_t*>(a.out[0]);
    for (int64_t i = 0; i < n; ++i)
      y[i] = nan_test ? std::isnan(x[i]) : std::isinf(x[i]) && (x[i] > 0 ? pos : neg);
  });
}

std::unique_ptr<Kernel> where(const BindContext& c) {
  const Shape out = c.out[0].shape;
  auto strides = broadcast_strides({c.in_shape(0), c.in_shape(1), c.in_shape(2)}, out);
  const size_t es = dtype_size(c.out[0].dtype);
  return kernel_fn([=](const RunArgs& a) {
    auto* cond = static_cast<const uint8_t*>(a.in[0]);
    auto* x = static_cast<const uint8_t*>(a.in[1]);
    auto* y = static_cast<const uint8_t*>(a.in[2]);
    auto* z = static_cast<uint8_t*>(a.out[0]);
    for_each_broadcast(out, strides, [&](int64_t i, const auto& o) {
      const uint8_t* src = cond[o[0]] ? x + o[1] * int64_t(es) : y + o[2] * int64_t(es);
      for (size_t b = 0; b < es; ++b) z[size_t(i) * es + b] = src[b];
    });
  });
}

}  // namespace

void register_logic_ops(Registry& r) {
  r.add("Equal", 7, 18, compare_op(Cmp::eq));
  r.add("Less", 7, 18, compare_op(Cmp::lt));
  r.add("Greater", 7, 18, compare_op(Cmp::gt));
  r.add("LessOrEqual", 12, 18, compare_op(Cmp::le));
  r.add("GreaterOrEqual", 12, 18, compare_op(Cmp::ge));
  r.add("And", 7, 18, compare_op(Cmp::logical_and));
  r.add("Or", 7, 18, compare_op(Cmp::logical_or));
  r.add("Xor", 7, 18, compare_op(Cmp::logical_xor));
  r.add("Not", 1, 18, not_op);
  r.add("IsNaN", 9, 18, [](const BindContext& c) { return float_test(c, true); });
  r.add("IsInf", 10, 18, [](const BindContext& c) { return float_test(c, false); });
  r.add("Where", 9, 18, where);
}

}  // namespace normrt
