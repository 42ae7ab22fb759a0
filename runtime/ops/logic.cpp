// Comparisons and selection: Equal, Less, Greater, Not, Where.
#include "runtime/ops/broadcast.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

enum class Cmp { eq, lt, gt };

template <class T>
bool compare(Cmp op, T a, T b) {
  return op == Cmp::eq ? a == b : op == Cmp::lt ? a < b : a > b;
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
  r.add("Not", 1, 18, not_op);
  r.add("Where", 9, 18, where);
}

}  // namespace normrt
