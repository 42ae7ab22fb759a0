#pragma once
// The ONNX operator schemas (libonnx) as the loader and shape inference
// check nodes against them.
#include <onnx/defs/schema.h>

#include "graph/ir.h"

namespace normrt {

// The schema of a default-domain node at the model's opset, or null: for
// other domains, ops ONNX does not know, and opsets newer than this libonnx
// knows (it would answer with an older schema, whose inputs and attributes
// may differ: ReduceMean's axes became an input at 18).
const onnx::OpSchema* schema_of(const Node& n, int64_t opset);

// The formal parameter input `i` binds to (the last one for a variadic tail).
const onnx::OpSchema::FormalParameter& formal_input(const onnx::OpSchema& s, size_t i);

}  // namespace normrt
