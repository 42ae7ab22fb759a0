// Bad input of every kind a user can hand us ends in one clear error naming
// the file, node and reason — from the library and from `normrt run` — and
// never in a crash or a half-written output folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <limits>
#include <random>

#include "runtime/session.h"
#include "runtime/tensor_io.h"
#include "tests/test_util.h"

namespace normrt {
namespace {
namespace fs = std::filesystem;
using test::ModelBuilder;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("normrt_errors_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// The error message of loading (and running once) `path`, or "" if it worked.
std::string load_error(const std::string& path) {
  try {
    Session s(path);
    std::vector<Tensor> in;
    for (auto& n : s.input_names()) {
      Shape d = s.input_type(n).dims;
      for (auto& x : d) x = x < 0 ? 1 : x;
      in.emplace_back(s.input_type(n).dtype, d);
    }
    s.run(in);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

ModelBuilder relu_model() {
  ModelBuilder b;
  b.input("x", {1, 4}).output("y");
  b.node("Relu", {"x"}, {"y"}, "act");
  return b;
}

void write(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// A file's bytes.
std::string contents(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

TEST(BadModel, MissingFileNamesThePath) {
  EXPECT_NE(load_error("/nonexistent/model.onnx").find("/nonexistent/model.onnx"), std::string::npos);
}

TEST(BadModel, TruncatedEmptyAndNonOnnxFilesAreRefused) {
  TempDir d;
  std::string bytes = contents(test::fixture("models/resnet_basic.onnx"));
  for (size_t cut : {bytes.size() / 2, bytes.size() - 3, size_t(100)}) {
    write(d.file("cut.onnx"), bytes.substr(0, cut));
    std::string e = load_error(d.file("cut.onnx"));
    EXPECT_NE(e.find("cut.onnx"), std::string::npos) << "cut at " << cut << ": '" << e << "'";
  }
  write(d.file("empty.onnx"), "");
  EXPECT_NE(load_error(d.file("empty.onnx")).find("empty file"), std::string::npos);
  write(d.file("text.onnx"), "this is not a model at all, just some text\n");
  EXPECT_NE(load_error(d.file("text.onnx")).find("not a valid ONNX model"), std::string::npos);
}

TEST(BadModel, UnknownOpsAreAllReportedWithNodeNames) {
  ModelBuilder b;
  b.input("x", {1, 4}).output("z");
  b.node("FancyOp", {"x"}, {"y"}, "first_bad");
  b.node("OtherOp", {"y"}, {"z"}, "second_bad");
  TempDir d;
  b.save(d.file("m.onnx"));
  std::string e = load_error(d.file("m.onnx"));
  EXPECT_NE(e.find("FancyOp 'first_bad'"), std::string::npos) << e;
  EXPECT_NE(e.find("OtherOp 'second_bad'"), std::string::npos) << e;
  EXPECT_NE(e.find("2 node(s)"), std::string::npos) << e;
}

TEST(BadModel, UnsupportedDtypeIsNamed) {
  ModelBuilder b;
  b.input("x", {1, 4}, /*float64*/ 11).output("y", 11);
  b.node("Relu", {"x"}, {"y"});
  TempDir d;
  b.save(d.file("m.onnx"));
  EXPECT_NE(load_error(d.file("m.onnx")).find("unsupported data type float64"), std::string::npos);
}

// A float64 constant only cast to float32 (as exporters write eps) is read
// as float32; one read any other way is still an unsupported dtype.
TEST(BadModel, Float64ConstantsLoadOnlyWhenCastToFloat) {
  for (bool only_cast : {true, false}) {
    ModelBuilder b;
    b.input("x", {1, 2}).output("y");
    auto* init = b.m.mutable_graph()->add_initializer();
    init->set_name("eps");
    init->set_data_type(onnx::TensorProto::DOUBLE);
    init->add_double_data(0.25);
    test::set_attr(b.node("Cast", {"eps"}, {"e"}), "to", int64_t(onnx::TensorProto::FLOAT));
    b.node("Add", {"x", "e"}, {"y"});
    if (!only_cast) b.node("Identity", {"eps"}, {"d"});
    TempDir d;
    b.save(d.file("m.onnx"));
    if (!only_cast) {
      EXPECT_NE(load_error(d.file("m.onnx")).find("unsupported data type float64"), std::string::npos);
      continue;
    }
    Session s(d.file("m.onnx"));
    auto out = s.run(std::vector<Tensor>{test::float_tensor({1, 2}, {1.f, -2.f})});
    EXPECT_EQ(out[0].data<float>()[0], 1.25f);
    EXPECT_EQ(out[0].data<float>()[1], -1.75f);
  }
}

TEST(BadModel, InitializerWhoseDataDisagreesWithItsShape) {
  ModelBuilder b = relu_model();
  auto* p = b.m.mutable_graph()->add_initializer();
  p->set_name("w");
  p->set_data_type(1);
  p->add_dims(4);
  p->set_raw_data(std::string(12, '\0'));  // 3 floats for a shape of 4
  TempDir d;
  b.save(d.file("m.onnx"));
  std::string e = load_error(d.file("m.onnx"));
  EXPECT_NE(e.find("initializer 'w'"), std::string::npos) << e;
  EXPECT_NE(e.find("4 elements"), std::string::npos) << e;

  p->clear_raw_data();
  p->set_dims(0, -2);
  b.save(d.file("m.onnx"));
  EXPECT_NE(load_error(d.file("m.onnx")).find("negative dimension"), std::string::npos);
}

onnx::TensorProto& external_init(ModelBuilder& b, const std::string& location) {
  auto* p = b.m.mutable_graph()->add_initializer();
  p->set_name("bias");
  p->set_data_type(1);
  p->add_dims(4);
  p->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* kv = p->add_external_data();
  kv->set_key("location");
  kv->set_value(location);
  return *p;
}

TEST(BadModel, ExternalDataMustStayInsideTheModelFolder) {
  TempDir d;
  fs::create_directories(d.path / "model");
  float bias[4] = {1, -2, 3, -4};
  write(d.file("outside.bin"), std::string(reinterpret_cast<char*>(bias), sizeof bias));
  fs::create_symlink(d.path / "outside.bin", d.path / "model" / "link.bin");
  write((d.path / "model" / "inside.bin").string(), std::string(reinterpret_cast<char*>(bias), sizeof bias));
  for (std::string loc : {std::string("../outside.bin"), (d.path / "outside.bin").string(), std::string("link.bin")}) {
    ModelBuilder b;
    b.input("x", {4}).output("y");
    external_init(b, loc);
    b.node("Add", {"x", "bias"}, {"y"});
    b.save((d.path / "model" / "m.onnx").string());
    std::string e = load_error((d.path / "model" / "m.onnx").string());
    EXPECT_TRUE(e.find("leaves the model's folder") != std::string::npos ||
                e.find("must be relative") != std::string::npos)
        << loc << ": " << e;
  }
  // The same model with its data inside the folder loads and adds the right numbers.
  ModelBuilder b;
  b.input("x", {4}).output("y");
  external_init(b, "inside.bin");
  b.node("Add", {"x", "bias"}, {"y"});
  b.save((d.path / "model" / "m.onnx").string());
  Session s((d.path / "model" / "m.onnx").string());
  Tensor x(DType::float32, {4});
  for (int i = 0; i < 4; ++i) x.data<float>()[i] = float(i);
  auto y = s.run(std::vector<Tensor>{x});
  EXPECT_EQ(y[0].data<float>()[3], -1.f);
}

TEST(BadModel, UndefinedValueCycleAndBadConvAttributes) {
  TempDir d;
  {
    ModelBuilder b;
    b.input("x", {1, 4}).output("y");
    b.node("Add", {"x", "ghost"}, {"y"}, "adder");
    b.save(d.file("m.onnx"));
    std::string e = load_error(d.file("m.onnx"));
    EXPECT_NE(e.find("Add 'adder' reads 'ghost'"), std::string::npos) << e;
  }
  {
    ModelBuilder b;
    b.input("x", {1, 4}).output("y");
    b.node("Add", {"x", "b"}, {"a"}, "n1");
    b.node("Relu", {"a"}, {"b"}, "n2");
    b.node("Relu", {"a"}, {"y"}, "n3");
    b.save(d.file("m.onnx"));
    EXPECT_NE(load_error(d.file("m.onnx")).find("cycle"), std::string::npos);
  }
  {
    ModelBuilder b;
    b.input("x", {1, 1, 5, 5}).output("y");
    b.init("w", test::random_tensor({1, 1, 3, 3}, 1));
    auto& n = b.node("Conv", {"x", "w"}, {"y"}, "zero_stride");
    test::set_attr(n, "strides", std::vector<int64_t>{0, 0});
    b.save(d.file("m.onnx"));
    std::string e = load_error(d.file("m.onnx"));
    EXPECT_NE(e.find("Conv 'zero_stride'"), std::string::npos) << e;
    EXPECT_NE(e.find("strides"), std::string::npos) << e;
  }
}

// Found by tests/fuzz_model.cpp: a Mul with one input reached the LayerNorm
// matcher, which read its second input out of bounds. Input and output
// counts are now checked against the ONNX schema as the model loads.
TEST(BadModel, InputAndOutputCountsAreCheckedAgainstTheSchema) {
  TempDir d;
  struct Case {
    const char* op;
    std::vector<std::string> inputs, outputs;
    const char* expected;
  } cases[] = {
      {"Mul", {"x"}, {"y"}, "Mul 'n': Mul takes 2 inputs, the node has 1"},
      {"Div", {"x", ""}, {"y"}, "Div 'n': Div takes 2 inputs, the node has 1"},
      {"Add", {"", "x"}, {"y"}, "Add 'n': input 0 (A) of Add is required but has no name"},
      {"Relu", {"x", "x"}, {"y"}, "Relu 'n': Relu takes 1 inputs, the node has 2"},
      {"Relu", {"x"}, {"y", "z"}, "Relu 'n': Relu takes 1 outputs, the node has 2"},
      {"Clip", {"x", "", "", "x"}, {"y"}, "Clip 'n': Clip takes 1 to 3 inputs, the node has 4"},
  };
  for (const auto& c : cases) {
    ModelBuilder b;
    b.input("x", {1, 4}).output("y");
    b.node(c.op, c.inputs, c.outputs, "n");
    b.save(d.file("m.onnx"));
    const std::string e = load_error(d.file("m.onnx"));
    EXPECT_NE(e.find(c.expected), std::string::npos) << e;
    EXPECT_NE(e.find("m.onnx"), std::string::npos) << e;
  }
  // Past the opsets libonnx knows (17), the least counts still hold.
  {
    ModelBuilder b(18);
    b.input("x", {1, 4}).output("y");
    b.node("Gemm", {"x"}, {"y"}, "n");
    b.save(d.file("m.onnx"));
    const std::string e = load_error(d.file("m.onnx"));
    EXPECT_NE(e.find("Gemm 'n': Gemm takes at least 2 inputs, the node has 1"), std::string::npos) << e;
  }
  // Omitted optional inputs, in the middle or at the end, still load and answer.
  ModelBuilder b;
  b.input("x", {1, 4}).output("y");
  b.init("hi", Tensor(DType::float32, {}));
  b.node("Clip", {"x", "", "hi"}, {"y"}, "n");
  b.save(d.file("m.onnx"));
  EXPECT_EQ(load_error(d.file("m.onnx")), "");
}

// Found by tests/fuzz_model.cpp: a Constant whose `value` attribute was
// declared GRAPH (with a tensor inside) became a null initializer. Attribute
// names and types are now checked against the schema as the model loads.
TEST(BadModel, AttributeNamesAndTypesAreCheckedAgainstTheSchema) {
  TempDir d;
  auto error_of = [&](const std::function<void(ModelBuilder&)>& build) {
    ModelBuilder b;
    b.input("x", {1, 4}).output("y");
    build(b);
    b.save(d.file("m.onnx"));
    return load_error(d.file("m.onnx"));
  };
  std::string e = error_of([](ModelBuilder& b) {
    auto& c = b.node("Constant", {}, {"c"}, "k");
    auto* a = c.add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::GRAPH);
    a->mutable_t()->set_data_type(1);
    a->mutable_t()->add_float_data(1.f);
    b.node("Add", {"x", "c"}, {"y"}, "add");
  });
  EXPECT_NE(e.find("Constant 'k': attribute 'value' must be TENSOR, not GRAPH"), std::string::npos) << e;
  e = error_of([](ModelBuilder& b) { test::set_attr(b.node("Softmax", {"x"}, {"y"}, "s"), "axis", 1.f); });
  EXPECT_NE(e.find("Softmax 's': attribute 'axis' must be INT, not FLOAT"), std::string::npos) << e;
  e = error_of([](ModelBuilder& b) { test::set_attr(b.node("Relu", {"x"}, {"y"}, "r"), "alpha", 1.f); });
  EXPECT_NE(e.find("Relu 'r': Relu has no attribute 'alpha'"), std::string::npos) << e;
  e = error_of([](ModelBuilder& b) { b.node("Cast", {"x"}, {"y"}, "c"); });
  EXPECT_NE(e.find("Cast 'c': required attribute 'to' is missing"), std::string::npos) << e;
  e = error_of([](ModelBuilder& b) {
    auto& n = b.node("Softmax", {"x"}, {"y"}, "s");
    test::set_attr(n, "axis", int64_t(1));
    test::set_attr(n, "axis", int64_t(0));
  });
  EXPECT_NE(e.find("Softmax 's': attribute 'axis' is given twice"), std::string::npos) << e;
  // Names starting with "__" are left to tools, as the ONNX checker leaves them.
  e = error_of([](ModelBuilder& b) { test::set_attr(b.node("Relu", {"x"}, {"y"}, "r"), "__note", int64_t(1)); });
  EXPECT_EQ(e, "");
}

// Found by tests/fuzz_model.cpp: a Gemm whose C was bool had it read as
// float, past its end. Input types are checked against the schema's type
// parameters when the plan infers shapes.
TEST(BadModel, InputTypesAreCheckedAgainstTheSchema) {
  TempDir d;
  {
    ModelBuilder b;
    b.input("a", {3, 6}).input("b", {6, 4}).input("c", {3, 4}, 9).output("y");
    b.node("Gemm", {"a", "b", "c"}, {"y"}, "g");
    b.save(d.file("m.onnx"));
    const std::string e = load_error(d.file("m.onnx"));
    EXPECT_NE(e.find("Gemm 'g': input 2 (C) of Gemm cannot be bool"), std::string::npos) << e;
  }
  {
    ModelBuilder b;
    b.input("a", {3, 6}).input("b", {6, 4}, 6).output("y");
    b.node("MatMul", {"a", "b"}, {"y"}, "mm");
    b.save(d.file("m.onnx"));
    const std::string e = load_error(d.file("m.onnx"));
    EXPECT_NE(e.find("MatMul 'mm': inputs 0 and 1 of MatMul must have one type (T), not float32 and int32"),
              std::string::npos)
        << e;
  }
}

// Found by tests/fuzz_model.cpp: Softmax over an axis of size 0 did pointer
// arithmetic on the null buffer of an empty tensor (UBSan). A node whose
// outputs are all empty is now settled when the plan is built: no kernel runs.
TEST(BadInput, EmptyTensorsAnswerEmptyOutputsWithoutRunningKernels) {
  ModelBuilder b;
  b.input("x", {0, 4, 5}).output("y");
  auto& s = b.node("Softmax", {"x"}, {"s"}, "softmax");
  test::set_attr(s, "axis", int64_t(0));
  b.node("Relu", {"s"}, {"r"}, "relu");
  b.node("Add", {"r", "x"}, {"y"}, "add");
  const std::string bytes = b.bytes();
  Session session(bytes.data(), bytes.size());
  const std::vector<Tensor> in{Tensor(DType::float32, {0, 4, 5})};
  auto out = session.run(in);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape, (Shape{0, 4, 5}));
  EXPECT_TRUE(out[0].bytes.empty());
  EXPECT_TRUE(session.profile(in, 1).empty());  // no step runs
}

// Found by tests/fuzz_model.cpp: ReduceSum of a scalar over axis 0 wrote past
// an empty axis mask. A scalar has no axes to reduce over.
// Fuzz finding: a Slice step of INT64_MAX (or INT64_MIN) overflowed while
// rounding the count up. One element is taken, as numpy would.
// Unique along an axis whose slices hold no elements: all equal, one group,
// as numpy.unique(np.zeros((3, 0)), axis=0, ...) gives (a fuzz finding:
// the empty slices were copied from a null buffer, UB under UBSan; Compress
// had the same copy).
TEST(BadModel, UniqueAndCompressOfEmptySlices) {
  ModelBuilder b;
  b.input("x", {3, 0}).output("y").output("indices", 7).output("inverse", 7).output("counts", 7);
  test::set_attr(b.node("Unique", {"x"}, {"y", "indices", "inverse", "counts"}), "axis", int64_t(0));
  std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  auto out = s.run(std::vector<Tensor>{Tensor(DType::float32, {3, 0})});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].shape, (Shape{1, 0}));
  EXPECT_EQ(out[1].as_int64(), (std::vector<int64_t>{0}));
  EXPECT_EQ(out[2].as_int64(), (std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(out[3].as_int64(), (std::vector<int64_t>{3}));
  // Compress keeps such slices the same way.
  ModelBuilder c;
  c.input("x", {3, 0}).input("keep", {3}, 9).output("y");
  test::set_attr(c.node("Compress", {"x", "keep"}, {"y"}), "axis", int64_t(0));
  std::string bytes2 = c.bytes();
  Session s2(bytes2.data(), bytes2.size());
  Tensor keep(DType::boolean, {3});
  keep.data<uint8_t>()[0] = 1, keep.data<uint8_t>()[1] = 0, keep.data<uint8_t>()[2] = 1;
  auto y = s2.run(std::vector<Tensor>{Tensor(DType::float32, {3, 0}), keep});
  EXPECT_EQ(y[0].shape, (Shape{2, 0}));
}

TEST(BadModel, SliceStepsAtTheInt64LimitsTakeOneElement) {
  for (int64_t step : {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    ModelBuilder b;
    b.input("x", {5}).output("y");
    b.init("starts", test::int64_tensor({1}, {step > 0 ? 0 : 4})).init("ends", test::int64_tensor({1}, {step > 0 ? 5 : -6}));
    b.init("axes", test::int64_tensor({1}, {0})).init("steps", test::int64_tensor({1}, {step}));
    b.node("Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"});
    std::string bytes = b.bytes();
    Session s(bytes.data(), bytes.size());
    auto y = s.run(std::vector<Tensor>{test::float_tensor({5}, {1, 2, 3, 4, 5})});
    ASSERT_EQ(y[0].shape, Shape{1}) << step;
    EXPECT_EQ(y[0].data<float>()[0], step > 0 ? 1.f : 5.f);
  }
  // The same steps on the middle axis of [2, 5, 3], whose elements lie 3
  // apart (a fuzz finding: step * 3 overflowed in the strided copy).
  for (int64_t step : {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    ModelBuilder b;
    b.input("x", {2, 5, 3}).output("y");
    b.init("starts", test::int64_tensor({1}, {step > 0 ? 1 : 3})).init("ends", test::int64_tensor({1}, {step > 0 ? 5 : -6}));
    b.init("axes", test::int64_tensor({1}, {1})).init("steps", test::int64_tensor({1}, {step}));
    b.node("Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"});
    std::string bytes = b.bytes();
    Session s(bytes.data(), bytes.size());
    Tensor x(DType::float32, {2, 5, 3});
    for (int64_t i = 0; i < 30; ++i) x.data<float>()[i] = float(i);
    auto y = s.run(std::vector<Tensor>{x});
    ASSERT_EQ(y[0].shape, (Shape{2, 1, 3})) << step;
    const int64_t row = step > 0 ? 1 : 3;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(y[0].data<float>()[i * 3 + j], float(i * 15 + row * 3 + j)) << step;
  }
}

TEST(BadModel, ReduceAxesOfAScalarAreOutOfRange) {
  TempDir d;
  ModelBuilder b;
  b.input("x", {}).output("y");
  b.init("axes", test::int64_tensor({1}, {0}));
  b.node("ReduceSum", {"x", "axes"}, {"y"}, "sum");
  b.save(d.file("m.onnx"));
  const std::string e = load_error(d.file("m.onnx"));
  EXPECT_NE(e.find("ReduceSum 'sum': axis 0 is out of range for rank 0"), std::string::npos) << e;
}

// A product oneDNN refuses at run time ends the run in an Error naming the
// node, not in oneDNN's own exception (found by the fuzzer: a chain of
// Einsums whose third, 'bqk,bkd' with the implicit output 'dq', is lowered
// to a matmul oneDNN does not execute).
TEST(BadModel, PadsThatCannotBeDoneAreErrorsNamingTheNode) {
  struct Case {
    std::string mode;
    std::vector<int64_t> pads;
    const char* why;
  };
  const Case cases[] = {
      {"reflect", {0, 4, 0, 0}, "reflect pads 4, 0 must be below dim 1 (4)"},
      {"constant", {0, -3, 0, -2}, "leave dim 1 (4) negative"},
      {"constant", {0, 1, 0}, "pads has 3 values for 2 axes"},
      {"wrap", {0, 1, 0, 1}, "unknown Pad mode 'wrap'"},
      // Found by tests/fuzz_model.cpp: d + begin + end overflowed int64 (UBSan).
      {"constant", {0, 5, 0, std::numeric_limits<int64_t>::max()}, "too large to count"},
      // Found by tests/fuzz_model.cpp: an empty constant_value was read (null pointer, UBSan).
      {"constant", {0, 1, 0, 1}, "constant_value must be one value, not of shape [0]"},
  };
  for (const Case& c : cases) {
    TempDir d;
    ModelBuilder b;
    b.input("x", {2, 4}).output("y");
    b.init("pads", test::int64_tensor({int64_t(c.pads.size())}, c.pads));
    b.init("empty", Tensor(DType::float32, {0}));
    std::vector<std::string> ins{"x", "pads"};
    if (std::string(c.why).find("constant_value") != std::string::npos) ins.push_back("empty");
    test::set_attr(b.node("Pad", ins, {"y"}, "pad"), "mode", c.mode);
    b.save(d.file("m.onnx"));
    const std::string e = load_error(d.file("m.onnx"));
    EXPECT_NE(e.find("Pad 'pad': "), std::string::npos) << e;
    EXPECT_NE(e.find(c.why), std::string::npos) << e;
  }
}

// Found by an independent review: at opset 18 (beyond the ONNX library's
// schemas) input types are not checked against a schema, so CumSum's axis
// type is checked by its own shape function; and a dim beyond what a tensor
// can hold is refused even when another dim is 0.
TEST(BadModel, CumSumAxisTypeAndHugeDimsOfEmptyTensors) {
  {
    TempDir d;
    ModelBuilder b(18);
    b.input("x", {2, 3}).output("y");
    b.init("axis", test::float_tensor({}, {1}));
    b.node("CumSum", {"x", "axis"}, {"y"}, "scan");
    b.save(d.file("m.onnx"));
    const std::string e = load_error(d.file("m.onnx"));
    EXPECT_NE(e.find("CumSum 'scan': axis must be int32 or int64"), std::string::npos) << e;
  }
  {
    TempDir d;
    ModelBuilder b(13);
    b.input("x", {0, std::numeric_limits<int64_t>::max()}).output("y");
    b.node("Relu", {"x"}, {"y"});
    b.save(d.file("m.onnx"));
    const std::string e = load_error(d.file("m.onnx"));
    EXPECT_NE(e.find("too many elements"), std::string::npos) << e;
  }
}

TEST(BadModel, ResizesThatCannotBeDoneAreErrorsNamingTheNode) {
  struct Case {
    std::vector<std::string> inputs;
    std::string attr, value;
    const char* why;
  };
  const Case cases[] = {
      {{"x", "", "scales", "sizes"}, "mode", "linear", "needs exactly one of scales and sizes"},
      {{"x", "", "", "short"}, "mode", "linear", "sizes has 3 values for 4 axes"},
      {{"x", "", "scales"}, "mode", "area", "unknown mode 'area'"},
      {{"x", "", "scales"}, "coordinate_transformation_mode", "tf_crop_and_resize", "tf_crop_and_resize is not supported"},
      {{"x", "", "zero"}, "mode", "nearest", "scale 0.000000 for dim 2 is not a positive size"},
  };
  for (const Case& c : cases) {
    TempDir d;
    ModelBuilder b;
    b.input("x", {1, 2, 3, 3}).output("y");
    b.init("scales", test::float_tensor({4}, {1, 1, 2, 2})).init("zero", test::float_tensor({4}, {1, 1, 0, 2}));
    b.init("sizes", test::int64_tensor({4}, {1, 2, 6, 6})).init("short", test::int64_tensor({3}, {1, 2, 6}));
    test::set_attr(b.node("Resize", c.inputs, {"y"}, "up"), c.attr, c.value);
    b.save(d.file("m.onnx"));
    const std::string e = load_error(d.file("m.onnx"));
    EXPECT_NE(e.find("Resize 'up': "), std::string::npos) << e;
    EXPECT_NE(e.find(c.why), std::string::npos) << e;
  }
}

// Found by tests/fuzz_model.cpp: a Reshape target of huge dims overflowed
// int64 while its elements were counted (UBSan). Shapes are counted with
// overflow checks and capped at kMaxTensorElements; window attributes above
// 2^24 are refused before any geometry sum could overflow.
TEST(BadModel, ShapesTooLargeToCountAreErrors) {
  TempDir d;
  {
    ModelBuilder b;
    b.input("x", {1, 3, 4}).output("y");
    b.init("shape", test::int64_tensor({4}, {int64_t(1) << 62, 3, 2, int64_t(1) << 40}));
    b.node("Reshape", {"x", "shape"}, {"y"}, "r");
    b.save(d.file("m.onnx"));
    const std::string e = load_error(d.file("m.onnx"));
    EXPECT_NE(e.find("Reshape 'r': cannot reshape [1,3,4]"), std::string::npos) << e;
  }
  {
    ModelBuilder b;
    b.input("x", {1, 3, 4}).output("y");
    b.init("shape", test::int64_tensor({2}, {int64_t(1) << 31, int64_t(1) << 31}));
    b.node("ConstantOfShape", {"shape"}, {"y"}, "c");
    b.save(d.file("m.onnx"));
    const std::string e = load_error(d.file("m.onnx"));
    EXPECT_NE(e.find("ConstantOfShape 'c': shape [2147483648,2147483648] has too many elements"), std::string::npos) << e;
  }
  {
    ModelBuilder b;
    b.input("x", {1, 1, 5, 5}).output("y");
    b.init("w", test::random_tensor({1, 1, 3, 3}, 1));
    auto& n = b.node("Conv", {"x", "w"}, {"y"}, "conv");
    test::set_attr(n, "pads", std::vector<int64_t>{int64_t(1) << 62, 0, 0, 0});
    b.save(d.file("m.onnx"));
    const std::string e = load_error(d.file("m.onnx"));
    EXPECT_NE(e.find("Conv 'conv': kernel sizes, strides, dilations and pads above 2^24"), std::string::npos) << e;
  }
}

// With SessionOptions::max_tensor_bytes, a model that would fold or plan a
// larger tensor is refused naming the node, before anything that size is
// allocated; under the limit it answers as before.
TEST(BadModel, TensorsAboveTheSessionLimitAreErrors) {
  ModelBuilder b;
  b.input("x", {1, 4}).output("y").output("z");
  b.init("big", test::int64_tensor({2}, {4096, 8192}));   // 128 MiB of float
  b.init("rows", test::int64_tensor({2}, {20000, 4}));    // 320 KB of float
  b.node("ConstantOfShape", {"big"}, {"c"}, "fill");       // folded at load
  b.node("ReduceSum", {"c"}, {"y"}, "sum");
  b.node("Expand", {"x", "rows"}, {"z"}, "grow");          // a plan's intermediate
  const std::string bytes = b.bytes();
  SessionOptions o;
  o.max_tensor_bytes = 64 << 20;
  try {
    Session s(bytes.data(), bytes.size(), o);
    s.run(std::vector<Tensor>{Tensor(DType::float32, {1, 4})});
    ADD_FAILURE() << "a 128 MiB tensor was made under a 64 MiB limit";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ConstantOfShape 'fill': output 'c' of shape [4096,8192] needs 134217728 "
                                         "bytes, above the session's limit of 67108864"),
              std::string::npos)
        << e.what();
  }
  ModelBuilder small;
  small.input("x", {1, 4}).output("z");
  small.init("rows", test::int64_tensor({2}, {20000, 4}));
  small.node("Expand", {"x", "rows"}, {"z"}, "grow");
  const std::string small_bytes = small.bytes();
  o.max_tensor_bytes = 100000;
  try {
    Session s(small_bytes.data(), small_bytes.size(), o);
    s.run(std::vector<Tensor>{Tensor(DType::float32, {1, 4})});
    ADD_FAILURE() << "a 320 KB output was made under a 100 KB limit";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Expand 'grow': output 'z' of shape [20000,4] needs 320000 bytes"),
              std::string::npos)
        << e.what();
  }
  o.max_tensor_bytes = 320000;
  Session s(small_bytes.data(), small_bytes.size(), o);
  const Tensor x = test::random_tensor({1, 4}, 3);
  const Tensor z = s.run(std::vector<Tensor>{x})[0];
  ASSERT_EQ(z.shape, (Shape{20000, 4}));
  EXPECT_EQ(z.data<float>()[4 * 19999 + 3], x.data<float>()[3]);
}

// Seeded corruptions of real models (flipped bytes, cut files, overwritten
// runs): each loads and answers, or is refused with normrt::Error — never a
// crash, never another exception (the suite also runs this under ASan/UBSan).
TEST(BadModel, RandomCorruptionsEndInAnAnswerOrAnError) {
  struct Case {
    std::string model;
    std::vector<std::string> inputs;
  } cases[] = {{"models/resnet_basic", {"input"}}, {"models/bert_op13", {"seq7.ids", "seq7.mask"}}};
  for (auto& c : cases) {
    const std::string original = contents(test::fixture(c.model + ".onnx"));
    std::vector<Tensor> in;
    for (auto& name : c.inputs) in.push_back(read_npy(test::fixture(c.model + "." + name + ".npy")));
    std::mt19937 rng(7);
    int answered = 0, refused = 0;
    for (int k = 0; k < 120; ++k) {
      std::string bytes = original;
      auto at = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
      switch (k % 3) {
        case 0:
          for (int j = 0, flips = 1 + k % 8; j < flips; ++j) bytes[at(bytes.size())] ^= char(1 << (j % 8));
          break;
        case 1: bytes.resize(at(bytes.size())); break;
        default: {
          const size_t from = at(bytes.size());
          for (size_t j = from; j < std::min(bytes.size(), from + 16); ++j) bytes[j] = char(rng());
        }
      }
      try {
        Session s(bytes.data(), bytes.size());
        s.run(in);
        ++answered;
      } catch (const Error&) {
        ++refused;
      } catch (const std::exception& e) {
        ADD_FAILURE() << c.model << " corruption " << k << ": not a normrt::Error: " << e.what();
      }
    }
    std::printf("%s: %d corrupted copies answered, %d refused with an error\n", c.model.c_str(), answered, refused);
  }
}

TEST(BadInput, WrongShapeDtypeNameOrCount) {
  TempDir d;
  relu_model().save(d.file("m.onnx"));
  Session s(d.file("m.onnx"));
  auto err = [&](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(err([&] { s.run(std::vector<Tensor>{Tensor(DType::float32, {1, 5})}); }).find("dim 1 must be 4"), std::string::npos);
  EXPECT_NE(err([&] { s.run(std::vector<Tensor>{Tensor(DType::int64, {1, 4})}); }).find("has type int64"), std::string::npos);
  EXPECT_NE(err([&] { s.run(std::map<std::string, Tensor>{{"nope", Tensor(DType::float32, {1, 4})}}); }).find("no input named 'nope'"), std::string::npos);
  EXPECT_NE(err([&] { s.run(std::map<std::string, Tensor>{}); }).find("input 'x' is missing"), std::string::npos);
  EXPECT_NE(err([&] { s.run(std::vector<Tensor>{}); }).find("takes 1 input"), std::string::npos);
}

TEST(BadInput, GatherIndexOutOfRangeIsAnErrorNotACrash) {
  ModelBuilder b;
  b.input("i", {2}, 7).output("y");
  b.init("table", test::random_tensor({3, 2}, 1));
  b.node("Gather", {"table", "i"}, {"y"}, "lookup");
  TempDir d;
  b.save(d.file("m.onnx"));
  Session s(d.file("m.onnx"));
  try {
    s.run(std::vector<Tensor>{test::int64_tensor({2}, {0, 3})});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Gather 'lookup': index 3 is out of range"), std::string::npos) << e.what();
  }
}

TEST(Cli, BadInputsExitNonZeroWithOneClearMessageAndNoPartialOutput) {
  TempDir d;
  relu_model().save(d.file("m.onnx"));
  write_npy(d.file("wrong.npy"), Tensor(DType::float32, {2, 4}));
  write(d.file("bad.onnx"), "garbage");
  struct Case {
    std::string args, expect;
    int code;
  } cases[] = {
      {d.file("missing.onnx"), "cannot open model", 1},
      {d.file("bad.onnx"), "not a valid ONNX model", 1},
      {d.file("m.onnx") + " -i " + d.file("wrong.npy") + " -o " + d.file("out"), "dim 0 must be 1", 1},
      {d.file("m.onnx") + " -i nope=" + d.file("wrong.npy"), "no input named 'nope'", 1},
      {d.file("m.onnx") + " -i " + d.file("absent.npy"), "cannot open", 1},
      {d.file("m.onnx") + " --isa sse9", "unknown ISA", 1},
      {d.file("m.onnx") + " --bogus", "unknown option", 2},
      {"", "no model given", 2},
  };
  for (auto& c : cases) {
    std::string out;
    int code = test::run_cli("run " + c.args, &out);
    EXPECT_EQ(code, c.code) << c.args << "\n" << out;
    EXPECT_NE(out.find(c.expect), std::string::npos) << c.args << "\n" << out;
    EXPECT_EQ(out.find("Segmentation"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(d.path / "out"));
  for (auto& e : fs::directory_iterator(d.path)) EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos);
}

// bench, inspect and profile print what scripts read: the fields named in the README.
TEST(Cli, BenchInspectAndProfileReportTheirFields) {
  TempDir d;
  const std::string model = test::fixture("models/resnet_basic.onnx");
  std::string out;
  ASSERT_EQ(test::run_cli("bench " + model + " --iters 3 --warmup 1 --json", &out), 0) << out;
  for (const char* field : {"load_ms", "first_run_ms", "median_ms", "p90_ms", "p99_ms", "min_ms", "runs", "threads",
                            "isa", "peak_rss_mb"})
    EXPECT_NE(out.find(std::string("\"") + field + "\""), std::string::npos) << field << "\n" << out;
  ASSERT_EQ(test::run_cli("inspect " + model + " --json", &out), 0) << out;
  for (const char* field : {"ops_before", "ops_after", "rewrites", "max_abs_diff", "max_rel_diff"})
    EXPECT_NE(out.find(std::string("\"") + field + "\""), std::string::npos) << field << "\n" << out;
  EXPECT_NE(out.find("\"BatchNormalization\": 20"), std::string::npos) << out;  // before the passes
  ASSERT_EQ(test::run_cli("profile " + model + " --iters 2 --trace " + d.file("t.json"), &out), 0) << out;
  EXPECT_NE(out.find("GFLOP/s"), std::string::npos) << out;
  std::string trace = contents(d.file("t.json"));
  EXPECT_NE(trace.find("\"traceEvents\""), std::string::npos);
  EXPECT_NE(trace.find("\"ph\": \"X\""), std::string::npos);
}

TEST(Cli, RunWritesEveryOutputAsNpyAndJson) {
  TempDir d;
  std::string out;
  std::string base = test::fixture("models/resnet_basic");
  ASSERT_EQ(test::run_cli("run " + base + ".onnx -i " + base + ".input.npy -o " + d.file("out"), &out), 0) << out;
  Tensor y = read_npy(d.file("out/output_0.npy"));
  EXPECT_LE(test::max_rel_diff(y, read_npy(base + ".output.npy")), 1e-4);
  std::string json = contents(d.file("out/outputs.json"));
  EXPECT_NE(json.find("\"name\": \"output\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"shape\": [1, 10]"), std::string::npos) << json;
  EXPECT_NE(out.find("latency"), std::string::npos);
  EXPECT_NE(out.find("isa"), std::string::npos);
}

// numpy has no bfloat16: a bfloat16 output is written as float32 (exactly),
// and outputs.json says which it is and how it is stored.
TEST(Cli, RunWritesBFloat16OutputsAsFloat32Npy) {
  TempDir d;
  std::string out;
  std::string base = test::fixture("models/resnet_bf16");
  ASSERT_EQ(test::run_cli("run " + base + ".onnx -i " + base + ".input.npy -o " + d.file("out"), &out), 0) << out;
  Tensor y = read_npy(d.file("out/output_0.npy"));
  ASSERT_EQ(y.dtype, DType::float32);
  for (int64_t i = 0; i < y.numel(); ++i)  // bfloat16 values: the low 16 bits are zero
    EXPECT_EQ(bfloat16_to_float(float_to_bfloat16(y.data<float>()[i])), y.data<float>()[i]) << i;
  EXPECT_LE(test::max_rel_diff(y, read_npy(base + ".output.npy")), 1.0 / 128);
  std::string json = contents(d.file("out/outputs.json"));
  EXPECT_NE(json.find("\"dtype\": \"bfloat16\", \"stored_as\": \"float32\""), std::string::npos) << json;
  EXPECT_NE(out.find("bfloat16[1,10]"), std::string::npos) << out;
}

}  // namespace
}  // namespace normrt
