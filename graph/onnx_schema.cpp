#include "graph/onnx_schema.h"

#include <algorithm>

namespace normrt {

const onnx::OpSchema* schema_of(const Node& n, int64_t opset) {
  static const int newest = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map().at("").second;
  if (!n.domain.empty() || opset > newest) return nullptr;
  return onnx::OpSchemaRegistry::Schema(n.op_type, int(opset), "");
}

const onnx::OpSchema::FormalParameter& formal_input(const onnx::OpSchema& s, size_t i) {
  return s.inputs()[std::min(i, s.inputs().size() - 1)];
}

}  // namespace normrt
