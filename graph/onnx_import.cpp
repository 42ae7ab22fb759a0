#include "graph/onnx_import.h"

#include "graph/onnx_schema.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

namespace normrt {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kMaxFileBytes = int64_t(1) << 31;  // protobuf cannot exceed 2 GiB anyway

std::string read_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(path + ": cannot open " + what + " (no such file)");
  auto size = fs::file_size(path, ec);
  if (ec) throw Error(path + ": cannot read " + what + ": " + ec.message());
  if (int64_t(size) > kMaxFileBytes) throw Error(path + ": " + what + " is larger than 2 GiB");
  std::ifstream f(path, std::ios::binary);
  std::string s(size, '\0');
  if (!f.read(s.data(), std::streamsize(size))) throw Error(path + ": cannot read " + what);
  return s;
}

template <class Msg>
bool parse_limited(Msg& m, google::protobuf::io::ZeroCopyInputStream& raw) {
  google::protobuf::io::CodedInputStream in(&raw);
  in.SetTotalBytesLimit(int(kMaxFileBytes - 1));
  in.SetRecursionLimit(64);
  return m.ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
}

template <class Msg>
bool parse_limited(Msg& m, const void* data, size_t size) {
  google::protobuf::io::ArrayInputStream raw(data, int(size));
  return parse_limited(m, raw);
}

Shape checked_dims(const google::protobuf::RepeatedField<int64_t>& dims, const std::string& what) {
  for (int64_t d : dims)
    if (d < 0) throw Error(what + ": negative dimension " + std::to_string(d));
  Shape s(dims.begin(), dims.end());
  checked_numel(s, what);
  return s;
}

// Resolves an external-data location inside the model's folder, refusing
// anything that leaves it (.., absolute paths, symbolic links pointing out).
std::string external_path(const std::string& model_dir, const std::string& location, const std::string& what) {
  if (model_dir.empty()) throw Error(what + ": external data is not allowed here (no model folder)");
  fs::path loc(location);
  if (location.empty() || loc.is_absolute())
    throw Error(what + ": external data path '" + location + "' must be relative to the model's folder");
  std::error_code ec;
  fs::path base = fs::weakly_canonical(fs::path(model_dir), ec);
  fs::path full = fs::weakly_canonical(fs::path(model_dir) / loc, ec);
  if (ec) throw Error(what + ": cannot resolve external data path '" + location + "'");
  auto rel = full.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..")
    throw Error(what + ": external data path '" + location + "' leaves the model's folder");
  return full.string();
}

template <class T, class Src>
void copy_typed(Tensor& t, const Src& src) {
  T* out = t.data<T>();
  for (int i = 0; i < src.size(); ++i) out[i] = T(src.Get(i));
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& p, const std::string& model_dir, const std::string& what) {
  if (!dtype_held(p.data_type()))
    throw Error(what + ": unsupported data type " + onnx_dtype_name(p.data_type()) +
                " (normrt supports float32, float16, bfloat16, int64, int32, bool)");
  // Every size is checked against the data before anything is allocated: a
  // corrupt shape must not ask for terabytes.
  const DType dtype = DType(p.data_type());
  const Shape shape = checked_dims(p.dims(), what);
  const int64_t n = shape_numel(shape);
  const size_t want = size_t(n) * dtype_size(dtype);
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (auto& kv : p.external_data()) {
      try {
        if (kv.key() == "location") location = kv.value();
        else if (kv.key() == "offset") offset = std::stoll(kv.value());
        else if (kv.key() == "length") length = std::stoll(kv.value());
      } catch (const std::exception&) {
        throw Error(what + ": bad external data field '" + kv.key() + "'");
      }
    }
    std::string path = external_path(model_dir, location, what);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw Error(what + ": external data file '" + location + "' not found");
    int64_t fsize = int64_t(fs::file_size(path, ec));
    if (length < 0) length = fsize - offset;
    if (offset < 0 || length != int64_t(want) || offset + length > fsize)
      throw Error(what + ": external data holds " + std::to_string(length) + " bytes at offset " +
                  std::to_string(offset) + " of a " + std::to_string(fsize) + "-byte file, shape " +
                  shape_str(shape) + " needs " + std::to_string(want));
    Tensor t(dtype, shape);
    std::ifstream f(path, std::ios::binary);
    f.seekg(offset);
    if (!f.read(reinterpret_cast<char*>(t.bytes.data()), std::streamsize(want)))
      throw Error(what + ": cannot read external data '" + location + "'");
    return t;
  }
  auto mismatch = [&](size_t have, const char* field) {
    return Error(what + ": declared shape " + shape_str(shape) + " has " + std::to_string(n) +
                 " elements but " + field + " holds " + std::to_string(have));
  };
  if (p.has_raw_data()) {
    if (p.raw_data().size() != want) throw mismatch(p.raw_data().size() / std::max<size_t>(1, dtype_size(dtype)), "raw_data");
    Tensor t(dtype, shape);
    if (want) std::memcpy(t.bytes.data(), p.raw_data().data(), want);
    return t;
  }
  const int typed = dtype == DType::float32 ? p.float_data_size()
                    : dtype == DType::int64 ? p.int64_data_size()
                                            : p.int32_data_size();  // (float16, bfloat16: one value's bits in each)
  if (typed != n)
    throw mismatch(size_t(typed), dtype == DType::float32 ? "float_data" : dtype == DType::int64 ? "int64_data" : "int32_data");
  Tensor t(dtype, shape);
  switch (dtype) {
    case DType::float32: copy_typed<float>(t, p.float_data()); break;
    case DType::int64: copy_typed<int64_t>(t, p.int64_data()); break;
    case DType::int32: copy_typed<int32_t>(t, p.int32_data()); break;
    case DType::boolean: copy_typed<uint8_t>(t, p.int32_data()); break;
    case DType::float16: case DType::bfloat16: copy_typed<uint16_t>(t, p.int32_data()); break;
    default:
      throw Error(what + ": unsupported data type");
  }
  return t;
}

Tensor load_tensor_pb(const std::string& path, std::string* name) {
  std::string bytes = read_file(path, "tensor file");
  onnx::TensorProto p;
  if (!parse_limited(p, bytes.data(), bytes.size())) throw Error(path + ": not a valid ONNX TensorProto file");
  if (name) *name = p.name();
  return tensor_from_proto(p, "", path);
}

namespace {

// A tensor as a graph holds it: narrow floats widened to float32 (see dtype_held).
Tensor held(Tensor t) {
  if (narrow_float(t.dtype)) return widened(t);
  return t;
}

// Records a top-level input or output declared a narrow float.
void note_narrow(Graph& g, const onnx::ValueInfoProto& v) {
  if (v.type().has_tensor_type() && narrow_float(DType(v.type().tensor_type().elem_type())))
    g.narrow_io[v.name()] = DType(v.type().tensor_type().elem_type());
}

ValueType value_type(const onnx::ValueInfoProto& v, const std::string& where) {
  if (!v.type().has_tensor_type()) throw Error(where + ": value '" + v.name() + "' is not a tensor");
  auto& tt = v.type().tensor_type();
  if (!dtype_held(tt.elem_type()))
    throw Error(where + ": value '" + v.name() + "' has unsupported data type " + onnx_dtype_name(tt.elem_type()));
  ValueType r;
  r.dtype = held_dtype(tt.elem_type());
  if (!tt.has_shape()) throw Error(where + ": value '" + v.name() + "' has no declared shape");
  for (auto& d : tt.shape().dim()) {
    if (d.has_dim_value()) {
      if (d.dim_value() < 0) throw Error(where + ": value '" + v.name() + "' has a negative dimension");
      r.dims.push_back(d.dim_value());
      r.dim_names.push_back("");
    } else {
      r.dims.push_back(-1);
      r.dim_names.push_back(d.dim_param());
    }
  }
  return r;
}

// (A GRAPH attribute's graph is imported once the node has passed its schema check.)
Attribute attribute(const onnx::AttributeProto& a, const std::string& model_dir, const std::string& where) {
  Attribute r;
  using A = onnx::AttributeProto;
  switch (a.type()) {
    case A::FLOAT: r.kind = Attribute::Kind::f; r.f = a.f(); break;
    case A::INT: r.kind = Attribute::Kind::i; r.i = a.i(); break;
    case A::STRING: r.kind = Attribute::Kind::s; r.s = a.s(); break;
    case A::TENSOR:
      r.kind = Attribute::Kind::t;
      r.t = std::make_shared<Tensor>(held(tensor_from_proto(a.t(), model_dir, where + " attribute '" + a.name() + "'")));
      break;
    case A::FLOATS: r.kind = Attribute::Kind::fs; r.fs.assign(a.floats().begin(), a.floats().end()); break;
    case A::INTS: r.kind = Attribute::Kind::is; r.is.assign(a.ints().begin(), a.ints().end()); break;
    case A::STRINGS: r.kind = Attribute::Kind::ss; r.ss.assign(a.strings().begin(), a.strings().end()); break;
    case A::GRAPH: case A::GRAPHS: r.kind = Attribute::Kind::g; break;  // GRAPHS: no supported op takes them
    default: throw Error(where + ": attribute '" + a.name() + "' has an unsupported type");
  }
  return r;
}

// A Constant node's value as a tensor (every form of the attribute).
std::shared_ptr<const Tensor> constant_value(const Node& n, const std::string& where) {
  if (n.attrs.size() != 1) throw Error(where + ": Constant needs exactly one value attribute");
  auto& [key, a] = *n.attrs.begin();
  auto t = std::make_shared<Tensor>();
  if (key == "value") return a.t;
  if (key == "value_float") { *t = Tensor(DType::float32, {}); t->data<float>()[0] = a.f; }
  else if (key == "value_floats") {
    *t = Tensor(DType::float32, {int64_t(a.fs.size())});
    std::copy(a.fs.begin(), a.fs.end(), t->data<float>());
  } else if (key == "value_int") { *t = Tensor(DType::int64, {}); t->data<int64_t>()[0] = a.i; }
  else if (key == "value_ints") {
    *t = Tensor(DType::int64, {int64_t(a.is.size())});
    std::copy(a.is.begin(), a.is.end(), t->data<int64_t>());
  } else {
    throw Error(where + ": Constant attribute '" + key + "' is not supported");
  }
  return t;
}

}  // namespace

namespace {
Graph import_model(onnx::ModelProto& m, const std::string& source);

// The node against its op's schema at the model's opset: input and output
// counts (the passes and kernels take inputs by position; an empty name is an
// omitted optional input, trailing ones do not count) and attribute names and
// types (a kernel reads `axis` as the INT the schema promises). Ops ONNX does
// not know at this opset are left for the kernel lookup to report; past the
// opsets libonnx knows, only the least input and output counts are checked.
void check_against_schema(const onnx::NodeProto& np, const Node& n, int64_t opset, const std::string& where) {
  const SchemaMatch match = schema_of(n, opset);  // not a structured binding: the lambdas below capture these
  const onnx::OpSchema* schema = match.schema;
  const bool exact = match.exact;
  if (!schema) return;
  const auto& declared = schema->attributes();
  std::set<std::string> seen;
  for (const auto& a : np.attribute()) {
    if (!seen.insert(a.name()).second) throw Error(where + ": attribute '" + a.name() + "' is given twice");
    if (!exact || a.name().rfind("__", 0) == 0) continue;  // __: reserved for tools, as the ONNX checker has it
    auto it = declared.find(a.name());
    if (it == declared.end()) throw Error(where + ": " + n.op_type + " has no attribute '" + a.name() + "'");
    if (a.type() != it->second.type)
      throw Error(where + ": attribute '" + a.name() + "' must be " +
                  onnx::AttributeProto::AttributeType_Name(it->second.type) + ", not " +
                  onnx::AttributeProto::AttributeType_Name(a.type()));
  }
  if (exact)
    for (const auto& [name, attr] : declared)
      if (attr.required && !n.attrs.count(name)) throw Error(where + ": required attribute '" + name + "' is missing");
  auto count = [](const std::vector<std::string>& names) {
    size_t k = names.size();
    while (k > 0 && names[k - 1].empty()) --k;
    return int(k);
  };
  auto check = [&](const char* what, int k, int lo, int hi) {
    if (!exact) hi = std::numeric_limits<int>::max();  // later versions may add optional ones
    if (k >= lo && k <= hi) return;
    std::string want = lo == hi ? std::to_string(lo)
                       : hi == std::numeric_limits<int>::max() ? "at least " + std::to_string(lo)
                                                               : std::to_string(lo) + " to " + std::to_string(hi);
    throw Error(where + ": " + n.op_type + " takes " + want + " " + what + ", the node has " + std::to_string(k));
  };
  const int in = count(n.inputs);
  check("inputs", in, schema->min_input(), schema->max_input());
  check("outputs", count(n.outputs), schema->min_output(), schema->max_output());
  for (int i = 0; i < (exact ? in : schema->min_input()) && !schema->inputs().empty(); ++i) {
    const auto& f = formal_input(*schema, size_t(i));
    if (n.inputs[size_t(i)].empty() && f.GetOption() != onnx::OpSchema::Optional)
      throw Error(where + ": input " + std::to_string(i) + " (" + f.GetName() + ") of " + n.op_type +
                  " is required but has no name");
  }
}
}  // namespace

Graph load_onnx_bytes(const void* data, size_t size, const std::string& source) {
  onnx::ModelProto m;
  if (size == 0) throw Error(source + ": empty file, not an ONNX model");
  if (!parse_limited(m, data, size)) throw Error(source + ": not a valid ONNX model (protobuf parse failed; truncated or not ONNX?)");
  return import_model(m, source);
}

// Parsed straight from the file: the model is never held twice (file bytes and messages).
Graph load_onnx_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(path + ": cannot open model (no such file)");
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error(path + ": cannot read model: " + ec.message());
  if (size == 0) throw Error(path + ": empty file, not an ONNX model");
  if (int64_t(size) > kMaxFileBytes) throw Error(path + ": model is larger than 2 GiB");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open model");
  google::protobuf::io::IstreamInputStream raw(&f);
  onnx::ModelProto m;
  if (!parse_limited(m, raw)) throw Error(path + ": not a valid ONNX model (protobuf parse failed; truncated or not ONNX?)");
  return import_model(m, path);
}

namespace {

// A float64 constant that is only ever cast to float32 (exporters write
// eps = 1e-12 as a double Constant and Cast it, with constant folding off)
// is read as the float32 it becomes: its TensorProto is narrowed in place.
// Any other float64 value stays unsupported.
void narrow_double_casts(onnx::GraphProto& gp) {
  std::map<std::string, bool> only_cast;  // value -> every reader casts it to float32
  for (auto& n : gp.node())
    for (auto& in : n.input()) {
      bool to_float = n.op_type() == "Cast" && (n.domain().empty() || n.domain() == "ai.onnx");
      if (to_float) {
        to_float = false;
        for (auto& a : n.attribute()) to_float = to_float || (a.name() == "to" && a.i() == onnx::TensorProto::FLOAT);
      }
      auto [it, added] = only_cast.emplace(in, to_float);
      if (!added) it->second = it->second && to_float;
    }
  for (auto& o : gp.output()) only_cast[o.name()] = false;
  auto narrow = [&](onnx::TensorProto& t, const std::string& name) {
    auto it = only_cast.find(name);
    if (t.data_type() != onnx::TensorProto::DOUBLE || it == only_cast.end() || !it->second ||
        t.data_location() == onnx::TensorProto::EXTERNAL)
      return;
    std::vector<double> v(t.double_data().begin(), t.double_data().end());
    if (t.has_raw_data()) {
      v.resize(t.raw_data().size() / sizeof(double));
      std::memcpy(v.data(), t.raw_data().data(), v.size() * sizeof(double));
    }
    t.clear_double_data();
    t.clear_raw_data();
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (double d : v) t.add_float_data(float(d));
  };
  for (auto& init : *gp.mutable_initializer()) narrow(init, init.name());
  for (auto& n : *gp.mutable_node())
    if (n.op_type() == "Constant" && n.output_size() == 1)
      for (auto& a : *n.mutable_attribute())
        if (a.name() == "value" && a.has_t()) narrow(*a.mutable_t(), n.output(0));
}

// A CastLike whose target's type is known here to be float16 or bfloat16 (an
// initializer, a Constant, a declared input or value, a Cast's result)
// becomes a Cast to that type: those types are held as float32 once
// imported, so a CastLike could no longer tell it must round.
void narrow_cast_likes(onnx::GraphProto& gp) {
  std::map<std::string, int32_t> type;  // value -> its element type, where the proto says
  for (auto& t : gp.initializer()) type[t.name()] = t.data_type();
  for (auto* vs : {&gp.input(), &gp.value_info()})
    for (auto& v : *vs)
      if (v.type().has_tensor_type()) type[v.name()] = v.type().tensor_type().elem_type();
  for (auto& n : gp.node()) {
    if (n.output_size() != 1 || !(n.domain().empty() || n.domain() == "ai.onnx")) continue;
    for (auto& a : n.attribute()) {
      if (n.op_type() == "Constant" && a.name() == "value" && a.has_t()) type[n.output(0)] = a.t().data_type();
      if (n.op_type() == "Cast" && a.name() == "to") type[n.output(0)] = int32_t(a.i());
    }
  }
  for (auto& n : *gp.mutable_node()) {
    if (n.op_type() != "CastLike" || !(n.domain().empty() || n.domain() == "ai.onnx") || n.input_size() != 2) continue;
    auto it = type.find(n.input(1));
    if (it == type.end() || !narrow_float(DType(it->second))) continue;
    n.set_op_type("Cast");
    n.mutable_input()->RemoveLast();
    auto* to = n.add_attribute();
    to->set_name("to");
    to->set_type(onnx::AttributeProto::INT);
    to->set_i(it->second);
  }
}

// What a graph is imported with: the model's settings, and the names its
// enclosing graphs define, which a subgraph may read.
struct Scope {
  std::string source, model_dir;
  int64_t opset = 0;
  std::set<std::string> outer;
  int depth = 0;
};
constexpr int kMaxGraphDepth = 16;

// The names a subgraph reads and does not define: values of its enclosing
// graphs, which its node takes as inputs after its own (implicit inputs).
std::vector<std::string> outer_reads(const Graph& sub) {
  std::set<std::string> own(sub.inputs.begin(), sub.inputs.end());
  for (auto& [name, t] : sub.initializers) own.insert(name);
  for (auto& n : sub.nodes) own.insert(n.outputs.begin(), n.outputs.end());
  std::vector<std::string> r;
  std::set<std::string> seen;
  auto add = [&](const std::string& v) {
    if (!v.empty() && !own.count(v) && seen.insert(v).second) r.push_back(v);
  };
  for (auto& n : sub.nodes)
    for (auto& v : n.inputs) add(v);
  for (auto& v : sub.outputs) add(v);
  return r;
}

Graph import_graph(onnx::GraphProto& gp, const Scope& scope) {
  const std::string& source = scope.source;
  const bool top = scope.depth == 0;
  const std::string what_graph = top ? "" : " in subgraph '" + gp.name() + "'";
  if (scope.depth >= kMaxGraphDepth)
    throw Error(source + ": subgraphs nested more than " + std::to_string(kMaxGraphDepth) + " deep");
  Graph g;
  g.source = source;
  g.opset = scope.opset;
  narrow_double_casts(gp);
  narrow_cast_likes(gp);

  std::set<std::string> defined;
  auto define = [&](const std::string& name, const std::string& what) {
    if (!defined.insert(name).second) throw Error(what + " is defined twice");
    if (scope.outer.count(name)) throw Error(what + " is also defined by an enclosing graph");
  };
  for (auto& init : *gp.mutable_initializer()) {
    std::string what = source + ": initializer '" + init.name() + "'" + what_graph;
    if (init.name().empty()) throw Error(source + ": an initializer has no name");
    define(init.name(), what);
    g.initializers[init.name()] = std::make_shared<Tensor>(held(tensor_from_proto(init, scope.model_dir, what)));
    // The tensor holds the values now: the message's copy goes, so a model's
    // weights are not held twice while it loads.
    std::string().swap(*init.mutable_raw_data());
    google::protobuf::RepeatedField<float>().Swap(init.mutable_float_data());
    google::protobuf::RepeatedField<int32_t>().Swap(init.mutable_int32_data());
  }
  if (gp.sparse_initializer_size() > 0) throw Error(source + ": sparse initializers are not supported");
  for (auto& in : gp.input()) {
    if (g.initializers.count(in.name())) continue;  // old exports list initializers as inputs
    if (top) g.declared[in.name()] = value_type(in, source + ": graph input");
    if (top) note_narrow(g, in);
    g.inputs.push_back(in.name());
    define(in.name(), source + ": graph input '" + in.name() + "'" + what_graph);
  }

  // What a subgraph of this graph's nodes may read.
  Scope inner = scope;
  ++inner.depth;
  inner.outer.insert(defined.begin(), defined.end());
  for (auto& np : gp.node()) inner.outer.insert(np.output().begin(), np.output().end());

  // Nodes, with Constant nodes turned into initializers.
  std::vector<Node> nodes;
  for (int k = 0; k < gp.node_size(); ++k) {
    auto& np = gp.node(k);
    Node n;
    n.name = np.name().empty() ? np.op_type() + "_" + std::to_string(k) : np.name();
    n.op_type = np.op_type();
    n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    std::string where = source + ": node " + n.label() + what_graph;
    for (auto& a : np.attribute()) {
      if (a.name() == "__implicit_inputs") throw Error(where + ": attribute '__implicit_inputs' is reserved for normrt");
      n.attrs[a.name()] = attribute(a, scope.model_dir, where);
    }
    check_against_schema(np, n, g.opset, where);
    for (auto& a : *gp.mutable_node(k)->mutable_attribute())
      if (a.type() == onnx::AttributeProto::GRAPH)
        n.attrs[a.name()].g = std::make_shared<const Graph>(import_graph(*a.mutable_g(), inner));
    std::vector<std::string> implicit;
    std::set<std::string> seen;
    for (auto& [name, a] : n.attrs)
      if (a.g)
        for (auto& v : outer_reads(*a.g))
          if (seen.insert(v).second) implicit.push_back(v);
    if (!implicit.empty()) {
      Attribute names;
      names.kind = Attribute::Kind::ss;
      names.ss = implicit;
      n.attrs["__implicit_inputs"] = names;
      n.inputs.insert(n.inputs.end(), implicit.begin(), implicit.end());
    }
    if (n.op_type == "Constant" && n.domain.empty()) {
      if (n.outputs.size() != 1) throw Error(where + ": Constant must have one output");
      define(n.outputs[0], where + ": output '" + n.outputs[0] + "'");
      g.initializers[n.outputs[0]] = constant_value(n, where);
      continue;
    }
    nodes.push_back(std::move(n));
  }

  // Order nodes topologically (ONNX requires it; be tolerant of exporters that don't),
  // and check every value read is defined exactly once.
  std::map<std::string, size_t> producer;
  for (size_t k = 0; k < nodes.size(); ++k)
    for (auto& o : nodes[k].outputs) {
      if (o.empty()) continue;
      if (defined.count(o) || !producer.emplace(o, k).second)
        throw Error(source + ": node " + nodes[k].label() + what_graph + ": output '" + o + "' is defined twice");
      if (scope.outer.count(o))
        throw Error(source + ": node " + nodes[k].label() + what_graph + ": output '" + o +
                    "' is also defined by an enclosing graph");
    }
  std::vector<int> state(nodes.size(), 0);  // 0 new, 1 visiting, 2 done
  std::vector<size_t> stack;
  for (size_t root = 0; root < nodes.size(); ++root) {
    if (state[root]) continue;
    // Iterative DFS post-order.
    std::vector<std::pair<size_t, size_t>> st{{root, 0}};
    state[root] = 1;
    while (!st.empty()) {
      auto& [k, next] = st.back();
      if (next < nodes[k].inputs.size()) {
        const std::string& v = nodes[k].inputs[next++];
        if (v.empty() || defined.count(v) || scope.outer.count(v)) continue;
        auto p = producer.find(v);
        if (p == producer.end())
          throw Error(source + ": node " + nodes[k].label() + what_graph + " reads '" + v + "', which nothing defines");
        if (state[p->second] == 1) throw Error(source + ": node " + nodes[k].label() + " is part of a cycle");
        if (state[p->second] == 0) {
          state[p->second] = 1;
          st.push_back({p->second, 0});
        }
        continue;
      }
      state[k] = 2;
      stack.push_back(k);
      st.pop_back();
    }
  }
  for (size_t k : stack) g.nodes.push_back(std::move(nodes[k]));

  for (auto& out : gp.output()) {
    if (!producer.count(out.name()) && !defined.count(out.name()) && !scope.outer.count(out.name()))
      throw Error(source + ": graph output '" + out.name() + "'" + what_graph + " is not produced by any node");
    g.outputs.push_back(out.name());
    if (out.type().has_tensor_type() && dtype_held(out.type().tensor_type().elem_type()) &&
        out.type().tensor_type().has_shape())
      g.declared[out.name()] = value_type(out, source + ": graph output");
    if (top) note_narrow(g, out);
  }
  if (g.outputs.empty()) throw Error(source + ": the graph" + what_graph + " has no outputs");
  return g;
}

Graph import_model(onnx::ModelProto& m, const std::string& source) {
  if (!m.has_graph() || m.ir_version() <= 0) throw Error(source + ": not a valid ONNX model (no graph or IR version)");
  Scope scope;
  scope.source = source;
  for (auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") scope.opset = o.version();
  if (scope.opset <= 0) throw Error(source + ": the model imports no opset of the default ONNX domain");
  if (source != "<bytes>") scope.model_dir = fs::path(source).parent_path().string();
  if (scope.model_dir.empty() && source != "<bytes>") scope.model_dir = ".";
  return import_graph(*m.mutable_graph(), scope);
}

}  // namespace

}  // namespace normrt
