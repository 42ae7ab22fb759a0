#pragma once
// The model as data: tensors, attributes, nodes, graph.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "graph/error.h"

namespace normrt {

// Values follow ONNX's TensorProto.DataType numbering.
enum class DType : int32_t {
  undefined = 0, float32 = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7, boolean = 9, float16 = 10, float64 = 11,
  bfloat16 = 16,
};
const char* dtype_name(DType t);
// Calls f(T{}) with T the element type a kernel uses for `t`: float, int64_t,
// int32_t, or uint8_t for the one-byte types (bool, uint8, int8).
template <class F>
void with_element_type(DType t, F&& f) {
  switch (t) {
    case DType::float32: f(float{}); break;
    case DType::int64: f(int64_t{}); break;
    case DType::int32: f(int32_t{}); break;
    default: f(uint8_t{}); break;
  }
}
const char* onnx_dtype_name(int32_t onnx_type);  // any ONNX type, for messages
size_t dtype_size(DType t);                       // 0 for unsupported
bool dtype_supported(int32_t onnx_type);          // the types normrt computes with
// The 16-bit floats (float16, bfloat16) are held as float32 inside a graph
// (weights widened exactly at load, each Cast to them rounding to their
// precision) and appear only where a model meets its caller: declared
// inputs and outputs, tensor files.
bool narrow_float(DType t);                       // float16 or bfloat16
bool dtype_held(int32_t onnx_type);               // dtype_supported, or a narrow float
DType held_dtype(int32_t onnx_type);              // the dtype a graph holds it as (narrow floats: float32)
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);                  // round to nearest even; NaN stays NaN
float bfloat16_to_float(uint16_t b);
uint16_t float_to_bfloat16(float f);              // round to nearest even; NaN stays NaN
// f rounded to the narrow float `t`'s precision and range, as float32.
float rounded_to(DType t, float f);

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& s);
// The most elements a tensor may have (4 Ti): shapes are checked against it
// before any product of dims could overflow.
constexpr int64_t kMaxTensorElements = int64_t(1) << 40;
// shape_numel, or an Error naming `where` if it is above kMaxTensorElements.
int64_t checked_numel(const Shape& s, const std::string& where);
std::string shape_str(const Shape& s);

// A dense tensor that owns its bytes (row-major).
struct Tensor {
  DType dtype = DType::float32;
  Shape shape;
  std::vector<uint8_t> bytes;

  Tensor() = default;
  Tensor(DType t, Shape s) : dtype(t), shape(std::move(s)), bytes(size_t(shape_numel(shape)) * dtype_size(t)) {}
  int64_t numel() const { return shape_numel(shape); }
  template <class T> T* data() { return reinterpret_cast<T*>(bytes.data()); }
  template <class T> const T* data() const { return reinterpret_cast<const T*>(bytes.data()); }
  // Integer elements as int64 whatever the integer dtype (shape and axes inputs).
  std::vector<int64_t> as_int64() const;
};
// A narrow float tensor as float32 (exactly), and a float32 one rounded to
// the narrow float `to` (an Error for any other dtype).
Tensor widened(const Tensor& t);
Tensor narrowed(const Tensor& t, DType to);

struct Graph;

struct Attribute {
  enum class Kind { f, i, s, t, fs, is, ss, g };
  Kind kind = Kind::i;
  float f = 0;
  int64_t i = 0;
  std::string s;
  std::shared_ptr<const Tensor> t;
  std::vector<float> fs;
  std::vector<int64_t> is;
  std::vector<std::string> ss;
  std::shared_ptr<const Graph> g;  // a GRAPH attribute (If's branches); null for GRAPHS

  static Attribute integer(int64_t v) {
    Attribute a;
    a.kind = Kind::i;
    a.i = v;
    return a;
  }
  static Attribute real(float v) {
    Attribute a;
    a.kind = Kind::f;
    a.f = v;
    return a;
  }
  static Attribute text(std::string v) {
    Attribute a;
    a.kind = Kind::s;
    a.s = std::move(v);
    return a;
  }
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" is the default ONNX domain
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attrs;

  bool has(const std::string& a) const { return attrs.count(a) != 0; }
  int64_t attr_i(const std::string& a, int64_t dflt) const;
  float attr_f(const std::string& a, float dflt) const;
  std::string attr_s(const std::string& a, const std::string& dflt) const;
  std::vector<int64_t> attr_ints(const std::string& a, std::vector<int64_t> dflt = {}) const;
  const Attribute* attr(const std::string& a) const;
  // "Conv 'conv1'" — how messages name a node.
  std::string label() const;
  // The number of inputs actually given (trailing omitted ones dropped).
  size_t num_inputs() const;
  bool has_input(size_t k) const { return k < inputs.size() && !inputs[k].empty(); }
};

// A value's type as declared in the model: dims < 0 are dynamic (symbolic).
struct ValueType {
  DType dtype = DType::float32;
  Shape dims;
  std::vector<std::string> dim_names;  // symbolic name per dim, "" if none
};

// A node of this op type in `domain` ("" is the default ONNX domain).
bool is_op(const Node& n, const char* op, const char* domain = "");

struct Graph {
  std::string source;  // the model's path, or "<bytes>", for messages
  int64_t opset = 0;   // of the default domain
  std::vector<Node> nodes;  // topologically sorted
  std::map<std::string, std::shared_ptr<const Tensor>> initializers;
  std::vector<std::string> inputs;   // graph inputs that are not initializers
  std::vector<std::string> outputs;
  std::map<std::string, ValueType> declared;  // types of inputs and outputs
  // Inputs and outputs declared a narrow float, and which (declared float32:
  // see dtype_held).
  std::map<std::string, DType> narrow_io;

  bool is_constant(const std::string& v) const { return initializers.count(v) != 0; }
  const Tensor* constant(const std::string& v) const {
    auto it = initializers.find(v);
    return it == initializers.end() ? nullptr : it->second.get();
  }
  bool is_output(const std::string& v) const;
  std::string where(const Node& n) const { return source + ": node " + n.label(); }
};

}  // namespace normrt
