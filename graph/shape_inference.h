#pragma once
// Static shape and dtype inference, one node at a time, for every op normrt runs.
#include <functional>
#include <memory>
#include <vector>

#include "graph/geometry.h"
#include "graph/ir.h"

namespace normrt {

// What is known of a value while planning: its type and shape, and its
// contents when they are known before running (initializers, shape chains).
struct ValueInfo {
  DType dtype = DType::float32;
  Shape shape;
  std::shared_ptr<const Tensor> value;
};

// `in[k]` is null for an omitted optional input. Throws naming `where` when
// the inputs are inconsistent or an input the shape depends on is not known.
std::vector<ValueInfo> infer_node(const Node& n, const std::vector<const ValueInfo*>& in, int64_t opset,
                                  const std::string& where);

// Whether the output shapes of `n` depend on the contents of input k (a
// Reshape's shape, Unsqueeze's axes): such inputs must be known when planning.
bool shape_depends_on_value(const Node& n, size_t k);

// Whether infer_node knows the op (the registry's ops must all be here).
bool has_shape_function(const std::string& op_type);

// The sorted axes a Reduce* node reduces over (all of them by default).
std::vector<int64_t> reduce_axes(const Node& n, const std::vector<const ValueInfo*>& in, int64_t opset,
                                 const std::string& where);

// A Slice node's range over each dim of its input: starts, ends and axes
// from its attributes before opset 10, else from its inputs (then starts,
// ends, axes and steps must be known).
std::vector<SliceDim> slice_node_dims(const Node& n, const std::vector<const ValueInfo*>& in, int64_t opset,
                                      const std::string& where);

// numpy broadcasting of two shapes; throws naming `where` if incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& where);

}  // namespace normrt
