#pragma once
// A copy through strides: transposes, slices, layout rearrangements.
#include <cstdint>
#include <cstring>

#include "runtime/ops/broadcast.h"

namespace normrt {

// Copies elements of `es` bytes: out[i] = in[base + offset of i], offsets
// walked with per-output-dim input strides. When the innermost dim is
// contiguous on both sides it moves whole rows.
struct StridedCopy {
  Shape out;      // output dims
  Shape strides;  // input element stride per output dim
  int64_t base = 0;
  size_t es = 4;
  // Rows: when the innermost dim is contiguous, whole rows move at once.
  Shape outer;
  std::vector<Shape> element_strides, row_strides;  // as for_each_broadcast takes them
  int64_t row = 0, rows = 0;
  // Large copies are split over the threads: a single thread would pull
  // every line the other cores' kernels wrote, and dirty lines they hold,
  // across the chip alone.
  bool threaded = false;

  StridedCopy(Shape out_, Shape strides_, int64_t base_, size_t es_)
      : out(std::move(out_)), strides(std::move(strides_)), base(base_), es(es_) {
    element_strides = {strides};
    if (!out.empty() && strides.back() == 1) {
      row = out.back();
      outer.assign(out.begin(), out.end() - 1);
      row_strides = {Shape(strides.begin(), strides.end() - 1)};
      rows = shape_numel(outer);
      threaded = rows > 1 && rows * row * int64_t(es) >= (64 << 10);
    }
    if (out.size() > kMaxBroadcastRank) throw Error("tensors of rank above 16 are not supported here");
  }

  void run(const void* in, void* outp) const {
    auto* src = static_cast<const uint8_t*>(in);
    auto* dst = static_cast<uint8_t*>(outp);
    if (shape_numel(out) == 0) return;
    if (row > 0) {
      if (!threaded) {
        for_each_broadcast(outer, row_strides, [&](int64_t i, const auto& o) {
          std::memcpy(dst + size_t(i * row) * es, src + size_t(base + o[0]) * es, size_t(row) * es);
        });
        return;
      }
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < rows; ++i) {
        int64_t off = base, rest = i;
        for (size_t d = outer.size(); d-- > 0;) {
          off += rest % outer[d] * row_strides[0][d];
          rest /= outer[d];
        }
        std::memcpy(dst + size_t(i * row) * es, src + size_t(off) * es, size_t(row) * es);
      }
      return;
    }
    auto elements = [&](auto tag) {  // typed moves: a transpose's innermost dim is strided
      using T = decltype(tag);
      auto* s = reinterpret_cast<const T*>(src) + base;
      auto* d = reinterpret_cast<T*>(dst);
      for_each_broadcast(out, element_strides, [&](int64_t i, const auto& o) { d[i] = s[o[0]]; });
    };
    if (es == 4) return elements(uint32_t{});
    if (es == 8) return elements(uint64_t{});
    if (es == 1) return elements(uint8_t{});
    for_each_broadcast(out, element_strides, [&](int64_t i, const auto& o) {
      std::memcpy(dst + size_t(i) * es, src + size_t(base + o[0]) * es, es);
    });
  }
};

}  // namespace normrt
