// ONNX's own node tests (generated at test time by conformance/generate.py):
// every test whose ops the registry claims must pass, with every graph
// output in its exact dtype. The few such tests that use a feature normrt
// does not implement are listed below with the reason, and must be refused
// with a clear error — never crash, never answer wrongly.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "graph/onnx_import.h"
#include "runtime/registry.h"
#include "runtime/session.h"
#include "tests/test_util.h"

namespace normrt {
namespace {
namespace fs = std::filesystem;

const std::map<std::string, std::string> kRefused = {
#include "tests/conformance/refused.inc"
};

// Tests whose expected data normrt knowingly disagrees with, and why; each
// is checked against the right answer, computed here, instead.
const std::map<std::string, std::string> kDisagrees = {
    {"test_cast_FLOAT_to_BFLOAT16",
     "the expected output truncates float32 to bfloat16 (onnx/onnx#3876); normrt rounds to nearest even, as PyTorch "
     "and ONNX Runtime do"},
};

// "" if every output of the Cast test equals its input rounded to nearest bfloat16.
std::string check_bfloat16_rounding(const fs::path& dir) {
  Session s((dir / "model.onnx").string());
  const fs::path ds = dir / "test_data_set_0";
  Tensor x = load_tensor_pb((ds / "input_0.pb").string());
  if (x.dtype != DType::float32) return "input is not float32";
  auto out = s.run(std::vector<Tensor>{x});
  if (out.size() != 1 || out[0].dtype != DType::bfloat16 || out[0].numel() != x.numel()) return "output is not bfloat16 of the input's size";
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float got = bfloat16_to_float(out[0].data<uint16_t>()[i]),
                want = bfloat16_to_float(test::nearest_narrow(DType::bfloat16, x.data<float>()[i]));
    if (!(got == want || (std::isnan(got) && std::isnan(want))))
      return "element " + std::to_string(i) + ": got " + std::to_string(got) + ", nearest " + std::to_string(want);
  }
  return "";
}

// Whether every node of the test's model is an op the registry claims at the model's opset.
bool claimed(const onnx::ModelProto& m) {
  int64_t opset = 0;
  for (auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  if (m.graph().node_size() == 0) return false;
  for (auto& n : m.graph().node())
    if (!default_registry().find(n.domain() == "ai.onnx" ? "" : n.domain(), n.op_type(), opset)) return false;
  return true;
}

// A test data file as a tensor of the type the model declares for it. ONNX's
// generator writes bfloat16 values (which numpy lacks) as their uint16 bits,
// so such a file is read as bfloat16 where the model declares bfloat16.
Tensor load_case_tensor(const fs::path& path, const onnx::ValueInfoProto& declared) {
  std::ifstream f(path, std::ios::binary);
  onnx::TensorProto p;
  if (!p.ParseFromIstream(&f)) throw Error(path.string() + ": not a valid ONNX TensorProto file");
  if (p.data_type() == onnx::TensorProto::UINT16 &&
      declared.type().tensor_type().elem_type() == onnx::TensorProto::BFLOAT16)
    p.set_data_type(onnx::TensorProto::BFLOAT16);
  return tensor_from_proto(p, "", path.string());
}

// "" if the case passes, else why not.
// `m`: the case's model.onnx, parsed.
std::string run_case(const fs::path& dir, const onnx::ModelProto& m) {
  Session s((dir / "model.onnx").string());
  // The graph's inputs that are not initializers, in order (Session's inputs).
  std::vector<const onnx::ValueInfoProto*> inputs;
  for (auto& v : m.graph().input()) {
    bool init = false;
    for (auto& t : m.graph().initializer()) init = init || t.name() == v.name();
    if (!init) inputs.push_back(&v);
  }
  if (inputs.size() != s.input_names().size()) return "the model's inputs and the session's differ";
  int sets = 0;
  for (int k = 0; fs::exists(dir / ("test_data_set_" + std::to_string(k))); ++k, ++sets) {
    fs::path ds = dir / ("test_data_set_" + std::to_string(k));
    std::vector<Tensor> in;
    for (size_t i = 0; i < s.input_names().size(); ++i)
      in.push_back(load_case_tensor(ds / ("input_" + std::to_string(i) + ".pb"), *inputs[i]));
    auto out = s.run(in);
    for (size_t i = 0; i < out.size(); ++i) {
      fs::path want_path = ds / ("output_" + std::to_string(i) + ".pb");
      if (!fs::exists(want_path)) return "missing expected output " + want_path.string();
      if (int(i) >= m.graph().output_size()) return "more outputs than the model declares";
      Tensor want = load_case_tensor(want_path, m.graph().output(int(i)));
      std::string why = test::compare(out[i], want, 1e-3, 1e-5);
      if (!why.empty()) return "data set " + std::to_string(k) + " output " + std::to_string(i) + ": " + why;
    }
  }
  return sets ? "" : "no data sets";
}

TEST(Conformance, EveryClaimedOnnxNodeTest) {
  fs::path root = std::getenv("NORMRT_ONNX_NODE_TESTS") ? std::getenv("NORMRT_ONNX_NODE_TESTS")
                                                         : std::string(NORMRT_BUILD_DIR) + "/onnx_node_tests";
  ASSERT_TRUE(fs::is_directory(root)) << root << " missing: run tests/conformance/generate.py (ctest does)";
  std::vector<fs::path> dirs;
  for (auto& e : fs::directory_iterator(root)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  int passed = 0, refused = 0, disagreed = 0, total = 0;
  for (auto& dir : dirs) {
    const std::string name = dir.filename().string();
    onnx::ModelProto m;
    std::ifstream f(dir / "model.onnx", std::ios::binary);
    if (!m.ParseFromIstream(&f) || !claimed(m)) continue;
    ++total;
    std::string why;
    try {
      why = run_case(dir, m);
    } catch (const Error& e) {
      why = std::string("refused: ") + e.what();
    }
    if (auto d = kDisagrees.find(name); d != kDisagrees.end()) {
      EXPECT_FALSE(why.empty() || why.rfind("refused: ", 0) == 0)
          << name << " is listed as disagreeing with its data (" << d->second << ") but: " << (why.empty() ? "passed" : why);
      EXPECT_EQ(check_bfloat16_rounding(dir), "") << name;
      ++disagreed;
      continue;
    }
    auto r = kRefused.find(name);
    if (r != kRefused.end()) {
      EXPECT_EQ(why.rfind("refused: ", 0), 0u) << name << " is listed as refused (" << r->second
                                               << ") but was not refused with an error: " << why;
      ++refused;
      continue;
    }
    EXPECT_EQ(why, "") << name;
    if (why.empty()) ++passed;
  }
  std::printf("ONNX node tests of claimed ops: %d total, %d passed, %d refused as listed, %d checked against the right "
              "answer where their data is wrong\n",
              total, passed, refused, disagreed);
  EXPECT_GT(total, 100);
}

}  // namespace
}  // namespace normrt
