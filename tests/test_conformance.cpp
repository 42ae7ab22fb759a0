// ONNX's own node tests (generated at test time by conformance/generate.py):
// every test whose ops the registry claims must pass, with every graph
// output in its exact dtype. The few such tests that use a feature normrt
// does not implement are listed below with the reason, and must be refused
// with a clear error — never crash, never answer wrongly.
#include <gtest/gtest.h>

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

// Whether every node of the test's model is an op the registry claims at the model's opset.
bool claimed(const std::string& model_path) {
  std::ifstream f(model_path, std::ios::binary);
  onnx::ModelProto m;
  if (!m.ParseFromIstream(&f)) return false;
  int64_t opset = 0;
  for (auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  if (m.graph().node_size() == 0) return false;
  for (auto& n : m.graph().node())
    if (!default_registry().find(n.domain() == "ai.onnx" ? "" : n.domain(), n.op_type(), opset)) return false;
  return true;
}

// "" if the case passes, else why not.
std::string run_case(const fs::path& dir) {
  Session s((dir / "model.onnx").string());
  int sets = 0;
  for (int k = 0; fs::exists(dir / ("test_data_set_" + std::to_string(k))); ++k, ++sets) {
    fs::path ds = dir / ("test_data_set_" + std::to_string(k));
    std::vector<Tensor> in;
    for (size_t i = 0; i < s.input_names().size(); ++i) in.push_back(load_tensor_pb((ds / ("input_" + std::to_string(i) + ".pb")).string()));
    auto out = s.run(in);
    for (size_t i = 0; i < out.size(); ++i) {
      fs::path want_path = ds / ("output_" + std::to_string(i) + ".pb");
      if (!fs::exists(want_path)) return "missing expected output " + want_path.string();
      Tensor want = load_tensor_pb(want_path.string());
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
  int passed = 0, refused = 0, total = 0;
  for (auto& dir : dirs) {
    const std::string name = dir.filename().string();
    if (!claimed((dir / "model.onnx").string())) continue;
    ++total;
    std::string why;
    try {
      why = run_case(dir);
    } catch (const Error& e) {
      why = std::string("refused: ") + e.what();
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
  std::printf("ONNX node tests of claimed ops: %d total, %d passed, %d refused as listed\n", total, passed, refused);
  EXPECT_GT(total, 100);
}

}  // namespace
}  // namespace normrt
