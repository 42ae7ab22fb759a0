#pragma once
// ONNX protobuf -> Graph, validating everything before anything reads it.
#include <string>

#include "graph/ir.h"

namespace onnx { class TensorProto; }

namespace normrt {

// Throws normrt::Error naming the file, node and reason on any defect.
Graph load_onnx_file(const std::string& path);
Graph load_onnx_bytes(const void* data, size_t size, const std::string& source = "<bytes>");

// A serialized TensorProto (the ONNX test-data .pb format).
Tensor load_tensor_pb(const std::string& path, std::string* name = nullptr);

// `model_dir` is where external data is looked up ("" forbids external data);
// `what` names the tensor in messages.
Tensor tensor_from_proto(const onnx::TensorProto& p, const std::string& model_dir, const std::string& what);

}  // namespace normrt
