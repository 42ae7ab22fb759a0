#pragma once
// Walking an output index space with numpy broadcasting of several inputs,
// for the ops off the hot path (Where, Expand, comparisons, strided copies).
// No allocation per call: index state lives in fixed arrays.
#include <array>
#include <vector>

#include "graph/ir.h"

namespace normrt {

constexpr size_t kMaxBroadcastRank = 16;
constexpr size_t kMaxBroadcastInputs = 3;

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

}  // namespace normrt
