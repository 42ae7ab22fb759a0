#pragma once
// Walking an output index space with numpy broadcasting of several inputs,
// for the ops off the hot path (Where, Expand, comparisons).
#include <vector>

#include "graph/ir.h"

namespace normrt {

// Per input, the element stride along each output dim (0 where it broadcasts).
inline std::vector<Shape> broadcast_strides(const std::vector<Shape>& ins, const Shape& out) {
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

// Calls f(out_index, offsets) for every output element in order; `offsets`
// holds each input's element offset.
template <class F>
void for_each_broadcast(const Shape& out, const std::vector<Shape>& strides, F&& f) {
  const int64_t total = shape_numel(out);
  std::vector<int64_t> idx(out.size(), 0), off(strides.size(), 0);
  for (int64_t i = 0; i < total; ++i) {
    f(i, off);
    for (size_t d = out.size(); d-- > 0;) {
      for (size_t k = 0; k < strides.size(); ++k) off[k] += strides[k][d];
      if (++idx[d] < out[d]) break;
      for (size_t k = 0; k < strides.size(); ++k) off[k] -= strides[k][d] * out[d];
      idx[d] = 0;
    }
  }
}

}  // namespace normrt
