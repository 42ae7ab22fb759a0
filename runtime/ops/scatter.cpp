// Ops that read or write elements at places given by index tensors:
// GatherElements, GatherND, ScatterElements, ScatterND (with the none/add/mul/max/min
// reductions), OneHot. An index out of its dim's range is an error naming
// the node, when the step runs.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "graph/geometry.h"
#include "runtime/ops/broadcast.h"
#include "runtime/ops/indices.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

enum class Reduction { none, add, mul, max, min };

Reduction reduction_of(const BindContext& c) {
  const std::string r = c.node.attr_s("reduction", "none");
  return r == "add" ? Reduction::add : r == "mul" ? Reduction::mul : r == "max" ? Reduction::max
                                                       : r == "min" ? Reduction::min : Reduction::none;
}

// Integers wrap (unsigned arithmetic: no overflow UB), bools stay 0 or 1
// (add and max are or, mul and min and), and a float NaN on either side wins
// max and min.
template <class T>
void combine(Reduction r, T& to, T v) {
  if (r == Reduction::none) {
    to = v;
  } else if constexpr (std::is_same_v<T, float>) {
    if (r == Reduction::add) to += v;
    else if (r == Reduction::mul) to *= v;
    else if (to == to && (v != v || (r == Reduction::max ? v > to : v < to))) to = v;
  } else if constexpr (std::is_same_v<T, uint8_t>) {
    to = r == Reduction::add || r == Reduction::max ? (to | v) : (to & v);
  } else {
    using U = std::make_unsigned_t<T>;
    if (r == Reduction::add) to = T(U(to) + U(v));
    else if (r == Reduction::mul) to = T(U(to) * U(v));
    else to = r == Reduction::max ? std::max(to, v) : std::min(to, v);
  }
}

// The elements of data a GatherElements or ScatterElements index tensor
// points at: walking the indices' shape with `walk` gives each one's place in
// data with its axis coordinate 0; the index times `step` adds that.
struct AlongAxis {
  std::vector<Shape> walk;  // (as for_each_broadcast takes it; made once, not per run)
  int64_t dim = 0, step = 0;
  AlongAxis(const BindContext& c) {
    const Shape& x = c.in_shape(0);
    const size_t axis = size_t(normalize_axis(c.node.attr_i("axis", 0), int64_t(x.size()), c.where));
    if (x.size() > kMaxBroadcastRank) c.fail("tensors of rank above 16 are not supported here");
    Shape strides = strides_of(x);
    dim = x[axis], step = strides[axis];
    strides[axis] = 0;
    walk = {strides};
  }
};

std::unique_ptr<Kernel> gather_elements(const BindContext& c) {
  const AlongAxis along(c);
  const Shape idx = c.in_shape(1);
  const IndexInput indices(c, 1);
  const size_t es = dtype_size(c.out[0].dtype);
  return kernel_fn([=](const RunArgs& a) {
    auto* src = static_cast<const uint8_t*>(a.in[0]);
    auto* dst = static_cast<uint8_t*>(a.out[0]);
    for_each_broadcast(idx, along.walk, [&](int64_t i, const auto& off) {
      const int64_t j = indices.at(a, i, along.dim);
      std::memcpy(dst + size_t(i) * es, src + size_t(off[0] + j * along.step) * es, es);
    });
  });
}

// What both scatters take from the node: the output starts as a copy of the
// data, then run(a, f) calls f(out, updates) with the element type (float32,
// int64, int32; bool as uint8).
struct Scatter {
  IndexInput indices;
  Reduction red;
  DType t;
  size_t bytes;
  explicit Scatter(const BindContext& c)
      : indices(c, 1), red(reduction_of(c)), t(c.out[0].dtype),
        bytes(size_t(shape_numel(c.in_shape(0))) * dtype_size(c.out[0].dtype)) {}
  template <class F>
  void run(const RunArgs& a, F&& f) const {
    if (bytes) std::memcpy(a.out[0], a.in[0], bytes);
    with_element_type(t, [&](auto tag) {
      using T = decltype(tag);
      f(static_cast<T*>(a.out[0]), static_cast<const T*>(a.in[2]));
    });
  }
};

std::unique_ptr<Kernel> scatter_elements(const BindContext& c) {
  const AlongAxis along(c);
  const Scatter sc(c);
  const Shape idx = c.in_shape(1);
  return kernel_fn([=](const RunArgs& a) {
    sc.run(a, [&](auto* out, auto* upd) {
      for_each_broadcast(idx, along.walk, [&](int64_t i, const auto& off) {
        combine(sc.red, out[off[0] + sc.indices.at(a, i, along.dim) * along.step], upd[i]);
      });
    });
  });
}

std::unique_ptr<Kernel> scatter_nd(const BindContext& c) {
  const Shape x = c.in_shape(0), &idx = c.in_shape(1);
  const int64_t k = idx.back(), tuples = shape_numel(idx) / std::max<int64_t>(k, 1);
  const Shape strides = strides_of(x);
  int64_t slice = 1;
  for (size_t d = size_t(k); d < x.size(); ++d) slice *= x[d];
  const Scatter sc(c);
  return kernel_fn([=](const RunArgs& a) {
    sc.run(a, [&](auto* out, auto* upd) {
      for (int64_t u = 0; u < tuples; ++u) {
        const int64_t off = sc.indices.tuple_offset(a, u, k, x, strides, 0);
        for (int64_t e = 0; e < slice; ++e) combine(sc.red, out[off + e], upd[u * slice + e]);
      }
    });
  });
}

// GatherND: each tuple in the last dim of indices picks a slice of data
// (within its batch: the first batch_dims dims, shared by data and indices).
std::unique_ptr<Kernel> gather_nd(const BindContext& c) {
  const Shape &x = c.in_shape(0), &idx = c.in_shape(1);
  const size_t b = size_t(c.node.attr_i("batch_dims", 0));
  const int64_t k = idx.back();
  int64_t batches = 1, slice = 1;
  for (size_t d = 0; d < b; ++d) batches *= x[d];
  for (size_t d = b + size_t(k); d < x.size(); ++d) slice *= x[d];
  const int64_t tuples = batches ? shape_numel(idx) / k / batches : 0;
  const Shape dims = x, strides = strides_of(x);
  const int64_t batch_stride = b ? strides[b - 1] : 0;
  const IndexInput indices(c, 1);
  const size_t es = dtype_size(c.out[0].dtype);
  return kernel_fn([=](const RunArgs& a) {
    auto* src = static_cast<const uint8_t*>(a.in[0]);
    auto* dst = static_cast<uint8_t*>(a.out[0]);
    for (int64_t bt = 0; bt < batches; ++bt)
      for (int64_t u = 0; u < tuples; ++u) {
        const int64_t t = bt * tuples + u;
        const int64_t off = bt * batch_stride + indices.tuple_offset(a, t, k, dims, strides, b);
        std::memcpy(dst + size_t(t * slice) * es, src + size_t(off) * es, size_t(slice) * es);
      }
  });
}

// OneHot: out[..., i at axis, ...] = on where i is the index (negative ones
// count from depth), off elsewhere; an index outside [-depth, depth) leaves
// its row all off, as ONNX says.
std::unique_ptr<Kernel> one_hot(const BindContext& c) {
  const Shape& out = c.out[0].shape;
  const int64_t axis = normalize_axis(c.node.attr_i("axis", -1), int64_t(out.size()), c.where);
  const AxisSplit s = split_at(out, axis);
  const int64_t outer = s.outer, depth = s.n, inner = s.inner;
  const DType it = c.in[0]->dtype, t = c.out[0].dtype;
  return kernel_fn([=](const RunArgs& a) {
    with_element_type(t, [&](auto tag) {
      using T = decltype(tag);
      auto* y = static_cast<T*>(a.out[0]);
      auto* values = static_cast<const T*>(a.in[2]);
      std::fill(y, y + outer * depth * inner, values[0]);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < inner; ++j) {
          const int64_t at = o * inner + j;
          double raw = it == DType::float32 ? double(static_cast<const float*>(a.in[0])[at])
                       : it == DType::int64  ? double(static_cast<const int64_t*>(a.in[0])[at])
                                             : double(static_cast<const int32_t*>(a.in[0])[at]);
          if (!(std::fabs(raw) < double(depth) + 1)) continue;  // (also keeps the conversion in range)
          int64_t i = int64_t(raw);  // floats truncate toward zero, as ONNX casts them
          if (i < -depth || i >= depth) continue;
          if (i < 0) i += depth;
          y[(o * depth + i) * inner + j] = values[1];
        }
    });
  });
}

}  // namespace

void register_scatter_ops(Registry& r) {
  r.add("GatherElements", 11, 18, gather_elements);
  r.add("ScatterElements", 11, 18, scatter_elements);
  r.add("ScatterND", 11, 18, scatter_nd);
  r.add("GatherND", 11, 18, gather_nd);
  r.add("OneHot", 9, 18, one_hot);
}

}  // namespace normrt
