// Ops that move or make data without arithmetic: Identity, Dropout
// (inference), Flatten, Reshape, Squeeze, Unsqueeze, Shape, Size, Gather, Concat,
// Split, Slice, Transpose, Expand, Pad, Tile, DepthToSpace, SpaceToDepth,
// Trilu, ReverseSequence, Cast, CastLike, ConstantOfShape, EyeLike, Range.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "graph/geometry.h"
#include "runtime/ops/broadcast.h"
#include "runtime/ops/indices.h"
#include "runtime/ops/strided_copy.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

size_t bytes_of(const ValueInfo& v) { return size_t(shape_numel(v.shape)) * dtype_size(v.dtype); }

// Same bytes, new shape (a copy when folding constants; plans alias instead).
std::unique_ptr<Kernel> copy(const BindContext& c) {
  size_t n = bytes_of(*c.in[0]);
  return kernel_fn([n](const RunArgs& a) {
    if (n) std::memcpy(a.out[0], a.in[0], n);
  });
}

std::unique_ptr<Kernel> dropout(const BindContext& c) {
  size_t n = bytes_of(*c.in[0]);
  size_t mask = c.out.size() > 1 ? size_t(shape_numel(c.out[1].shape)) : 0;
  return kernel_fn([n, mask](const RunArgs& a) {
    if (n) std::memcpy(a.out[0], a.in[0], n);
    if (mask && a.out[1]) std::memset(a.out[1], 1, mask);  // inference keeps every element
  });
}

std::unique_ptr<Kernel> shape(const BindContext& c) {
  auto value = c.out[0].value;  // shape inference knows it
  return kernel_fn([value](const RunArgs& a) {
    if (value->numel()) std::memcpy(a.out[0], value->bytes.data(), value->bytes.size());
  });
}

std::unique_ptr<Kernel> gather(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const int64_t axis = normalize_axis(c.node.attr_i("axis", 0), int64_t(x.size()), c.where);
  const AxisSplit s = split_at(x, axis);
  const int64_t outer = s.outer, dim = s.n, count = shape_numel(c.in_shape(1));
  const size_t block = size_t(s.inner) * dtype_size(c.in[0]->dtype);
  const IndexInput indices(c, 1);
  return kernel_fn([=](const RunArgs& a) {
    auto* src = static_cast<const uint8_t*>(a.in[0]);
    auto* dst = static_cast<uint8_t*>(a.out[0]);
    if (block == 0 || outer == 0) return;
    for (int64_t j = 0; j < count; ++j) {
      const int64_t idx = indices.at(a, j, dim);
      for (int64_t o = 0; o < outer; ++o)
        std::memcpy(dst + (o * count + j) * block, src + (o * dim + idx) * block, block);
    }
  });
}

std::unique_ptr<Kernel> concat(const BindContext& c) {
  const Shape& out = c.out[0].shape;
  const int64_t axis = normalize_axis(c.node.attr_i("axis", 0), int64_t(out.size()), c.where);
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= out[size_t(i)];
  const size_t es = dtype_size(c.out[0].dtype);
  std::vector<size_t> blocks;  // bytes each input contributes per outer index
  for (auto* v : c.in) blocks.push_back(size_t(shape_numel(v->shape) / std::max<int64_t>(outer, 1)) * es);
  size_t row = 0;
  for (size_t b : blocks) row += b;
  return kernel_fn([=](const RunArgs& a) {
    auto* dst = static_cast<uint8_t*>(a.out[0]);
    size_t at = 0;
    for (size_t k = 0; k < blocks.size(); ++k) {
      if (blocks[k] == 0) continue;
      auto* src = static_cast<const uint8_t*>(a.in[k]);
      for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + size_t(o) * row + at, src + size_t(o) * blocks[k], blocks[k]);
      at += blocks[k];
    }
  });
}

std::unique_ptr<Kernel> transpose(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const Shape strides = permuted(strides_of(x), permutation(c.node, "perm", x.size(), c.where));
  StridedCopy sc(c.out[0].shape, strides, 0, dtype_size(c.out[0].dtype));
  return kernel_fn([sc](const RunArgs& a) { sc.run(a.in[0], a.out[0]); });
}

// A transpose that only moves dims of size 1 keeps every element in place.
bool transpose_is_view(const Node& n, const std::vector<const ValueInfo*>& in) {
  const Shape& x = in[0]->shape;
  int64_t last = -1;
  for (int64_t p : permutation(n, "perm", x.size(), "")) {
    if (x[size_t(p)] == 1) continue;
    if (p < last) return false;
    last = p;
  }
  return true;
}

bool always_view(const Node&, const std::vector<const ValueInfo*>&) { return true; }

std::unique_ptr<Kernel> slice(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const auto dims = slice_node_dims(c.node, c.in, c.opset, c.where);
  const Shape in_st = strides_of(x);
  int64_t base = 0;
  Shape strides;
  for (size_t i = 0; i < x.size(); ++i) {
    base += dims[i].start * in_st[i];
    strides.push_back(dims[i].step * in_st[i]);
  }
  StridedCopy sc(c.out[0].shape, strides, base, dtype_size(c.out[0].dtype));
  return kernel_fn([sc](const RunArgs& a) { sc.run(a.in[0], a.out[0]); });
}

// Pad, a row (the last dim) at a time: each output row comes from one input
// row (constant mode: or is all the value), whose middle is copied whole
// and whose ends are the value, the edge element, or mirrored elements.
std::unique_ptr<Kernel> pad(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const std::string mode_name = c.node.attr_s("mode", "constant");
  enum class Mode { constant, edge, reflect } const mode =
      mode_name == "edge" ? Mode::edge : mode_name == "reflect" ? Mode::reflect : Mode::constant;
  std::vector<int64_t> pads, axes;
  if (c.opset < 11) {
    pads = c.node.attr_ints("pads");
  } else {
    pads = c.constant(1)->as_int64();
    if (c.has_input(3)) axes = c.constant(3)->as_int64();
  }
  const PadDims p = pad_dims(x, pads, axes, mode_name, c.where);
  const size_t es = dtype_size(c.out[0].dtype), rank = x.size();
  const DType t = c.out[0].dtype;
  const float attr_value = c.opset < 11 ? c.node.attr_f("value", 0.f) : 0.f;
  const bool value_input = c.opset >= 11 && c.has_input(2);
  const Shape in_st = strides_of(x), out_shape = p.out;
  if (rank == 0) return kernel_fn([es](const RunArgs& a) { std::memcpy(a.out[0], a.in[0], es); });  // nothing to pad
  if (shape_numel(out_shape) == 0) return kernel_fn([](const RunArgs&) {});
  const int64_t w = x[rank - 1], ow = out_shape[rank - 1], b = p.begin[rank - 1];
  const int64_t rows = shape_numel(out_shape) / ow;
  // Source index along a dim for output index o, or -1 for the constant.
  auto source = [mode](int64_t o, int64_t begin, int64_t d) -> int64_t {
    int64_t i = o - begin;
    if (i >= 0 && i < d) return i;
    if (mode == Mode::constant) return -1;
    if (mode == Mode::edge) return i < 0 ? 0 : d - 1;
    return i < 0 ? -i : 2 * (d - 1) - i;  // reflect (pads checked below d)
  };
  return kernel_fn([=](const RunArgs& a) {
    uint8_t value[8] = {};
    if (value_input) std::memcpy(value, a.in[2], es);
    else if (t == DType::float32) std::memcpy(value, &attr_value, 4);
    else if (t == DType::int64 || t == DType::int32) {
      // (a float outside int64's range has no integer value: 0 rather than undefined behaviour)
      const int64_t v = std::fabs(attr_value) < 9.2e18f ? int64_t(attr_value) : 0;
      std::memcpy(value, &v, es);  // little-endian: the low bytes
    }
    auto* src = static_cast<const uint8_t*>(a.in[0]);
    auto* dst = static_cast<uint8_t*>(a.out[0]);
    auto fill = [&](uint8_t* to, int64_t n) {
      for (int64_t k = 0; k < n; ++k) std::memcpy(to + size_t(k) * es, value, es);
    };
    for (int64_t r = 0; r < rows; ++r) {
      uint8_t* out = dst + size_t(r * ow) * es;
      int64_t rest = r, off = 0;
      bool constant_row = false;
      for (size_t d = rank - 1; d-- > 0;) {
        const int64_t o = rest % out_shape[d];
        rest /= out_shape[d];
        const int64_t i = source(o, p.begin[d], x[d]);
        if (i < 0) constant_row = true;
        else off += i * in_st[d];
      }
      if (constant_row) {
        fill(out, ow);
        continue;
      }
      const uint8_t* in = src + size_t(off) * es;
      // Output columns [lo, hi) are input columns [lo - b, hi - b).
      const int64_t lo = std::clamp<int64_t>(b, 0, ow), hi = std::clamp<int64_t>(b + w, 0, ow);
      auto outside = [&](int64_t from, int64_t to) {
        for (int64_t o = from; o < to; ++o) {
          const int64_t i = source(o, b, w);
          if (i < 0) fill(out + size_t(o) * es, 1);
          else std::memcpy(out + size_t(o) * es, in + size_t(i) * es, es);
        }
      };
      if (hi > lo) {
        std::memcpy(out + size_t(lo) * es, in + size_t(lo - b) * es, size_t(hi - lo) * es);
        outside(0, lo);
        outside(hi, ow);
      } else {
        outside(0, ow);
      }
    }
  });
}

// Tile: output dim d, of repeats[d] copies of x's, read as (copy, element):
// the copy's stride is 0.
std::unique_ptr<Kernel> tile(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  if (2 * x.size() > kMaxBroadcastRank) c.fail("Tile of rank above 8 is not supported");
  const Shape st = strides_of(x);
  Shape out, strides;
  for (size_t d = 0; d < x.size(); ++d) {
    out.push_back(c.out[0].shape[d] / std::max<int64_t>(x[d], 1));
    strides.push_back(0);
    out.push_back(x[d]);
    strides.push_back(st[d]);
  }
  StridedCopy sc(out, strides, 0, dtype_size(c.out[0].dtype));
  return kernel_fn([sc](const RunArgs& a) { sc.run(a.in[0], a.out[0]); });
}

// DepthToSpace / SpaceToDepth on NCHW as a transpose of a 6-d view. With
// block b and c channels after (DepthToSpace) or before (SpaceToDepth):
// DCR channel (i * b + j) * c + k, CRD k * b * b + i * b + j, for the pixel
// (h * b + i, w * b + j) of channel k.
std::unique_ptr<Kernel> depth_space(const BindContext& c, bool to_space) {
  const Shape& x = c.in_shape(0);
  const int64_t b = c.node.attr_i("blocksize", 0);
  const bool crd = to_space && c.node.attr_s("mode", "DCR") == "CRD";
  const Shape& deep = to_space ? x : c.out[0].shape;  // [N, c * b * b, H, W]
  const int64_t N = deep[0], ch = deep[1] / (b * b), H = deep[2], W = deep[3];
  // Strides in the deep tensor of (n, k, h, i, w, j).
  const int64_t hw = H * W;
  Shape deep_st = {deep[1] * hw, crd ? b * b * hw : hw, W, crd ? b * hw : b * ch * hw, 1, crd ? hw : ch * hw};
  const Shape dims = {N, ch, H, b, W, b};
  const size_t es = dtype_size(c.out[0].dtype);
  if (to_space) {
    StridedCopy sc(dims, deep_st, 0, es);
    return kernel_fn([sc](const RunArgs& a) { sc.run(a.in[0], a.out[0]); });
  }
  // SpaceToDepth: walk the deep output's dims; the space input's strides for (n, i, j, k, h, w).
  const int64_t sw = W * b, shw = H * b * sw;
  const Shape out_dims = {N, b, b, ch, H, W}, in_st = {ch * shw, sw, 1, shw, b * sw, b};
  StridedCopy sc(out_dims, in_st, 0, es);
  return kernel_fn([sc](const RunArgs& a) { sc.run(a.in[0], a.out[0]); });
}

// Trilu: the last two dims' lower (upper = 0: j - i <= k) or upper
// (j - i >= k) triangle kept, the rest zero; k is read when the step runs.
std::unique_ptr<Kernel> trilu(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const int64_t rows = x[x.size() - 2], cols = x.back(), mats = shape_numel(x) / std::max<int64_t>(rows * cols, 1);
  const bool upper = c.node.attr_i("upper", 1) != 0, has_k = c.has_input(1);
  const size_t es = dtype_size(c.out[0].dtype);
  return kernel_fn([=](const RunArgs& a) {
    // Clamped so i + k cannot overflow; beyond the matrix it changes nothing.
    const int64_t k = has_k ? std::clamp<int64_t>(*static_cast<const int64_t*>(a.in[1]), -rows - 1, cols + 1) : 0;
    auto* src = static_cast<const uint8_t*>(a.in[0]);
    auto* dst = static_cast<uint8_t*>(a.out[0]);
    for (int64_t m = 0; m < mats; ++m)
      for (int64_t i = 0; i < rows; ++i) {
        // Columns [lo, hi) are kept.
        const int64_t lo = upper ? std::clamp<int64_t>(i + k, 0, cols) : 0;
        const int64_t hi = upper ? cols : std::clamp<int64_t>(i + k + 1, 0, cols);
        const size_t row = size_t((m * rows + i) * cols) * es;
        std::memset(dst + row, 0, size_t(cols) * es);
        if (hi > lo) std::memcpy(dst + row + size_t(lo) * es, src + row + size_t(lo) * es, size_t(hi - lo) * es);
      }
  });
}

// ReverseSequence: for each batch entry b, its first sequence_lens[b] steps
// along the time axis in reverse order, the steps after them as they are.
// Time and batch are dims 0 and 1, so each (time, batch) slice is contiguous.
std::unique_ptr<Kernel> reverse_sequence(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const bool time_first = c.node.attr_i("time_axis", 0) == 0;
  const int64_t T = x[time_first ? 0 : 1], B = x[time_first ? 1 : 0];
  const size_t slice = size_t(shape_numel(x) / std::max<int64_t>(T * B, 1)) * dtype_size(c.out[0].dtype);
  const std::string where = c.where;
  return kernel_fn([=](const RunArgs& a) {
    auto* src = static_cast<const uint8_t*>(a.in[0]);
    auto* dst = static_cast<uint8_t*>(a.out[0]);
    const int64_t* lens = static_cast<const int64_t*>(a.in[1]);
    for (int64_t b = 0; b < B; ++b)
      if (lens[b] < 0 || lens[b] > T)
        throw Error(where + ": sequence_lens[" + std::to_string(b) + "] = " + std::to_string(lens[b]) +
                    " is outside [0, " + std::to_string(T) + "]");
    auto at = [&](int64_t t, int64_t b) { return size_t(time_first ? t * B + b : b * T + t) * slice; };
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) std::memcpy(dst + at(t, b), src + at(t < lens[b] ? lens[b] - 1 - t : t, b), slice);
  });
}

// EyeLike: ones on diagonal k (column = row + k), zeros elsewhere.
std::unique_ptr<Kernel> eye_like(const BindContext& c) {
  const Shape& y = c.out[0].shape;
  const int64_t rows = y[0], cols = y[1], k = c.node.attr_i("k", 0);
  const DType t = c.out[0].dtype;
  return kernel_fn([=](const RunArgs& a) {
    with_element_type(t, [&](auto tag) {
      using T = decltype(tag);
      auto* out = static_cast<T*>(a.out[0]);
      std::fill(out, out + rows * cols, T(0));
      for (int64_t i = 0; i < rows; ++i)
        if (k >= -i && k < cols - i) out[i * cols + i + k] = T(1);
    });
  });
}

std::unique_ptr<Kernel> expand(const BindContext& c) {
  StridedCopy sc(c.out[0].shape, broadcast_strides({c.in_shape(0)}, c.out[0].shape)[0], 0, dtype_size(c.out[0].dtype));
  return kernel_fn([sc](const RunArgs& a) { sc.run(a.in[0], a.out[0]); });
}

std::unique_ptr<Kernel> split(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const int64_t axis = normalize_axis(c.node.attr_i("axis", 0), int64_t(x.size()), c.where);
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x[size_t(i)];
  const size_t es = dtype_size(c.in[0]->dtype);
  const size_t row = size_t(shape_numel(x) / std::max<int64_t>(outer, 1)) * es;
  std::vector<size_t> blocks;
  for (auto& o : c.out) blocks.push_back(size_t(shape_numel(o.shape) / std::max<int64_t>(outer, 1)) * es);
  return kernel_fn([=](const RunArgs& a) {
    auto* src = static_cast<const uint8_t*>(a.in[0]);
    size_t at = 0;
    for (size_t k = 0; k < blocks.size(); ++k) {
      if (blocks[k]) {
        auto* dst = static_cast<uint8_t*>(a.out[k]);
        for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + size_t(o) * blocks[k], src + size_t(o) * row + at, blocks[k]);
      }
      at += blocks[k];
    }
  });
}

template <class To, class From>
To convert(From v) {
  if constexpr (std::is_same_v<To, uint8_t>) {
    return v != From(0);
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    // Out-of-range float to int is undefined in C++: NaN gives 0, the rest saturates.
    if (std::isnan(v)) return 0;
    if (v <= From(std::numeric_limits<To>::min())) return std::numeric_limits<To>::min();
    if (v >= From(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return To(v);
  } else {
    return To(v);
  }
}

std::unique_ptr<Kernel> cast(const BindContext& c) {
  const DType from = c.in[0]->dtype, to = c.out[0].dtype;
  const int64_t n = shape_numel(c.out[0].shape);
  const DType target = DType(c.node.attr_i("to", 0));
  if (narrow_float(target))
    // To float16 or bfloat16, held as float32: rounded to its precision and range.
    return kernel_fn([=](const RunArgs& a) {
      auto* y = static_cast<float*>(a.out[0]);
      with_element_type(from, [&](auto src_tag) {
        auto* x = static_cast<const decltype(src_tag)*>(a.in[0]);
        for (int64_t i = 0; i < n; ++i) y[i] = rounded_to(target, convert<float>(x[i]));
      });
    });
  return kernel_fn([=](const RunArgs& a) {
    auto with_to = [&](auto src_tag) {
      using S = decltype(src_tag);
      auto* x = static_cast<const S*>(a.in[0]);
      auto go = [&](auto dst_tag) {
        using D = decltype(dst_tag);
        auto* y = static_cast<D*>(a.out[0]);
        for (int64_t i = 0; i < n; ++i) y[i] = convert<D>(x[i]);
      };
      with_element_type(to, go);
    };
    with_element_type(from, with_to);
  });
}

std::unique_ptr<Kernel> constant_of_shape(const BindContext& c) {
  const Attribute* v = c.node.attr("value");
  std::vector<uint8_t> value(dtype_size(c.out[0].dtype), 0);
  if (v && v->t) {
    if (v->t->numel() != 1) c.fail("value must hold one element");
    value = v->t->bytes;
  }
  const int64_t n = shape_numel(c.out[0].shape);
  return kernel_fn([=](const RunArgs& a) {
    auto* y = static_cast<uint8_t*>(a.out[0]);
    for (int64_t i = 0; i < n; ++i) std::memcpy(y + size_t(i) * value.size(), value.data(), value.size());
  });
}

std::unique_ptr<Kernel> range(const BindContext& c) {
  const DType t = c.out[0].dtype;
  const int64_t n = shape_numel(c.out[0].shape);
  return kernel_fn([=](const RunArgs& a) {
    with_element_type(t, [&](auto tag) {  // float, int64 or int32: the schema allows no one-byte type
      using T = decltype(tag);
      const T start = *static_cast<const T*>(a.in[0]), delta = *static_cast<const T*>(a.in[2]);
      auto* y = static_cast<T*>(a.out[0]);
      for (int64_t i = 0; i < n; ++i) y[i] = T(start + T(i) * delta);
    });
  });
}

}  // namespace

void register_tensor_ops(Registry& r) {
  r.add("Identity", 1, 18, copy, always_view);
  r.add("Flatten", 1, 18, copy, always_view);
  r.add("Reshape", 5, 18, copy, always_view);
  r.add("Squeeze", 1, 18, copy, always_view);
  r.add("Unsqueeze", 1, 18, copy, always_view);
  r.add("Dropout", 1, 18, dropout);
  r.add("Shape", 1, 18, shape);
  r.add("Size", 1, 18, shape);  // (its value too is known from the shape)
  r.add("Gather", 1, 18, gather);
  r.add("Concat", 4, 18, concat);
  r.add("Split", 2, 18, split);
  r.add("Slice", 1, 18, slice);
  r.add("Transpose", 1, 18, transpose, transpose_is_view);
  r.add("Expand", 8, 18, expand);
  r.add("Pad", 2, 18, pad);
  r.add("Tile", 6, 18, tile);
  r.add("Trilu", 14, 18, trilu);
  r.add("ReverseSequence", 10, 18, reverse_sequence);
  r.add("DepthToSpace", 1, 18, [](const BindContext& c) { return depth_space(c, true); });
  r.add("SpaceToDepth", 1, 18, [](const BindContext& c) { return depth_space(c, false); });
  r.add("Cast", 6, 18, cast);
  r.add("CastLike", 15, 18, cast);  // the type comes from input 1 (shape inference)
  r.add("EyeLike", 9, 18, eye_like);
  r.add("ConstantOfShape", 9, 18, constant_of_shape);
  r.add("Range", 11, 18, range);
}

}  // namespace normrt
