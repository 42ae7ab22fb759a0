#pragma once
// The ONNX operator schemas (libonnx) as the loader and shape inference
// check nodes against them.
#include <onnx/defs/schema.h>

#include "graph/ir.h"

namespace normrt {

// The schema of a default-domain node at the model's opset (null for other
// domains and ops ONNX does not know). For an opset newer than this libonnx
// knows, it is the newest schema it has, and `exact` is false: inputs,
// attributes and types may have changed since (ReduceMean's axes became an
// input at 18), so only what ONNX has never loosened should be checked
// against it: the least number of inputs and outputs.
struct SchemaMatch {
  const onnx::OpSchema* schema = nullptr;
  bool exact = false;
};
SchemaMatch schema_of(const Node& n, int64_t opset);

// The formal parameter input `i` binds to (the last one for a variadic tail).
const onnx::OpSchema::FormalParameter& formal_input(const onnx::OpSchema& s, size_t i);

}  // namespace normrt
