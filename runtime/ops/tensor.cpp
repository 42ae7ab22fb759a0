// Ops that move data without arithmetic: Identity, Dropout (inference),
// Flatten, Reshape, Squeeze, Unsqueeze, Shape, Gather, Concat.
#include <cstring>

#include "graph/geometry.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

size_t bytes_of(const ValueInfo& v) { return size_t(shape_numel(v.shape)) * dtype_size(v.dtype); }

// Same bytes, new shape.
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
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x[size_t(i)];
  for (size_t i = size_t(axis) + 1; i < x.size(); ++i) inner *= x[i];
  const int64_t dim = x[size_t(axis)], count = shape_numel(c.in_shape(1));
  const size_t block = size_t(inner) * dtype_size(c.in[0]->dtype);
  const bool idx64 = c.in[1]->dtype == DType::int64;
  const std::string where = c.where;
  return kernel_fn([=](const RunArgs& a) {
    auto* src = static_cast<const uint8_t*>(a.in[0]);
    auto* dst = static_cast<uint8_t*>(a.out[0]);
    if (block == 0 || outer == 0) return;
    for (int64_t j = 0; j < count; ++j) {
      int64_t idx = idx64 ? static_cast<const int64_t*>(a.in[1])[j] : static_cast<const int32_t*>(a.in[1])[j];
      if (idx < -dim || idx >= dim)
        throw Error(where + ": index " + std::to_string(idx) + " is out of range for a dim of " + std::to_string(dim));
      if (idx < 0) idx += dim;
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

}  // namespace

void register_tensor_ops(Registry& r) {
  r.add("Identity", 1, 18, copy);
  r.add("Flatten", 1, 18, copy);
  r.add("Reshape", 5, 18, copy);
  r.add("Squeeze", 1, 18, copy);
  r.add("Unsqueeze", 1, 18, copy);
  r.add("Dropout", 1, 18, dropout);
  r.add("Shape", 1, 18, shape);
  r.add("Gather", 1, 18, gather);
  r.add("Concat", 4, 18, concat);
}

}  // namespace normrt
