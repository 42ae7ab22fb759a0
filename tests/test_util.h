#pragma once
// Helpers shared by the tests: file locations, comparisons, a tiny ONNX
// model builder, and running the normrt CLI.
#include <onnx/onnx_pb.h>

#include <functional>
#include <string>
#include <vector>

#include "graph/ir.h"
#include "kernels/isa.h"

namespace normrt::test {

std::string fixture(const std::string& rel);
// The ISAs this machine can run (every kernel is tested on each).
std::vector<Isa> machine_isas();

// max |a - b| / max(max |b|, tiny): the model-level metric.
double max_rel_diff(const Tensor& a, const Tensor& b);
// Elementwise |a - b| <= atol + rtol |b|, NaNs matching; "" or a description of the first miss.
std::string compare(const Tensor& got, const Tensor& want, double rtol, double atol);
// The 16-bit float `t` (float16 or bfloat16) nearest to f, ties to the even
// one, found by searching all of the type's values rather than by bit
// arithmetic: from the largest finite value plus half its step, infinity;
// NaN stays NaN.
uint16_t nearest_narrow(DType t, float f);

Tensor random_tensor(Shape shape, unsigned seed, float lo = -1.f, float hi = 1.f);
Tensor scalar_tensor(float v);
Tensor int64_tensor(Shape shape, std::vector<int64_t> values);
Tensor float_tensor(Shape shape, std::vector<float> values);

// Builds small models in tests.
struct ModelBuilder {
  onnx::ModelProto m;
  explicit ModelBuilder(int opset = 13);
  ModelBuilder& input(const std::string& name, Shape dims, int elem_type = 1);
  ModelBuilder& output(const std::string& name, int elem_type = 1);
  ModelBuilder& init(const std::string& name, const Tensor& t);
  onnx::NodeProto& node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
                        const std::string& name = "");
  std::string bytes() const;
  void save(const std::string& path) const;
};
void set_attr(onnx::NodeProto& n, const std::string& name, int64_t v);
void set_attr(onnx::NodeProto& n, const std::string& name, float v);
void set_attr(onnx::NodeProto& n, const std::string& name, std::vector<int64_t> v);
void set_attr(onnx::NodeProto& n, const std::string& name, const std::string& v);
void set_attr(onnx::NodeProto& n, const std::string& name, const std::vector<std::string>& v);
void set_attr(onnx::NodeProto& n, const std::string& name, const std::vector<float>& v);
void set_attr(onnx::NodeProto& n, const std::string& name, const onnx::GraphProto& g);  // If's branches, Loop's body

// What `f` throws as an Error, or "" when it returns.
std::string error_of(const std::function<void()>& f);

// Runs the CLI with `args`; returns the exit code, stdout+stderr in `output`.
int run_cli(const std::string& args, std::string* output);

}  // namespace normrt::test
