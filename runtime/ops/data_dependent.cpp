// Ops whose output shapes depend on their inputs' values: NonZero, Compress,
// Unique and NonMaxSuppression. Each computes its outputs whole from known
// inputs (Registry::add_computed); a plan stops before such a node and the
// session runs it between that plan and one made for the rest of the graph.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>

#include "graph/geometry.h"
#include "runtime/ops/broadcast.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

using Inputs = std::vector<const Tensor*>;
using Results = std::vector<std::shared_ptr<const Tensor>>;

// An output tensor, refused with an Error above the session's limit before it is allocated.
std::shared_ptr<Tensor> output(DType t, const Shape& s, size_t max_bytes, const std::string& where) {
  check_bytes(size_t(checked_numel(s, where)) * dtype_size(t), max_bytes, where, "an output of shape " + shape_str(s));
  return std::make_shared<Tensor>(t, s);
}

const Tensor& required(const Inputs& in, size_t k, const std::string& where) {
  if (k >= in.size() || !in[k]) throw Error(where + ": required input " + std::to_string(k) + " is missing");
  return *in[k];
}

// Whether element i is nonzero; -0.0 and +0.0 are zero, NaN is not.
bool nonzero_at(const Tensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::float32: return t.data<float>()[i] != 0.0f;
    case DType::float64: return t.data<double>()[i] != 0.0;
    default: {
      const size_t e = dtype_size(t.dtype);
      const uint8_t* p = t.bytes.data() + size_t(i) * e;
      return std::any_of(p, p + e, [](uint8_t b) { return b != 0; });
    }
  }
}

// [rank, count] of the coordinates of the nonzero elements, in row-major
// order (a scalar counts as one element of rank 1, as numpy's nonzero does).
Results non_zero(const Node&, const Inputs& in, int64_t, const std::string& where, size_t max_bytes) {
  const Tensor& x = required(in, 0, where);
  const Shape dims = x.shape.empty() ? Shape{1} : x.shape;
  const int64_t rank = int64_t(dims.size()), n = x.numel();
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += nonzero_at(x, i);
  auto y = output(DType::int64, Shape{rank, count}, max_bytes, where);
  int64_t* out = y->data<int64_t>();
  for (int64_t i = 0, j = 0; i < n; ++i) {
    if (!nonzero_at(x, i)) continue;
    int64_t rest = i;
    for (int64_t d = rank; d-- > 0;) {
      out[d * count + j] = rest % dims[size_t(d)];
      rest /= dims[size_t(d)];
    }
    ++j;
  }
  return {y};
}

// The slices of input 0 along `axis` (or its elements, flattened, without
// one) whose condition is true; slices past the condition's end are dropped.
Results compress(const Node& n, const Inputs& in, int64_t, const std::string& where, size_t max_bytes) {
  const Tensor& x = required(in, 0, where);
  const Tensor& cond = required(in, 1, where);
  if (cond.dtype != DType::boolean || cond.shape.size() != 1)
    throw Error(where + ": condition must be a 1-D bool tensor, not " + dtype_name(cond.dtype) + " " +
                shape_str(cond.shape));
  const bool flat = !n.has("axis");
  const Shape dims = flat ? Shape{x.numel()} : x.shape;
  const int64_t axis = flat ? 0 : normalize_axis(n.attr_i("axis", 0), int64_t(dims.size()), where);
  const AxisSplit s = split_at(dims, axis);
  if (cond.shape[0] > s.n)
    throw Error(where + ": condition has " + std::to_string(cond.shape[0]) + " values, the axis only " +
                std::to_string(s.n));
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < cond.shape[0]; ++i)
    if (cond.data<uint8_t>()[i]) kept.push_back(i);
  Shape out_dims = dims;
  out_dims[size_t(axis)] = int64_t(kept.size());
  auto y = output(x.dtype, out_dims, max_bytes, where);
  const size_t row = size_t(s.inner) * dtype_size(x.dtype);
  if (row == 0) return {y};  // slices of no elements (their buffers may be null)
  uint8_t* dst = y->bytes.data();
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i : kept) {
      std::memcpy(dst, x.bytes.data() + (size_t(o * s.n + i)) * row, row);
      dst += row;
    }
  return {y};
}

// Three-way comparison of slices a and b along the split's axis, element by
// element in row-major order; NaN after every number and equal to NaN.
template <class T>
int compare_slices(const T* x, int64_t a, int64_t b, const AxisSplit& s) {
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      const T u = x[(o * s.n + a) * s.inner + i], v = x[(o * s.n + b) * s.inner + i];
      const bool u_nan = u != u, v_nan = v != v;
      if (u_nan != v_nan) return u_nan ? 1 : -1;
      if (u < v) return -1;
      if (v < u) return 1;
    }
  return 0;
}

// The distinct slices of X along `axis` (elements, flattened, without one),
// sorted ascending or in order of first occurrence; with each one's first
// index, the index of its unique slice for every slice, and the counts.
Results unique(const Node& n, const Inputs& in, int64_t, const std::string& where, size_t max_bytes) {
  const Tensor& x = required(in, 0, where);
  const bool flat = !n.has("axis");
  const Shape dims = flat ? Shape{x.numel()} : x.shape;
  if (dims.empty()) throw Error(where + ": Unique along an axis needs an input of rank 1 or more");
  const int64_t axis = flat ? 0 : normalize_axis(n.attr_i("axis", 0), int64_t(dims.size()), where);
  const AxisSplit s = split_at(dims, axis);
  std::vector<int64_t> order(size_t(s.n));
  std::iota(order.begin(), order.end(), 0);
  auto sort_by = [&](auto zero) {
    using T = decltype(zero);
    const T* p = x.data<T>();
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return compare_slices(p, a, b, s) < 0; });
    return [p, &s](int64_t a, int64_t b) { return compare_slices(p, a, b, s) == 0; };
  };
  std::function<bool(int64_t, int64_t)> same;
  switch (x.dtype) {
    case DType::float32: same = sort_by(float{}); break;
    case DType::float64: same = sort_by(double{}); break;
    case DType::int64: same = sort_by(int64_t{}); break;
    case DType::int32: same = sort_by(int32_t{}); break;
    case DType::int8: same = sort_by(int8_t{}); break;
    case DType::uint8: case DType::boolean: same = sort_by(uint8_t{}); break;
    default: throw Error(where + ": Unique of " + dtype_name(x.dtype) + " is not supported");
  }
  // Groups of equal slices, each led by its first occurrence (the sort is stable).
  std::vector<int64_t> first, count, group_of(size_t(s.n));
  for (size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || !same(order[i - 1], order[i])) {
      first.push_back(order[i]);
      count.push_back(0);
    }
    group_of[size_t(order[i])] = int64_t(first.size()) - 1;
    ++count.back();
  }
  std::vector<int64_t> rank(first.size());  // output position of each group
  std::iota(rank.begin(), rank.end(), 0);
  if (!n.attr_i("sorted", 1)) {
    std::vector<int64_t> by_first(first.size());
    std::iota(by_first.begin(), by_first.end(), 0);
    std::sort(by_first.begin(), by_first.end(), [&](int64_t a, int64_t b) { return first[size_t(a)] < first[size_t(b)]; });
    for (size_t k = 0; k < by_first.size(); ++k) rank[size_t(by_first[k])] = int64_t(k);
  }
  const int64_t u = int64_t(first.size());
  Shape y_dims = dims;
  y_dims[size_t(axis)] = u;
  auto y = output(x.dtype, y_dims, max_bytes, where);
  auto indices = output(DType::int64, Shape{u}, max_bytes, where);
  auto inverse = output(DType::int64, Shape{s.n}, max_bytes, where);
  auto counts = output(DType::int64, Shape{u}, max_bytes, where);
  const size_t row = size_t(s.inner) * dtype_size(x.dtype);
  for (int64_t g = 0; g < u; ++g) {
    const int64_t r = rank[size_t(g)];
    indices->data<int64_t>()[r] = first[size_t(g)];
    counts->data<int64_t>()[r] = count[size_t(g)];
    if (row == 0) continue;  // slices of no elements (their buffers may be null)
    for (int64_t o = 0; o < s.outer; ++o)
      std::memcpy(y->bytes.data() + size_t(o * u + r) * row, x.bytes.data() + size_t(o * s.n + first[size_t(g)]) * row,
                  row);
  }
  for (int64_t i = 0; i < s.n; ++i) inverse->data<int64_t>()[i] = rank[size_t(group_of[size_t(i)])];
  return {y, indices, inverse, counts};
}

struct Box {
  float y1, x1, y2, x2;  // corners, y1 <= y2 and x1 <= x2
};

float iou(const Box& a, const Box& b) {
  const float h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1), w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  if (h <= 0 || w <= 0) return 0;
  const float inter = h * w;
  const float uni = (a.y2 - a.y1) * (a.x2 - a.x1) + (b.y2 - b.y1) * (b.x2 - b.x1) - inter;
  return uni > 0 ? inter / uni : 0;
}

// For every batch and class, greedily the highest-scoring boxes (above
// score_threshold) whose overlap with each box kept before is at most
// iou_threshold, at most max_output_boxes_per_class of them: rows of
// [batch, class, box], in that order and by score within a class.
Results non_max_suppression(const Node& n, const Inputs& in, int64_t, const std::string& where, size_t max_bytes) {
  const Tensor& boxes = required(in, 0, where);
  const Tensor& scores = required(in, 1, where);
  if (boxes.dtype != DType::float32 || scores.dtype != DType::float32)
    throw Error(where + ": boxes and scores must be float32");
  if (boxes.shape.size() != 3 || boxes.shape[2] != 4 || scores.shape.size() != 3 ||
      scores.shape[0] != boxes.shape[0] || scores.shape[2] != boxes.shape[1])
    throw Error(where + ": boxes " + shape_str(boxes.shape) + " and scores " + shape_str(scores.shape) +
                " must be [batch, boxes, 4] and [batch, classes, boxes]");
  auto scalar = [&](size_t k, DType t, const char* what) {
    return one_value(k < in.size() ? in[k] : nullptr, t, where, what);
  };
  const Tensor* max_t = scalar(2, DType::int64, "max_output_boxes_per_class");
  const Tensor* iou_t = scalar(3, DType::float32, "iou_threshold");
  const Tensor* score_t = scalar(4, DType::float32, "score_threshold");
  const int64_t max_out = max_t ? std::max<int64_t>(max_t->data<int64_t>()[0], 0) : 0;
  const float iou_max = iou_t ? iou_t->data<float>()[0] : 0.0f;
  const bool centered = n.attr_i("center_point_box", 0) != 0;
  const int64_t B = scores.shape[0], C = scores.shape[1], N = scores.shape[2];
  std::vector<int64_t> rows;
  std::vector<Box> corner(static_cast<size_t>(N));
  std::vector<int64_t> order, kept;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < N; ++i) {
      const float* v = boxes.data<float>() + (b * N + i) * 4;
      if (centered) {
        corner[size_t(i)] = Box{v[1] - v[3] / 2, v[0] - v[2] / 2, v[1] + v[3] / 2, v[0] + v[2] / 2};
      } else {
        corner[size_t(i)] = Box{std::min(v[0], v[2]), std::min(v[1], v[3]), std::max(v[0], v[2]), std::max(v[1], v[3])};
      }
    }
    for (int64_t c = 0; c < C; ++c) {
      const float* sc = scores.data<float>() + (b * C + c) * N;
      order.clear();
      for (int64_t i = 0; i < N; ++i)
        if (!score_t || sc[i] > score_t->data<float>()[0]) order.push_back(i);
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b2) { return sc[a] > sc[b2]; });
      kept.clear();
      for (int64_t i : order) {
        if (int64_t(kept.size()) >= max_out) break;
        if (std::all_of(kept.begin(), kept.end(),
                        [&](int64_t k) { return !(iou(corner[size_t(k)], corner[size_t(i)]) > iou_max); }))
          kept.push_back(i);
      }
      for (int64_t k : kept) rows.insert(rows.end(), {b, c, k});
    }
  }
  auto y = output(DType::int64, Shape{int64_t(rows.size() / 3), 3}, max_bytes, where);
  std::copy(rows.begin(), rows.end(), y->data<int64_t>());
  return {y};
}

}  // namespace

void register_data_dependent_ops(Registry& r) {
  r.add_computed("NonZero", 9, 18, non_zero);
  r.add_computed("Compress", 9, 18, compress);
  r.add_computed("Unique", 11, 18, unique);
  r.add_computed("NonMaxSuppression", 10, 18, non_max_suppression);
}

}  // namespace normrt
