#include "tests/test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>
#include <vector>

namespace normrt::test {

std::string fixture(const std::string& rel) { return std::string(NORMRT_FIXTURES) + "/" + rel; }

std::vector<Isa> machine_isas() {
  std::vector<Isa> r;
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512})
    if (isa_supported(i)) r.push_back(i);
  return r;
}

uint16_t nearest_narrow(DType t, float f) {
  const bool bf16 = t == DType::bfloat16;
  const uint16_t inf = bf16 ? 0x7f80 : 0x7c00, sign = std::signbit(f) ? 0x8000 : 0;
  if (std::isnan(f)) return sign | (bf16 ? 0x7fc0 : 0x7e00);
  static std::vector<std::pair<double, uint16_t>> tables[2];  // non-negative finite values, ascending
  auto& finite = tables[bf16];
  if (finite.empty())
    for (uint16_t h = 0; h < inf; ++h) finite.emplace_back(bf16 ? bfloat16_to_float(h) : half_to_float(h), h);
  const double a = std::fabs(double(f)), largest = finite.back().first;
  if (a >= largest + (largest - finite[finite.size() - 2].first) / 2) return sign | inf;
  if (a >= largest) return sign | finite.back().second;
  auto hi = std::lower_bound(finite.begin(), finite.end(), std::pair<double, uint16_t>{a, 0});
  if (hi->first == a || hi == finite.begin()) return sign | hi->second;
  auto lo = hi - 1;
  const double dl = a - lo->first, dh = hi->first - a;
  return sign | (dl < dh ? lo->second : dh < dl ? hi->second : (lo->second % 2 == 0 ? lo->second : hi->second));
}

static double value_at(const Tensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::float32: return t.data<float>()[i];
    case DType::float16: return half_to_float(t.data<uint16_t>()[i]);
    case DType::bfloat16: return bfloat16_to_float(t.data<uint16_t>()[i]);
    case DType::int64: return double(t.data<int64_t>()[i]);
    case DType::int32: return t.data<int32_t>()[i];
    case DType::boolean: case DType::uint8: return t.data<uint8_t>()[i];
    default: throw Error(std::string("tests compare no ") + dtype_name(t.dtype) + " tensors");
  }
}

double max_rel_diff(const Tensor& a, const Tensor& b) {
  double num = 0, den = 1e-30;
  for (int64_t i = 0; i < b.numel(); ++i) {
    num = std::max(num, std::abs(value_at(a, i) - value_at(b, i)));
    den = std::max(den, std::abs(value_at(b, i)));
  }
  return num / den;
}

std::string compare(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (got.dtype != want.dtype)
    return std::string("dtype ") + dtype_name(got.dtype) + ", expected " + dtype_name(want.dtype);
  if (got.shape != want.shape) return "shape " + shape_str(got.shape) + ", expected " + shape_str(want.shape);
  for (int64_t i = 0; i < want.numel(); ++i) {
    double g = value_at(got, i), w = value_at(want, i);
    if (std::isnan(w) && std::isnan(g)) continue;
    if (std::isinf(w) && g == w) continue;
    if (!(std::abs(g - w) <= atol + rtol * std::abs(w))) {
      std::ostringstream o;
      o << "element " << i << ": got " << g << ", expected " << w;
      return o.str();
    }
  }
  return "";
}

Tensor random_tensor(Shape shape, unsigned seed, float lo, float hi) {
  Tensor t(DType::float32, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

Tensor scalar_tensor(float v) {
  Tensor t(DType::float32, {});
  t.data<float>()[0] = v;
  return t;
}

Tensor int64_tensor(Shape shape, std::vector<int64_t> values) {
  Tensor t(DType::int64, std::move(shape));
  std::copy(values.begin(), values.end(), t.data<int64_t>());
  return t;
}

Tensor float_tensor(Shape shape, std::vector<float> values) {
  Tensor t(DType::float32, std::move(shape));
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

ModelBuilder::ModelBuilder(int opset) {
  m.set_ir_version(8);
  auto* o = m.add_opset_import();
  o->set_domain("");
  o->set_version(opset);
  m.mutable_graph()->set_name("test");
}

ModelBuilder& ModelBuilder::input(const std::string& name, Shape dims, int elem_type) {
  auto* v = m.mutable_graph()->add_input();
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* s = tt->mutable_shape();
  for (int64_t d : dims) {
    if (d < 0) s->add_dim()->set_dim_param("N");
    else s->add_dim()->set_dim_value(d);
  }
  return *this;
}

ModelBuilder& ModelBuilder::output(const std::string& name, int elem_type) {
  auto* v = m.mutable_graph()->add_output();
  v->set_name(name);
  v->mutable_type()->mutable_tensor_type()->set_elem_type(elem_type);
  return *this;
}

ModelBuilder& ModelBuilder::init(const std::string& name, const Tensor& t) {
  auto* p = m.mutable_graph()->add_initializer();
  p->set_name(name);
  p->set_data_type(int(t.dtype));
  for (int64_t d : t.shape) p->add_dims(d);
  p->set_raw_data(std::string(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size()));
  return *this;
}

onnx::NodeProto& ModelBuilder::node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
                                    const std::string& name) {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? op + "_" + std::to_string(m.graph().node_size()) : name);
  for (auto& i : in) n->add_input(i);
  for (auto& o : out) n->add_output(o);
  return *n;
}

std::string ModelBuilder::bytes() const { return m.SerializeAsString(); }
void ModelBuilder::save(const std::string& path) const {
  std::ofstream f(path, std::ios::binary);
  f << bytes();
}

void set_attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void set_attr(onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
void set_attr(onnx::NodeProto& n, const std::string& name, std::vector<int64_t> v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void set_attr(onnx::NodeProto& n, const std::string& name, const onnx::GraphProto& g) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::GRAPH);
  *a->mutable_g() = g;
}

void set_attr(onnx::NodeProto& n, const std::string& name, const std::string& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

void set_attr(onnx::NodeProto& n, const std::string& name, const std::vector<std::string>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRINGS);
  for (auto& x : v) a->add_strings(x);
}

void set_attr(onnx::NodeProto& n, const std::string& name, const std::vector<float>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOATS);
  for (float x : v) a->add_floats(x);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

int run_cli(const std::string& args, std::string* output) {
  std::string cmd = std::string(NORMRT_CLI) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  std::string out;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace normrt::test
