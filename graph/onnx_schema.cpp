#include "graph/onnx_schema.h"

#include <algorithm>

namespace normrt {

SchemaMatch schema_of(const Node& n, int64_t opset) {
  static const int newest = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map().at("").second;
  if (!n.domain.empty()) return {};
  return {onnx::OpSchemaRegistry::Schema(n.op_type, int(std::min<int64_t>(opset, newest)), ""), opset <= newest};
}

const onnx::OpSchema::FormalParameter& formal_input(const onnx::OpSchema& s, size_t i) {
  return s.inputs()[std::min(i, s.inputs().size() - 1)];
}

}  // namespace normrt
