// Session behaviour: dynamic dims planned once per shape and cached, shape
// chains folded at plan time, concurrent runs, and the liveness-planned arena.
#include <gtest/gtest.h>

#include <thread>

#include "graph/onnx_import.h"
#include "runtime/plan.h"
#include "runtime/session.h"
#include "runtime/tensor_io.h"
#include "tests/test_util.h"

namespace normrt {
namespace {
using test::ModelBuilder;

// y = relu(x W + b) with a symbolic batch dim, checked against float64.
TEST(Session, DynamicBatchIsPlannedOncePerShapeAndMatchesFloat64) {
  ModelBuilder b;
  b.input("x", {-1, 5}).output("y");
  Tensor W = test::random_tensor({5, 3}, 1), B = test::random_tensor({3}, 2);
  b.init("W", W).init("B", B);
  b.node("MatMul", {"x", "W"}, {"xw"});
  b.node("Add", {"xw", "B"}, {"pre"});
  b.node("Relu", {"pre"}, {"y"});
  std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  EXPECT_EQ(s.plans_built(), 0u);  // nothing to plan until the batch is known
  for (int64_t n : {1, 7, 1, 64, 7}) {
    Tensor x = test::random_tensor({n, 5}, unsigned(n));
    auto y = s.run(std::vector<Tensor>{x});
    ASSERT_EQ(y[0].shape, (Shape{n, 3}));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < 3; ++j) {
        double acc = B.data<float>()[j];
        for (int64_t k = 0; k < 5; ++k) acc += double(x.data<float>()[i * 5 + k]) * W.data<float>()[k * 3 + j];
        EXPECT_NEAR(y[0].data<float>()[i * 3 + j], std::max(acc, 0.0), 1e-5);
      }
  }
  EXPECT_EQ(s.plans_built(), 3u);
}

// The flatten torch.onnx.export writes for x.view(x.size(0), -1).
TEST(Session, ShapeChainIsFoldedForEachBatchSize) {
  ModelBuilder b;
  b.input("x", {-1, 2, 3}).output("y");
  b.init("zero", test::int64_tensor({}, {0})).init("minus1", test::int64_tensor({1}, {-1}));
  b.node("Shape", {"x"}, {"shape"});
  b.node("Gather", {"shape", "zero"}, {"batch"});
  b.init("axes0", test::int64_tensor({1}, {0}));
  b.node("Unsqueeze", {"batch", "axes0"}, {"batch1"});
  test::set_attr(b.node("Concat", {"batch1", "minus1"}, {"target"}), "axis", int64_t(0));
  b.node("Reshape", {"x", "target"}, {"y"});
  std::string bytes = b.bytes();
  for (bool optimize : {true, false}) {
    SessionOptions o;
    o.optimize = optimize;
    Session s(bytes.data(), bytes.size(), o);
    for (int64_t n : {1, 4}) {
      Tensor x = test::random_tensor({n, 2, 3}, 3);
      auto y = s.run(std::vector<Tensor>{x});
      EXPECT_EQ(y[0].shape, (Shape{n, 6}));
      EXPECT_EQ(y[0].bytes, x.bytes);
    }
  }
}

TEST(Session, ConcurrentRunsGiveTheBitsOfALoneRun) {
  std::string base = test::fixture("models/resnet_basic");
  Session s(base + ".onnx");
  Tensor x = read_npy(base + ".input.npy");
  Tensor lone = s.run(std::vector<Tensor>{x})[0];
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < 10; ++k)
        if (s.run(std::vector<Tensor>{x})[0].bytes != lone.bytes) ++mismatches[size_t(t)];
    });
  for (auto& t : threads) t.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
  EXPECT_LE(test::max_rel_diff(lone, read_npy(base + ".output.npy")), 1e-4);
}

TEST(Plan, ArenaReusesBuffersByLiveness) {
  Graph g = load_onnx_file(test::fixture("models/resnet_basic.onnx"));
  Plan p(g, default_registry(), {ValueInfo{DType::float32, {1, 3, 64, 64}, nullptr}}, best_isa(), true);
  size_t total = 0;
  // Sum of every intermediate's size, as if nothing were reused.
  std::map<std::string, ValueInfo> info;
  for (auto& [n, t] : g.initializers) info[n] = ValueInfo{t->dtype, t->shape, t};
  info["input"] = ValueInfo{DType::float32, {1, 3, 64, 64}, nullptr};
  for (auto& n : g.nodes) {
    std::vector<const ValueInfo*> in;
    for (auto& i : n.inputs) in.push_back(i.empty() ? nullptr : &info[i]);
    auto out = infer_node(n, in, g.opset, n.name);
    for (size_t k = 0; k < out.size(); ++k) {
      info[n.outputs[k]] = out[k];
      total += size_t(shape_numel(out[k].shape)) * 4;
    }
  }
  EXPECT_GT(p.arena_bytes(), 0u);
  EXPECT_LT(p.arena_bytes() * 3, total) << "arena " << p.arena_bytes() << " of " << total;
}

}  // namespace
}  // namespace normrt
