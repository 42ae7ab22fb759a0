#pragma once
// Walking an output index space with numpy broadcasting of several inputs,
// for the ops off the hot path (Where, Expand, comparisons, strided copies),
// and the row split the vectorized two-input kernels take (Add, Sub, Mul,
// Div, AddSoftmax). No allocation per call: index state lives in fixed arrays.
#include <array>
#include <vector>

#include "graph/ir.h"

namespace normrt {

constexpr size_t kMaxBroadcastRank = 16;
constexpr size_t kMaxBroadcastInputs = 3;

// Row-major element strides of a dense tensor of shape `s`.
inline Shape strides_of(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) st[i] = acc, acc *= s[i];
  return st;
}

// x as [outer, n, inner] around `axis`.
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
inline AxisSplit split_at(const Shape& x, int64_t axis) {
  AxisSplit s;
  for (int64_t i = 0; i < int64_t(x.size()); ++i) (i < axis ? s.outer : i == axis ? s.n : s.inner) *= x[size_t(i)];
  return s;
}

// Per input, the element stride along each output dim (0 where it broadcasts).
inline std::vector<Shape> broadcast_strides(const std::vector<Shape>& ins, const Shape& out) {
  if (out.size() > kMaxBroadcastRank) throw Error("tensors of rank above 16 are not supported here");
  std::vector<Shape> r;
  for (const Shape& s : ins) {
    Shape st(out.size(), 0);
    int64_t acc = 1;
    for (size_t k = 0; k < s.size(); ++k) {
      size_t i = s.size() - 1 - k, o = out.size() - 1 - k;
      st[o] = s[i] == 1 ? 0 : acc;
      acc *= s[i];
    }
    r.push_back(st);
  }
  return r;
}

// Calls f(out_index, offsets) for every output element in order; offsets[k]
// is input k's element offset.
template <class F>
void for_each_broadcast(const Shape& out, const std::vector<Shape>& strides, F&& f) {
  const int64_t total = shape_numel(out);
  const size_t rank = out.size(), n = strides.size();
  std::array<int64_t, kMaxBroadcastRank> idx{};
  std::array<int64_t, kMaxBroadcastInputs> off{};
  for (int64_t i = 0; i < total; ++i) {
    f(i, off);
    for (size_t d = rank; d-- > 0;) {
      for (size_t k = 0; k < n; ++k) off[k] += strides[k][d];
      if (++idx[d] < out[d]) break;
      for (size_t k = 0; k < n; ++k) off[k] -= strides[k][d] * out[d];
      idx[d] = 0;
    }
  }
}

// Output index space split into outer rows of `inner` elements; a and b step
// through each row with stride sa / sb (0 or 1).
struct Broadcast {
  int64_t inner = 1, sa = 1, sb = 1, rows = 1;
  Shape outer_dims, a_strides, b_strides;  // per outer dim, in elements

  Broadcast(Shape a, Shape b, const Shape& out) {
    const size_t r = out.size();
    a.insert(a.begin(), r - a.size(), 1);
    b.insert(b.begin(), r - b.size(), 1);
    // Strides, with 0 where a dim broadcasts.
    Shape as(r), bs(r);
    int64_t sa_acc = 1, sb_acc = 1;
    for (size_t i = r; i-- > 0;) {
      as[i] = a[i] == 1 ? 0 : sa_acc;
      bs[i] = b[i] == 1 ? 0 : sb_acc;
      sa_acc *= a[i];
      sb_acc *= b[i];
    }
    // Merge dims from the innermost while both operands stay contiguous (or broadcast) as one run.
    size_t k = r;
    inner = 1;
    bool a_full = true, b_full = true;  // operand is contiguous over the merged run (vs. broadcast)
    bool first = true;
    while (k > 0) {
      size_t i = k - 1;
      if (out[i] == 1) { --k; continue; }
      bool a_c = as[i] == inner && (first || a_full), a_b = as[i] == 0 && (first || !a_full);
      bool b_c = bs[i] == inner && (first || b_full), b_b = bs[i] == 0 && (first || !b_full);
      if (!((a_c || a_b) && (b_c || b_b))) break;
      if (first) { a_full = a_c; b_full = b_c; first = false; }
      inner *= out[i];
      --k;
    }
    sa = a_full ? 1 : 0;
    sb = b_full ? 1 : 0;
    for (size_t i = 0; i < k; ++i) {
      if (out[i] == 1) continue;
      outer_dims.push_back(out[i]);
      a_strides.push_back(as[i]);
      b_strides.push_back(bs[i]);
      rows *= out[i];
    }
  }

  void offsets(int64_t row, int64_t& oa, int64_t& ob) const {
    oa = ob = 0;
    for (size_t i = outer_dims.size(); i-- > 0;) {
      int64_t idx = row % outer_dims[i];
      row /= outer_dims[i];
      oa += idx * a_strides[i];
      ob += idx * b_strides[i];
    }
  }
};

}  // namespace normrt
