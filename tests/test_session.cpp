// Session behaviour: dynamic dims planned once per shape and cached, shape
// chains folded at plan time, concurrent runs, and the liveness-planned arena.
#include <gtest/gtest.h>

#include <dlfcn.h>
#include <execinfo.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <random>
#include <thread>

#include "graph/onnx_import.h"
#include "kernels/dnnl_ops.h"
#include "kernels/gemm.h"
#include "runtime/plan.h"
#include "runtime/registry.h"
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
  EXPECT_EQ(s.plans_held(), 0u);  // nothing to plan until the batch is known
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
  EXPECT_EQ(s.plans_held(), 3u);
}

// With room for two plans, a third shape drops the least recently used one;
// a dropped shape is planned again when it returns, with the same answer.
TEST(Session, PlansBeyondTheLimitDropTheLeastRecentlyUsed) {
  ModelBuilder b;
  b.input("x", {-1, 4}).output("y");
  const Tensor W = test::random_tensor({4, 2}, 1);
  b.init("W", W);
  b.node("MatMul", {"x", "W"}, {"y"});
  const std::string bytes = b.bytes();
  SessionOptions o;
  o.max_plans = 2;
  Session limited(bytes.data(), bytes.size(), o), unlimited(bytes.data(), bytes.size());
  for (int64_t n : {1, 2, 1, 3, 1, 2, 2, 3}) {  // 3 drops 2 (1 was used after it); then 2 drops 3, 3 drops 1
    const Tensor x = test::random_tensor({n, 4}, unsigned(n));
    const Tensor y = limited.run(std::vector<Tensor>{x})[0];
    unlimited.run(std::vector<Tensor>{x});
    ASSERT_EQ(y.shape, (Shape{n, 2}));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        double want = 0;
        for (int64_t k = 0; k < 4; ++k) want += double(x.data<float>()[i * 4 + k]) * W.data<float>()[k * 2 + j];
        EXPECT_NEAR(y.data<float>()[i * 2 + j], want, 1e-5) << "batch " << n;
      }
    EXPECT_LE(limited.plans_held(), 2u);
  }
  EXPECT_EQ(limited.plans_held(), 2u);
  EXPECT_EQ(limited.plans_built(), 5u);  // first-in-first-out would build 6
  EXPECT_EQ(unlimited.plans_held(), 3u);
  EXPECT_EQ(unlimited.plans_built(), 3u);
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

// Graph outputs that no node computes at run time: an input passed straight
// through, a constant, and one value listed twice.
TEST(Session, OutputsThatAreInputsConstantsOrRepeated) {
  ModelBuilder b;
  b.input("x", {2, 3}).output("x").output("c").output("y").output("y");
  Tensor c = test::random_tensor({4}, 1);
  b.init("c", c);
  b.node("Relu", {"x"}, {"y"});
  std::string bytes = b.bytes();
  for (bool optimize : {true, false}) {
    SessionOptions o;
    o.optimize = optimize;
    Session s(bytes.data(), bytes.size(), o);
    Tensor x = test::random_tensor({2, 3}, 2);
    auto out = s.run(std::vector<Tensor>{x});
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0].bytes, x.bytes);
    EXPECT_EQ(out[1].bytes, c.bytes);
    for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(out[2].data<float>()[i], std::max(0.f, x.data<float>()[i]));
    EXPECT_EQ(out[3].bytes, out[2].bytes);
  }
}

// Reshape/Flatten/Squeeze/Unsqueeze run as views of their input's buffer:
// no step, and the shared buffer lives until the last reader of either name,
// whether it is a graph input, an intermediate or a graph output.
TEST(Plan, ReshapesAreViewsOfTheirInput) {
  ModelBuilder b;
  b.input("x", {2, 3, 4}).output("flat").output("r").output("sum").output("x2");
  b.init("shape6x4", test::int64_tensor({2}, {6, 4})).init("axes0", test::int64_tensor({1}, {0}));
  b.node("Reshape", {"x", "shape6x4"}, {"x2"});                 // view of a graph input, an output
  b.node("Relu", {"x"}, {"r"});                                // r is an output and is viewed below
  test::set_attr(b.node("Flatten", {"r"}, {"flat"}), "axis", int64_t(1));
  b.node("Unsqueeze", {"r", "axes0"}, {"u"});
  b.node("Squeeze", {"u", "axes0"}, {"s"});                    // view of a view
  b.node("Neg", {"r"}, {"n"});
  b.node("Add", {"s", "n"}, {"sum"});                          // reads the view after another step
  std::string bytes = b.bytes();
  for (bool optimize : {true, false}) {
    SessionOptions o;
    o.optimize = optimize;
    Session s(bytes.data(), bytes.size(), o);
    Tensor x = test::random_tensor({2, 3, 4}, 5);
    auto out = s.run(std::vector<Tensor>{x});
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0].shape, (Shape{2, 12}));
    EXPECT_EQ(out[3].shape, (Shape{6, 4}));
    EXPECT_EQ(out[3].bytes, x.bytes);
    for (int64_t i = 0; i < 24; ++i) {
      const float relu = std::max(0.f, x.data<float>()[i]);
      EXPECT_EQ(out[0].data<float>()[i], relu);
      EXPECT_EQ(out[1].data<float>()[i], relu);
      EXPECT_EQ(out[2].data<float>()[i], 0.f);
    }
  }
  Graph g = load_onnx_bytes(bytes.data(), bytes.size(), "views.onnx");
  Plan p(g, default_registry(), {ValueInfo{DType::float32, {2, 3, 4}, nullptr}}, best_isa(), false);
  std::vector<std::string> ops;
  for (auto& st : p.steps()) ops.push_back(st.node->op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"Relu", "Neg", "Add"}));
}

// A node that repeats an earlier node's work (same op and attributes, inputs
// in the same buffers or equal constants, as each attention layer of a
// PyTorch export rebuilds the one mask) is not run again; one with another
// constant, or whose output is a graph output, still is.
TEST(Plan, RepeatedWorkRunsOnce) {
  ModelBuilder b;
  b.input("x", {4, 300}).output("o1").output("o2").output("o3").output("g").output("q1").output("q2");
  b.init("two_a", test::scalar_tensor(2.f)).init("two_b", test::scalar_tensor(2.f)).init("three", test::scalar_tensor(3.f));
  b.init("axis1", test::int64_tensor({1}, {1})).init("axis2", test::int64_tensor({1}, {2}));
  b.node("Mul", {"x", "two_a"}, {"m1"});
  b.node("Mul", {"x", "two_b"}, {"m2"});   // = m1
  b.node("Mul", {"x", "three"}, {"m3"});   // another constant
  b.node("Mul", {"x", "two_a"}, {"g"});    // = m1, but a graph output
  b.node("Add", {"m1", "x"}, {"y1"});
  b.node("Add", {"m2", "x"}, {"y2"});      // = y1 once m2 is m1
  b.node("Relu", {"y1"}, {"o1"});
  b.node("Neg", {"y2"}, {"o2"});
  b.node("Relu", {"m3"}, {"o3"});
  // Views of x share its buffer but not its shape: softmax over rows of 300, and of 1.
  b.node("Unsqueeze", {"x", "axis1"}, {"u1"});
  b.node("Unsqueeze", {"x", "axis2"}, {"u2"});
  b.node("Softmax", {"u1"}, {"s1"});
  b.node("Softmax", {"u2"}, {"s2"});
  b.node("Neg", {"s1"}, {"q1"});
  b.node("Neg", {"s2"}, {"q2"});
  const std::string bytes = b.bytes();
  Graph g = load_onnx_bytes(bytes.data(), bytes.size(), "repeated.onnx");
  Plan p(g, default_registry(), {ValueInfo{DType::float32, {4, 300}, nullptr}}, best_isa(), true);
  std::vector<std::string> ops;
  for (auto& st : p.steps()) ops.push_back(st.node->op_type + " " + st.node->outputs[0]);
  EXPECT_EQ(ops, (std::vector<std::string>{"Mul m1", "Mul m3", "Mul g", "Add y1", "Relu o1", "Neg o2", "Relu o3",
                                           "Softmax s1", "Softmax s2", "Neg q1", "Neg q2"}));
  for (bool optimize : {true, false}) {
    SessionOptions o;
    o.optimize = optimize;
    Session s(bytes.data(), bytes.size(), o);
    const Tensor x = test::random_tensor({4, 300}, 21);
    auto out = s.run(std::vector<Tensor>{x});
    for (int64_t i = 0; i < 1200; ++i) {
      const double v = x.data<float>()[i];
      EXPECT_FLOAT_EQ(out[0].data<float>()[i], float(std::max(0.0, 3 * v)));
      EXPECT_FLOAT_EQ(out[1].data<float>()[i], float(-3 * v));
      EXPECT_FLOAT_EQ(out[2].data<float>()[i], float(std::max(0.0, 3 * v)));
      EXPECT_FLOAT_EQ(out[3].data<float>()[i], float(2 * v));
      EXPECT_EQ(out[5].data<float>()[i], -1.f);
    }
    for (int64_t r = 0; r < 4; ++r) {
      const float* xr = x.data<float>() + r * 300;
      double mx = *std::max_element(xr, xr + 300), sum = 0;
      for (int64_t c = 0; c < 300; ++c) sum += std::exp(double(xr[c]) - mx);
      for (int64_t c = 0; c < 300; ++c)
        EXPECT_NEAR(out[4].data<float>()[r * 300 + c], -std::exp(double(xr[c]) - mx) / sum, 1e-7);
    }
  }
}

// Two matmuls of one input whose small weights have the same shape stay
// apart once their weights are held packed only (no bytes to compare).
TEST(Session, ProductsWithReleasedWeightsOfOneShapeStayApart) {
  ModelBuilder b;
  b.input("x", {3, 8}).output("d");
  const Tensor w1 = test::random_tensor({8, 8}, 31), w2 = test::random_tensor({8, 8}, 32);
  b.init("w1", w1).init("w2", w2);
  b.node("MatMul", {"x", "w1"}, {"y1"});
  b.node("MatMul", {"x", "w2"}, {"y2"});
  b.node("Sub", {"y1", "y2"}, {"d"});
  const std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  const Tensor x = test::random_tensor({3, 8}, 33);
  const Tensor d = s.run(std::vector<Tensor>{x})[0];
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 8; ++j) {
      double want = 0;
      for (int64_t k = 0; k < 8; ++k)
        want += double(x.data<float>()[i * 8 + k]) * (double(w1.data<float>()[k * 8 + j]) - w2.data<float>()[k * 8 + j]);
      EXPECT_NEAR(d.data<float>()[i * 8 + j], want, 1e-5) << i << "," << j;
    }
}

// Copies large enough to be split over the threads (a Slice of attention's
// q/k/v, an Expand, a Transpose whose rows stay contiguous) take every row
// from where index arithmetic says, at 1, 2 and 3 threads.
TEST(Session, LargeStridedCopiesTakeEveryRowFromItsPlace) {
  ModelBuilder b(13);
  b.input("x", {3, 40, 1200}).input("row", {1, 1, 1200}).output("s").output("e").output("t");
  b.init("st", test::int64_tensor({2}, {1, 100})).init("en", test::int64_tensor({2}, {40, 1100}));
  b.init("ax", test::int64_tensor({2}, {1, 2})).init("sp", test::int64_tensor({2}, {3, 1}));
  b.init("shape", test::int64_tensor({3}, {3, 40, 1200}));
  b.node("Slice", {"x", "st", "en", "ax", "sp"}, {"s"});  // rows 1, 4, ..., 37; columns 100..1099
  b.node("Expand", {"row", "shape"}, {"e"});
  test::set_attr(b.node("Transpose", {"x"}, {"t"}), "perm", std::vector<int64_t>{1, 0, 2});
  const std::string bytes = b.bytes();
  const Tensor x = test::random_tensor({3, 40, 1200}, 11), row = test::random_tensor({1, 1, 1200}, 12);
  const float* xv = x.data<float>();
  for (int threads : {1, 2, 3}) {
    SessionOptions o;
    o.threads = threads;
    Session s(bytes.data(), bytes.size(), o);
    auto out = s.run(std::vector<Tensor>{x, row});
    ASSERT_EQ(out[0].shape, (Shape{3, 13, 1000}));
    ASSERT_EQ(out[1].shape, (Shape{3, 40, 1200}));
    ASSERT_EQ(out[2].shape, (Shape{40, 3, 1200}));
    size_t misses = 0;
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t r = 0; r < 13; ++r)
        for (int64_t c = 0; c < 1000; ++c)
          misses += out[0].data<float>()[(i * 13 + r) * 1000 + c] != xv[(i * 40 + 1 + 3 * r) * 1200 + 100 + c];
    for (int64_t i = 0; i < 3 * 40 * 1200; ++i) misses += out[1].data<float>()[i] != row.data<float>()[i % 1200];
    for (int64_t r = 0; r < 40; ++r)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t c = 0; c < 1200; ++c)
          misses += out[2].data<float>()[(r * 3 + i) * 1200 + c] != xv[(i * 40 + r) * 1200 + c];
    EXPECT_EQ(misses, 0u) << threads << " threads";
  }
}

// Pad against per-element index arithmetic: every mode, negative pads that
// crop, pads over chosen axes (opset 18), a constant value given at run
// time, int64 data, and opset 2's attributes.
TEST(Session, PadTakesEveryElementFromItsPlace) {
  const Shape x_shape{3, 4, 5};
  const Tensor x = test::random_tensor(x_shape, 31);
  // Element of x for output index `o` (or nullopt for the constant), numpy's way.
  auto want = [&](const Shape& o, const Shape& begin, const std::string& mode) -> std::optional<int64_t> {
    int64_t off = 0;
    for (size_t d = 0; d < o.size(); ++d) {
      int64_t i = o[d] - begin[d];
      const int64_t n = x_shape[d];
      if (i < 0 || i >= n) {
        if (mode == "constant") return std::nullopt;
        i = mode == "edge" ? std::clamp<int64_t>(i, 0, n - 1) : i < 0 ? -i : 2 * (n - 1) - i;
      }
      off = off * n + i;
    }
    return off;
  };
  struct Case {
    int opset;
    std::string mode;
    std::vector<int64_t> pads, axes;
    Shape begin, out;
  };
  const Case cases[] = {
      {13, "constant", {-1, 0, 2, 0, 1, 3}, {}, {-1, 0, 2}, {2, 5, 10}},
      {13, "reflect", {0, 3, 4, 0, 2, 1}, {}, {0, 3, 4}, {3, 9, 10}},
      {13, "edge", {2, 0, 3, 1, 5, 0}, {}, {2, 0, 3}, {6, 9, 8}},
      {18, "reflect", {2, 1, 3, 2}, {-1, 1}, {0, 1, 2}, {3, 7, 10}},
      {2, "constant", {0, 1, 1, 0, 2, -2}, {}, {0, 1, 1}, {3, 7, 4}},
  };
  for (const Case& c : cases) {
    ModelBuilder b(c.opset);
    b.input("x", x_shape);
    if (c.opset >= 11) b.input("v", {});
    b.output("y");
    std::vector<std::string> ins{"x"};
    if (c.opset >= 11) {
      b.init("pads", test::int64_tensor({int64_t(c.pads.size())}, c.pads));
      ins = {"x", "pads", "v"};
      if (!c.axes.empty()) {
        b.init("axes", test::int64_tensor({int64_t(c.axes.size())}, c.axes));
        ins.push_back("axes");
      }
    }
    auto& n = b.node("Pad", ins, {"y"});
    test::set_attr(n, "mode", c.mode);
    if (c.opset < 11) {
      test::set_attr(n, "pads", c.pads);
      test::set_attr(n, "value", 2.5f);
    }
    const std::string bytes = b.bytes();
    Session s(bytes.data(), bytes.size());
    const float value = c.opset < 11 ? 2.5f : -7.f;
    auto out = c.opset < 11 ? s.run(std::vector<Tensor>{x}) : s.run(std::vector<Tensor>{x, test::scalar_tensor(-7.f)});
    ASSERT_EQ(out[0].shape, c.out) << c.mode << " opset " << c.opset;
    size_t misses = 0;
    Shape o(3);
    for (o[0] = 0; o[0] < c.out[0]; ++o[0])
      for (o[1] = 0; o[1] < c.out[1]; ++o[1])
        for (o[2] = 0; o[2] < c.out[2]; ++o[2]) {
          const auto from = want(o, c.begin, c.mode);
          const float expect = from ? x.data<float>()[*from] : value;
          misses += out[0].data<float>()[(o[0] * c.out[1] + o[1]) * c.out[2] + o[2]] != expect;
        }
    EXPECT_EQ(misses, 0u) << c.mode << " opset " << c.opset;
  }
  // int64 data, constant 0 when no value is given.
  ModelBuilder b(13);
  b.input("i", {2, 3}, onnx::TensorProto::INT64).output("y", onnx::TensorProto::INT64);
  b.init("pads", test::int64_tensor({4}, {1, 0, 0, 2}));
  b.node("Pad", {"i", "pads"}, {"y"});
  const std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  auto out = s.run(std::vector<Tensor>{test::int64_tensor({2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(out[0].shape, (Shape{3, 5}));
  EXPECT_EQ(out[0].as_int64(), (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0}));
}

// The reductions against float64, over two of three axes: values large
// enough that a plain exp overflows, a NaN in one reduction, and empty
// reductions giving each op's identity; ArgMax/ArgMin with ties both ways.
TEST(Session, ReductionsAndArgExtremesMatchFloat64) {
  const Shape shape{3, 4, 5};
  Tensor x = test::random_tensor(shape, 41, -3, 3);
  float* xv = x.data<float>();
  for (int64_t k = 0; k < 5; ++k) xv[20 + k] = 800.f + float(k);  // row (1, 0, *): exp(800) overflows even a double
  xv[45] = std::numeric_limits<float>::quiet_NaN();                // in reduction 2 (axes 0, 1 reduce; keep axis 2 == 0)
  const char* ops[] = {"ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"};
  for (const char* op : ops) {
    ModelBuilder b(13);
    b.input("x", shape).output("y");
    test::set_attr(b.node(op, {"x"}, {"y"}), "axes", std::vector<int64_t>{0, 1});
    const std::string bytes = b.bytes();
    Session s(bytes.data(), bytes.size());
    Tensor in = x;
    if (std::string(op) == "ReduceLogSum")
      for (int64_t i = 0; i < in.numel(); ++i) in.data<float>()[i] = std::fabs(in.data<float>()[i]) + 0.1f;
    auto out = s.run(std::vector<Tensor>{in});
    ASSERT_EQ(out[0].shape, (Shape{1, 1, 5})) << op;
    for (int64_t k = 0; k < 5; ++k) {
      double acc = std::string(op) == "ReduceProd" ? 1 : 0, mx = -INFINITY;
      for (int64_t i = 0; i < 12; ++i) mx = std::max(mx, double(in.data<float>()[i * 5 + k]));
      for (int64_t i = 0; i < 12; ++i) {
        const double v = in.data<float>()[i * 5 + k];
        const std::string o = op;
        if (o == "ReduceProd") acc *= v;
        else if (o == "ReduceL1") acc += std::fabs(v);
        else if (o == "ReduceL2" || o == "ReduceSumSquare") acc += v * v;
        else if (o == "ReduceLogSum") acc += v;
        else acc += std::exp(v - mx);
      }
      const std::string o = op;
      const double want = o == "ReduceL2" ? std::sqrt(acc) : o == "ReduceLogSum" ? std::log(acc)
                          : o == "ReduceLogSumExp" ? mx + std::log(acc) : acc;
      const float got = out[0].data<float>()[k];
      if (k == 0) {  // the NaN (kept by LogSum's |x| + 0.1 too)
        EXPECT_TRUE(std::isnan(got)) << op << " lost the NaN: " << got;
        continue;
      }
      EXPECT_NEAR(got, want, 1e-5 * std::fabs(want) + 1e-6) << op << " column " << k;
    }
    // An empty reduction is the op's identity.
    ModelBuilder e(13);
    e.input("x", {2, 0, 3}).output("y");
    test::set_attr(e.node(op, {"x"}, {"y"}), "axes", std::vector<int64_t>{1});
    const std::string ebytes = e.bytes();
    Session es(ebytes.data(), ebytes.size());
    auto eout = es.run(std::vector<Tensor>{Tensor(DType::float32, {2, 0, 3})});
    const std::string o = op;
    const float identity = o == "ReduceProd" ? 1.f : o == "ReduceLogSum" || o == "ReduceLogSumExp" ? -INFINITY : 0.f;
    ASSERT_EQ(eout[0].shape, (Shape{2, 1, 3})) << op;
    for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(eout[0].data<float>()[i], identity) << op << " empty";
  }
  // ArgMax / ArgMin along axis 1 of [2, 4]: ties go to the first index, or
  // the last with select_last_index; a NaN is the extreme both ways.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor v = test::float_tensor({2, 4}, {1, 5, 5, -2, 3, nan, 9, -2});
  for (const char* op : {"ArgMax", "ArgMin"})
    for (int64_t last : {0, 1}) {
      ModelBuilder b(13);
      b.input("x", {2, 4}).output("y", onnx::TensorProto::INT64);
      auto& n = b.node(op, {"x"}, {"y"});
      test::set_attr(n, "axis", int64_t(1));
      test::set_attr(n, "keepdims", int64_t(0));
      test::set_attr(n, "select_last_index", last);
      const std::string bytes = b.bytes();
      Session s(bytes.data(), bytes.size());
      auto out = s.run(std::vector<Tensor>{v});
      ASSERT_EQ(out[0].shape, (Shape{2}));
      const bool max = std::string(op) == "ArgMax";
      const std::vector<int64_t> want = {max ? (last ? 2 : 1) : 3, 1};
      EXPECT_EQ(out[0].as_int64(), want) << op << " select_last_index " << last;
    }
}

// CumSum against float64 running sums, every combination of exclusive and
// reverse, along each axis (given at run time, negative too); int64 as well.
TEST(Session, CumSumMatchesRunningSums) {
  const Tensor x = test::random_tensor({3, 5}, 51, -2, 2);
  for (int64_t axis : {0, 1, -1})
    for (int64_t exclusive : {0, 1})
      for (int64_t reverse : {0, 1}) {
        ModelBuilder b(13);
        b.input("x", {3, 5}).input("axis", {}, onnx::TensorProto::INT64).output("y");
        auto& n = b.node("CumSum", {"x", "axis"}, {"y"});
        test::set_attr(n, "exclusive", exclusive);
        test::set_attr(n, "reverse", reverse);
        const std::string bytes = b.bytes();
        Session s(bytes.data(), bytes.size());
        auto out = s.run(std::vector<Tensor>{x, test::int64_tensor({}, {axis})});
        const int64_t ax = axis < 0 ? axis + 2 : axis, n_ax = ax == 0 ? 3 : 5;
        for (int64_t i = 0; i < 3; ++i)
          for (int64_t j = 0; j < 5; ++j) {
            const int64_t pos = ax == 0 ? i : j;
            double want = 0;
            for (int64_t k = 0; k < n_ax; ++k) {
              const bool before = reverse ? k > pos : k < pos;
              if (before || (!exclusive && k == pos)) want += x.data<float>()[ax == 0 ? k * 5 + j : i * 5 + k];
            }
            EXPECT_NEAR(out[0].data<float>()[i * 5 + j], want, 1e-6)
                << "axis " << axis << " exclusive " << exclusive << " reverse " << reverse << " at " << i << "," << j;
          }
      }
  ModelBuilder b(13);
  b.input("x", {4}, onnx::TensorProto::INT64).output("y", onnx::TensorProto::INT64);
  b.init("axis", test::int64_tensor({}, {0}));
  b.node("CumSum", {"x", "axis"}, {"y"});
  const std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  auto out = s.run(std::vector<Tensor>{test::int64_tensor({4}, {1, 0, 3, -2})});
  EXPECT_EQ(out[0].as_int64(), (std::vector<int64_t>{1, 1, 4, 2}));
}

// Integer Mod takes the divisor's sign (Python's %), or the dividend's with
// fmod = 1; a zero divisor and the most negative value over -1 give 0
// rather than undefined behaviour.
TEST(Session, IntegerModFollowsTheSignRuleWithoutOverflow) {
  const int64_t lowest = std::numeric_limits<int64_t>::min();
  for (int64_t c_style : {0, 1}) {
    ModelBuilder b(13);
    b.input("a", {5}, onnx::TensorProto::INT64).input("b", {5}, onnx::TensorProto::INT64);
    b.output("y", onnx::TensorProto::INT64);
    test::set_attr(b.node("Mod", {"a", "b"}, {"y"}), "fmod", c_style);
    const std::string bytes = b.bytes();
    Session s(bytes.data(), bytes.size());
    auto out = s.run(std::vector<Tensor>{test::int64_tensor({5}, {7, -7, 7, lowest, 5}),
                                         test::int64_tensor({5}, {-3, 3, 3, -1, 0})});
    const std::vector<int64_t> want = c_style ? std::vector<int64_t>{1, -1, 1, 0, 0} : std::vector<int64_t>{-2, 2, 1, 0, 0};
    EXPECT_EQ(out[0].as_int64(), want) << "fmod " << c_style;
  }
}

// TopK: ties go to the lower index and NaN ranks above every number (as
// PyTorch's topk), both ways; a Scatter index out of range is an error naming
// the node, and the run's output is not half-written into the caller's.
TEST(Session, TopKOrdersTiesAndNaNAndScatterChecksItsIndices) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t largest : {1, 0}) {
    ModelBuilder b(13);
    b.input("x", {6}).output("v").output("i", onnx::TensorProto::INT64);
    b.init("k", test::int64_tensor({1}, {4}));
    test::set_attr(b.node("TopK", {"x", "k"}, {"v", "i"}), "largest", largest);
    const std::string bytes = b.bytes();
    Session s(bytes.data(), bytes.size());
    auto out = s.run(std::vector<Tensor>{test::float_tensor({6}, {2, nan, 5, 2, -1, 5})});
    const std::vector<int64_t> want = largest ? std::vector<int64_t>{1, 2, 5, 0} : std::vector<int64_t>{4, 0, 3, 2};
    EXPECT_EQ(out[1].as_int64(), want) << "largest " << largest;
    for (int64_t r = 0; r < 4; ++r) {
      const float got = out[0].data<float>()[r], expect = test::float_tensor({6}, {2, nan, 5, 2, -1, 5}).data<float>()[want[size_t(r)]];
      EXPECT_TRUE(got == expect || (std::isnan(got) && std::isnan(expect))) << r;
    }
  }
  ModelBuilder b(13);
  b.input("x", {4}).input("i", {2, 1}, onnx::TensorProto::INT64).output("y");
  b.init("u", test::float_tensor({2}, {7, 8}));
  b.node("ScatterND", {"x", "i", "u"}, {"y"}, "put");
  const std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  auto ok = s.run(std::vector<Tensor>{test::float_tensor({4}, {1, 2, 3, 4}), test::int64_tensor({2, 1}, {-1, 1})});
  EXPECT_EQ(std::vector<float>(ok[0].data<float>(), ok[0].data<float>() + 4), (std::vector<float>{1, 8, 3, 7}));
  const std::string error = test::error_of([&] {
    s.run(std::vector<Tensor>{test::float_tensor({4}, {1, 2, 3, 4}), test::int64_tensor({2, 1}, {0, 4})});
  });
  EXPECT_NE(error.find("ScatterND 'put': index 4 is out of range for a dim of 4"), std::string::npos)
      << "an index of 4 into a dim of 4 ran: " << error;
}

// Found by an independent review: integer scatter reductions wrap rather
// than overflow (UBSan would stop here otherwise), indices may outnumber the
// data along the axis (what scatter_add exports), a rank-0 Pad copies its
// input, and ArgMax with select_last_index takes the last NaN.
TEST(Session, ScatterWrapsAndTakesManyIndicesPadOfAScalarArgMaxLastNaN) {
  ModelBuilder b(16);
  b.input("x", {3}, onnx::TensorProto::INT64).input("i", {5}, onnx::TensorProto::INT64);
  b.input("u", {5}, onnx::TensorProto::INT64).output("y", onnx::TensorProto::INT64);
  test::set_attr(b.node("ScatterElements", {"x", "i", "u"}, {"y"}), "reduction", std::string("add"));
  const std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  const int64_t top = std::numeric_limits<int64_t>::max();
  auto out = s.run(std::vector<Tensor>{test::int64_tensor({3}, {top, 0, 5}), test::int64_tensor({5}, {0, 1, 0, 2, 1}),
                                       test::int64_tensor({5}, {1, 2, 3, 4, 5})});
  EXPECT_EQ(out[0].as_int64(), (std::vector<int64_t>{std::numeric_limits<int64_t>::min() + 3, 7, 9}));

  ModelBuilder p(13);
  p.input("x", {}).output("y");
  p.init("pads", Tensor(DType::int64, {0}));
  p.node("Pad", {"x", "pads"}, {"y"});
  const std::string pbytes = p.bytes();
  Session ps(pbytes.data(), pbytes.size());
  EXPECT_EQ(ps.run(std::vector<Tensor>{test::scalar_tensor(2.5f)})[0].data<float>()[0], 2.5f);

  const float nan = std::numeric_limits<float>::quiet_NaN();
  ModelBuilder a(13);
  a.input("x", {5}).output("y", onnx::TensorProto::INT64);
  test::set_attr(a.node("ArgMax", {"x"}, {"y"}), "select_last_index", int64_t(1));
  const std::string abytes = a.bytes();
  Session as(abytes.data(), abytes.size());
  EXPECT_EQ(as.run(std::vector<Tensor>{test::float_tensor({5}, {1, nan, 9, nan, 2})})[0].as_int64(),
            (std::vector<int64_t>{3}));
}

// A matmul weight read only by its product is held packed only once the
// session loads: the graph keeps its shape with no bytes, runs still match
// float64 at every row count, and planning that graph without the session's
// weight cache is an error naming the node rather than a read of nothing.
TEST(Session, MatMulWeightsAreHeldPackedOnly) {
  const int64_t K = 24, N = 40;
  Tensor w = test::random_tensor({K, N}, 21);
  ModelBuilder b;
  b.input("x", {-1, K}).output("y");
  b.init("w", w);
  b.node("MatMul", {"x", "w"}, {"y"});
  const std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  const auto& held = s.graph().initializers.at("w");
  EXPECT_EQ(held->shape, (Shape{K, N}));
  EXPECT_TRUE(held->bytes.empty());
  for (int64_t M : {1, 5, 64}) {
    Tensor x = test::random_tensor({M, K}, unsigned(M));
    auto out = s.run(std::vector<Tensor>{x});
    double worst = 0;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double want = 0;
        for (int64_t k = 0; k < K; ++k) want += double(x.data<float>()[i * K + k]) * w.data<float>()[k * N + j];
        worst = std::max(worst, std::abs(out[0].data<float>()[i * N + j] - want));
      }
    EXPECT_LE(worst, 1e-5) << "M " << M;
  }
  const std::string error = test::error_of([&] {
    Plan p(s.graph(), default_registry(), {ValueInfo{DType::float32, {3, K}, nullptr}}, best_isa(), false);
  });
  EXPECT_NE(error.find("held packed only"), std::string::npos)
      << "planned a released weight without its cache: " << error;
}

// Whether oneDNN packs a product's weights in the panels gemv and gemm read
// on this machine (AVX-512: yes; elsewhere the products stay on oneDNN).
bool products_run_on_panels() {
  auto w = std::make_shared<Tensor>(test::random_tensor({40, 24}, 1));
  kernels::MatMulDesc d;
  d.a_dims = {1, 40};
  d.b_dims = {40, 24};
  return kernels::MatMul(d, {w->data<float>(), nullptr, w}, nullptr).panels() != nullptr;
}

// Whether a session's products of several rows run on gemm here (at the ISA
// sessions choose by default, NORMRT_ISA included).
bool products_run_on_gemm() { return products_run_on_panels() && kernels::gemm_chosen(resolve_isa("auto")); }

// Products with a constant B run as normrt's gemv (one row) or gemm (more
// rows) on the panels oneDNN packed (where it packs that layout): MatMul +
// bias + Relu fused, with A of rank 1 (one row), 2 and 3; Gemm with transB,
// with and without alpha and beta; a weight read through a Transpose that
// swaps its dims and one that keeps them (folded into the product's perm_b
// when fold_constants is off). Each against float64, at 1 and 2 threads,
// with the rewrites on, off, and without fold_constants.
TEST(Session, PanelProductsRunAsGemvOrGemmAndMatchFloat64) {
  const int64_t K = 300, N = 130;
  Tensor w = test::random_tensor({K, N}, 31), wt = test::random_tensor({N, K}, 32), bias = test::random_tensor({N}, 33);
  for (int64_t M : {1, 7}) {
    const bool packed_as_panels = M == 1 ? products_run_on_panels() : products_run_on_gemm();
    const std::vector<Shape> a_shapes = M == 1 ? std::vector<Shape>{{K}, {1, K}, {1, 1, K}}
                                               : std::vector<Shape>{{M, K}, {1, M, K}};
    const char* kernel = M == 1 ? "normrt gemv" : "normrt gemm";
    for (const Shape& a_shape : a_shapes) {
      ModelBuilder b;
      b.input("x", a_shape).output("y").output("g").output("h").output("t").output("u");
      b.init("w", w).init("wt", wt).init("bias", bias).init("two_d", test::int64_tensor({2}, {M, K}));
      b.node("MatMul", {"x", "w"}, {"m"});
      b.node("Add", {"m", "bias"}, {"s"});
      b.node("Relu", {"s"}, {"y"});
      b.node("Reshape", {"x", "two_d"}, {"x2"});
      auto& scaled = b.node("Gemm", {"x2", "wt", "bias"}, {"g"});
      test::set_attr(scaled, "transB", int64_t(1));
      test::set_attr(scaled, "alpha", 0.5f);
      test::set_attr(scaled, "beta", 2.f);
      test::set_attr(b.node("Gemm", {"x2", "wt", "bias"}, {"h"}), "transB", int64_t(1));
      test::set_attr(b.node("Transpose", {"wt"}, {"wtt"}), "perm", std::vector<int64_t>{1, 0});
      b.node("MatMul", {"x2", "wtt"}, {"t"});
      test::set_attr(b.node("Transpose", {"w"}, {"w_same"}), "perm", std::vector<int64_t>{0, 1});
      b.node("MatMul", {"x2", "w_same"}, {"u"});
      const std::string bytes = b.bytes();
      Tensor x = test::random_tensor(a_shape, 34, -2, 2);
      const float* xv = x.data<float>();
      std::vector<std::vector<double>> want(5, std::vector<double>(static_cast<size_t>(M * N)));
      for (int64_t r = 0; r < M; ++r)
        for (int64_t n = 0; n < N; ++n) {
          double m = 0, mt = 0;
          for (int64_t k = 0; k < K; ++k) {
            m += double(xv[r * K + k]) * w.data<float>()[k * N + n];
            mt += double(xv[r * K + k]) * wt.data<float>()[n * K + k];
          }
          const double c = bias.data<float>()[n];
          for (auto [i, v] : {std::pair{0, std::max(m + c, 0.0)}, {1, 0.5 * mt + 2.0 * c}, {2, mt + c}, {3, mt}, {4, m}})
            want[size_t(i)][size_t(r * N + n)] = v;
        }
      for (int config = 0; config < 3; ++config)
        for (int threads : {1, 2}) {
          SessionOptions o;
          o.optimize = config != 1;
          if (config == 2) o.disabled_passes = {"fold_constants"};
          o.threads = threads;
          Session s(bytes.data(), bytes.size(), o);
          auto out = s.run(std::vector<Tensor>{x});
          const std::string what = "rows " + std::to_string(M) + " rank " + std::to_string(a_shape.size()) +
                                   " config " + std::to_string(config) + " threads " + std::to_string(threads);
          ASSERT_EQ(out.size(), 5u) << what;
          for (size_t i = 0; i < 5; ++i) {
            ASSERT_EQ(out[i].numel(), M * N) << what << " output " << i;
            for (int64_t e = 0; e < M * N; ++e)
              ASSERT_NEAR(out[i].data<float>()[e], want[i][size_t(e)], 1e-5 * (1 + std::abs(want[i][size_t(e)])))
                  << what << " output " << i << " [" << e << "]";
          }
          int on_panels = 0, products = 0;
          std::string ran;
          for (auto& st : s.profile(std::vector<Tensor>{x}, 1)) {
            if (st.op.find("MatMul") == std::string::npos && st.op != "Gemm") continue;
            ++products;
            on_panels += st.implementation.find(kernel) != std::string::npos;
            ran += " " + st.op + ":" + st.implementation;
          }
          EXPECT_EQ(products, 5) << what << ran;
          // (Without the rewrites, the Transposes run as steps: their products' B is not a weight.)
          EXPECT_EQ(on_panels, !packed_as_panels ? 0 : config == 1 ? 3 : 5) << what << ran;
        }
    }
  }
}

// Every value of the 16-bit float `t` widens to itself and narrows back
// (NaN to NaN); each probe narrows to the nearest value, as a search over
// all of them finds (test::nearest_narrow).
void check_narrow_conversions(DType t, float (*widen)(uint16_t), uint16_t (*narrow)(float),
                              const std::vector<float>& probes) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = widen(uint16_t(h));
    if (std::isnan(f)) EXPECT_TRUE(std::isnan(widen(narrow(f)))) << h;
    else EXPECT_EQ(narrow(f), uint16_t(h)) << h;
  }
  for (float f : probes) EXPECT_EQ(narrow(f), test::nearest_narrow(t, f)) << f;
}

// float16 <-> float32 against an independent search: every float16 value
// widens to itself and narrows back; floats narrow to the nearest float16
// (ties to the even one, past 65504 + half an ulp to infinity, NaN to NaN).
TEST(Float16, ConversionsRoundToTheNearestEvenAsASearchDoes) {
  ASSERT_EQ(test::nearest_narrow(DType::float16, 65504.f), 0x7bff);  // the largest finite float16
  std::mt19937 rng(5);
  std::vector<float> probes = {65519.99f, 65520.f, 65504.f, 1e-8f, 2.9802322e-8f, 5.9604645e-8f, 6.1035156e-5f,
                               6.1e-5f, -3.0f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 2049.f, 2051.f};
  for (int i = 0; i < 200000; ++i) {
    uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isnan(f) || std::fabs(f) > 1e6f || std::fabs(f) < 1e-9f) f = std::ldexp(float(rng() % 4096) - 2048, int(rng() % 44) - 30);
    probes.push_back(f);
  }
  check_narrow_conversions(DType::float16, half_to_float, float_to_half, probes);
}

// The error of running a model whose output 'y' is declared `narrow` but
// computed as bool (Equal of a float32 input with itself).
std::string narrow_output_computed_as_bool(DType narrow) {
  ModelBuilder bad;
  bad.input("a", {3}).output("y", int(narrow));
  bad.node("Equal", {"a", "a"}, {"y"});
  const std::string bytes = bad.bytes();
  Session s(bytes.data(), bytes.size());
  return test::error_of([&] { s.run(std::vector<Tensor>{test::random_tensor({3}, 1)}); });
}

// A model declaring float16 meets its caller in float16: inputs given as
// float16 (or float32, rounded first), outputs float16; inside, float16
// weights are float32 and a Cast to float16 rounds to its precision.
TEST(Float16, ModelsTakeAndGiveFloat16AndCastsRound) {
  ModelBuilder b;
  b.input("x", {4}, 10).input("f", {3}).output("y", 10).output("r");
  Tensor two(DType::float16, {1});
  two.data<uint16_t>()[0] = float_to_half(2.5f);
  b.init("two", two);
  b.node("Mul", {"x", "two"}, {"y"});
  test::set_attr(b.node("Cast", {"f"}, {"h"}), "to", int64_t(10));
  test::set_attr(b.node("Cast", {"h"}, {"r"}), "to", int64_t(1));
  const std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  const float xs[] = {1.f, -0.333251953125f, 1000.f, 30000.f};  // 30000 * 2.5 overflows float16
  Tensor x16(DType::float16, {4});
  for (int i = 0; i < 4; ++i) x16.data<uint16_t>()[i] = float_to_half(xs[i]);
  Tensor f = test::float_tensor({3}, {1.0001f, 70000.f, 1e-8f});
  for (bool given_half : {true, false}) {
    Tensor x = given_half ? x16 : test::float_tensor({4}, {1.f, -0.3332519f, 1000.f, 30000.f});
    auto out = s.run(std::vector<Tensor>{x, f});
    ASSERT_EQ(out[0].dtype, DType::float16);
    ASSERT_EQ(out[1].dtype, DType::float32);
    const float want_y[] = {2.5f, -0.8330078125f, 2500.f, INFINITY};  // -0.83312988 rounded
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(half_to_float(out[0].data<uint16_t>()[i]), want_y[i]) << i << " given float16 " << given_half;
    EXPECT_EQ(out[1].data<float>()[0], 1.f);  // 1.0001 is 1 in float16
    EXPECT_EQ(out[1].data<float>()[1], INFINITY);
    EXPECT_EQ(out[1].data<float>()[2], 0.f);
  }
  const std::string e = test::error_of([&] { s.run(std::vector<Tensor>{test::int64_tensor({4}, {1, 2, 3, 4}), f}); });
  EXPECT_NE(e.find("input 'x': has type int64, the model expects float16"), std::string::npos) << e;
  Tensor short_x = x16;
  short_x.bytes.resize(6);
  const std::string e2 = test::error_of([&] { s.run(std::vector<Tensor>{short_x, f}); });
  EXPECT_NE(e2.find("input 'x': holds fewer bytes than its shape needs"), std::string::npos) << e2;
  // An output declared float16 that the graph computes as bool is an error, not a misread.
  const std::string e3 = narrow_output_computed_as_bool(DType::float16);
  EXPECT_NE(e3.find("output 'y' is declared float16, but the graph computes it as bool"), std::string::npos) << e3;
}

// bfloat16 <-> float32 against an independent search, as for float16: every
// bfloat16 value widens to itself and narrows back; floats narrow to the
// nearest bfloat16 (ties to the even one, from the largest finite value plus
// half an ulp to infinity, NaN to NaN).
TEST(BFloat16, ConversionsRoundToTheNearestEvenAsASearchDoes) {
  std::mt19937 rng(6);
  std::vector<float> probes = {3.3895314e38f, 3.3961776e38f, 3.40e38f, INFINITY, -INFINITY, 1.0f + 1.0f / 256,
                               1.0f + 3.0f / 256, 1e-40f, 1.0e-45f, -2.5f, 0.48033667f};
  for (int i = 0; i < 200000; ++i) {
    uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isnan(f)) continue;
    probes.push_back(f);
  }
  check_narrow_conversions(DType::bfloat16, bfloat16_to_float, float_to_bfloat16, probes);
  // Rounding through bfloat16 as float32 is the same value.
  for (float f : probes)
    EXPECT_EQ(rounded_to(DType::bfloat16, f), bfloat16_to_float(test::nearest_narrow(DType::bfloat16, f))) << f;
}

// A model declaring bfloat16 meets its caller in bfloat16, as float16 does:
// inputs given as bfloat16 (or float32, rounded first), outputs bfloat16;
// inside, bfloat16 weights are float32 and a Cast to bfloat16 rounds.
TEST(BFloat16, ModelsTakeAndGiveBFloat16AndCastsRound) {
  ModelBuilder b;
  b.input("x", {3}, 16).input("f", {3}).output("y", 16).output("r");
  Tensor three(DType::bfloat16, {1});
  three.data<uint16_t>()[0] = float_to_bfloat16(3.f);
  b.init("three", three);
  b.node("Mul", {"x", "three"}, {"y"});
  test::set_attr(b.node("Cast", {"f"}, {"h"}), "to", int64_t(16));
  test::set_attr(b.node("Cast", {"h"}, {"r"}), "to", int64_t(1));
  const std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  Tensor x16(DType::bfloat16, {3});
  const float xs[] = {1.5f, -0.33203125f, 3e38f};  // exact bfloat16 values but the last; 3e38 * 3 overflows
  for (int i = 0; i < 3; ++i) x16.data<uint16_t>()[i] = float_to_bfloat16(xs[i]);
  Tensor f = test::float_tensor({3}, {1.001f, 1.0f + 3.0f / 256, 3.3961776e38f});
  for (bool given_narrow : {true, false}) {
    // Given as float32, 1.5 and -0.332 (-0.33203125 after rounding) are as above.
    Tensor x = given_narrow ? x16 : test::float_tensor({3}, {1.5f, -0.3321f, 3e38f});
    auto out = s.run(std::vector<Tensor>{x, f});
    ASSERT_EQ(out[0].dtype, DType::bfloat16);
    ASSERT_EQ(out[1].dtype, DType::float32);
    // 1.5 * 3 = 4.5; -0.33203125 * 3 = -0.99609375 (exact in bfloat16); the last overflows.
    const float want_y[] = {4.5f, -0.99609375f, INFINITY};
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(bfloat16_to_float(out[0].data<uint16_t>()[i]), want_y[i]) << i << " given bfloat16 " << given_narrow;
    EXPECT_EQ(out[1].data<float>()[0], 1.f);                 // 1.001 is 1 in bfloat16
    EXPECT_EQ(out[1].data<float>()[1], 1.0f + 4.0f / 256);  // a tie, to the even neighbour
    EXPECT_EQ(out[1].data<float>()[2], INFINITY);           // past the largest plus half an ulp
  }
  const std::string e = test::error_of([&] { s.run(std::vector<Tensor>{test::float_tensor({3}, {1, 2, 3}), x16}); });
  EXPECT_NE(e.find("input 'f': has type bfloat16, the model expects float32"), std::string::npos) << e;
  Tensor half(DType::float16, {3});
  const std::string e2 = test::error_of([&] { s.run(std::vector<Tensor>{half, f}); });
  EXPECT_NE(e2.find("input 'x': has type float16, the model expects bfloat16"), std::string::npos) << e2;
  const std::string e3 = narrow_output_computed_as_bool(DType::bfloat16);
  EXPECT_NE(e3.find("output 'y' is declared bfloat16, but the graph computes it as bool"), std::string::npos) << e3;
}

// A CastLike to a 16-bit float rounds mid-graph as a Cast does, where the
// proto says its target's type: a float16 initializer, a bfloat16 input.
TEST(BFloat16, CastLikeToANarrowTypeRounds) {
  ModelBuilder b(15);
  b.input("x", {3}).input("like_b", {1}, 16).output("yh").output("yb");
  Tensor like_h(DType::float16, {1});
  like_h.data<uint16_t>()[0] = float_to_half(1.f);
  b.init("like_h", like_h);
  b.node("CastLike", {"x", "like_h"}, {"h"});
  test::set_attr(b.node("Cast", {"h"}, {"yh"}), "to", int64_t(1));
  b.node("CastLike", {"x", "like_b"}, {"c"});
  test::set_attr(b.node("Cast", {"c"}, {"yb"}), "to", int64_t(1));
  const std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  Tensor like_b(DType::bfloat16, {1});
  Tensor x = test::float_tensor({3}, {1.0001f, 1.0f + 3.0f / 256, 70000.f});
  auto out = s.run(std::vector<Tensor>{x, like_b});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(out[0].data<float>()[i], half_to_float(float_to_half(x.data<float>()[i]))) << i;
    EXPECT_EQ(out[1].data<float>()[i], bfloat16_to_float(float_to_bfloat16(x.data<float>()[i]))) << i;
  }
  EXPECT_EQ(out[0].data<float>()[2], INFINITY);  // past float16's range
}

// SessionOptions::bf16_matmuls: products with a constant B multiply the
// operands rounded to bfloat16 and sum in float32, so on a CPU with bfloat16
// products the result is a float64 sum of the rounded operands (within
// float32 summation error), not of the exact ones; elsewhere it is ignored
// and the product is float32's.
TEST(BFloat16, Bf16MatmulsMultiplyRoundedOperands) {
  const int64_t M = 5, K = 96, N = 40;
  ModelBuilder b;
  b.input("x", {M, K}).output("y").output("z");
  Tensor w = test::random_tensor({K, N}, 31), wt = test::random_tensor({N, K}, 32);
  b.init("w", w).init("wt", wt);
  b.node("MatMul", {"x", "w"}, {"y"});
  test::set_attr(b.node("Gemm", {"x", "wt"}, {"z"}), "transB", int64_t(1));
  const std::string bytes = b.bytes();
  SessionOptions o;
  o.bf16_matmuls = true;
  Session s(bytes.data(), bytes.size(), o);
  EXPECT_EQ(s.bf16_matmuls(), kernels::bf16_matmul_supported());
  Tensor x = test::random_tensor({M, K}, 33);
  auto out = s.run(std::vector<Tensor>{x});
  auto rounded = [&](float v) { return s.bf16_matmuls() ? double(rounded_to(DType::bfloat16, v)) : double(v); };
  double worst = 0, moved = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double want_y = 0, want_z = 0, exact = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double xv = rounded(x.data<float>()[i * K + k]);
        want_y += xv * rounded(w.data<float>()[k * N + j]);
        want_z += xv * rounded(wt.data<float>()[j * K + k]);
        exact += double(x.data<float>()[i * K + k]) * double(w.data<float>()[k * N + j]);
      }
      worst = std::max({worst, std::fabs(out[0].data<float>()[i * N + j] - want_y) / (1 + std::fabs(want_y)),
                        std::fabs(out[1].data<float>()[i * N + j] - want_z) / (1 + std::fabs(want_z))});
      moved = std::max(moved, std::fabs(want_y - exact));
    }
  EXPECT_LT(worst, 1e-5);
  if (s.bf16_matmuls()) {
    EXPECT_GT(moved, 1e-3);  // the rounding shows: the data are not bfloat16 values already
    for (auto& st : s.profile(std::vector<Tensor>{x}, 1)) EXPECT_NE(st.implementation.find("bf16"), std::string::npos);
  }
}

// A Transpose that only moves unit dims is a view too; one that swaps real
// dims is not; a step read only by a Shape folded at plan time is dropped.
TEST(Plan, UnitDimTransposesAreViewsAndShapeOnlyReadersAreDropped) {
  ModelBuilder b;
  b.input("x", {1, 3, 4}).output("moved").output("swapped").output("n");
  test::set_attr(b.node("Transpose", {"x"}, {"t"}), "perm", std::vector<int64_t>{1, 0, 2});
  b.node("Relu", {"t"}, {"moved"});
  test::set_attr(b.node("Transpose", {"x"}, {"swapped"}), "perm", std::vector<int64_t>{0, 2, 1});
  b.node("Neg", {"x"}, {"dead"});
  b.node("Shape", {"dead"}, {"n"});
  std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  Tensor x = test::random_tensor({1, 3, 4}, 9);
  auto out = s.run(std::vector<Tensor>{x});
  ASSERT_EQ(out[0].shape, (Shape{3, 1, 4}));
  ASSERT_EQ(out[1].shape, (Shape{1, 4, 3}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) {
      EXPECT_EQ(out[0].data<float>()[i * 4 + j], std::max(0.f, x.data<float>()[i * 4 + j]));
      EXPECT_EQ(out[1].data<float>()[j * 3 + i], x.data<float>()[i * 4 + j]);
    }
  EXPECT_EQ(out[2].as_int64(), (std::vector<int64_t>{1, 3, 4}));
  Graph g = load_onnx_bytes(bytes.data(), bytes.size(), "views.onnx");
  Plan p(g, default_registry(), {ValueInfo{DType::float32, {1, 3, 4}, nullptr}}, best_isa(), false);
  std::vector<std::string> ops;
  for (auto& st : p.steps()) ops.push_back(st.node->op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"Relu", "Transpose"}));
}

// A 3x3 convolution keeping the size (pads 1), `group` groups.
void set_conv(onnx::NodeProto& n, int64_t group) {
  test::set_attr(n, "pads", std::vector<int64_t>{1, 1, 1, 1});
  test::set_attr(n, "group", group);
}

// Pools between convolutions read and write the convolutions' held layout
// (NHWC or blocked) with oneDNN's fast kernels, never its mixed-layout
// reference; a window pool whose result leaves for a plain reader runs plain;
// a global pool writes a plain-readable result. Same numbers as unoptimized.
TEST(Plan, PoolsKeepTheConvolutionsHeldLayout) {
  for (int64_t C : {16, 12}) {  // 12: blocked layouts pad the channels
    ModelBuilder b;
    b.input("x", {1, 3, 16, 16}).output("flat").output("side");
    b.init("w1", test::random_tensor({C, 3, 3, 3}, 1)).init("w2", test::random_tensor({C, C, 3, 3}, 2));
    b.init("dw", test::random_tensor({C, 1, 3, 3}, 3)).init("minus1", test::int64_tensor({2}, {1, -1}));
    set_conv(b.node("Conv", {"x", "w1"}, {"c1"}), 1);
    auto& mp = b.node("MaxPool", {"c1"}, {"p1"});
    test::set_attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
    test::set_attr(mp, "strides", std::vector<int64_t>{2, 2});
    set_conv(b.node("Conv", {"p1", "w2"}, {"c2"}), 1);
    auto& ap = b.node("AveragePool", {"c2"}, {"p2"});
    test::set_attr(ap, "kernel_shape", std::vector<int64_t>{3, 3});
    test::set_attr(ap, "pads", std::vector<int64_t>{1, 1, 1, 1});
    b.node("Relu", {"p2"}, {"side"});  // a plain reader: this pool runs plain
    auto& dwc = b.node("Conv", {"c2", "dw"}, {"c3"});
    set_conv(dwc, C);
    b.node("GlobalAveragePool", {"c3"}, {"g"});
    b.node("Reshape", {"g", "minus1"}, {"flat"});
    const std::string bytes = b.bytes();
    SessionOptions off;
    off.optimize = false;
    Session plain(bytes.data(), bytes.size(), off), held(bytes.data(), bytes.size());
    Tensor x = test::random_tensor({1, 3, 16, 16}, 4);
    auto want = plain.run(std::vector<Tensor>{x}), got = held.run(std::vector<Tensor>{x});
    for (size_t k = 0; k < 2; ++k) EXPECT_LE(test::max_rel_diff(got[k], want[k]), 1e-5) << "C " << C << " output " << k;
    for (auto& st : held.profile(std::vector<Tensor>{x}, 1))
      if (st.op.find("Pool") != std::string::npos)
        EXPECT_EQ(st.implementation.find("ref"), std::string::npos) << st.op << " " << st.implementation << " C " << C;
    const std::set<std::string> kept = blocked_conv_values(held.graph(), true);
    EXPECT_TRUE(kept.count("c1") && kept.count("p1")) << "C " << C;
    EXPECT_FALSE(kept.count("c2") || kept.count("p2")) << "C " << C;
    // The depthwise convolution makes the layout blocked, whose 12 channels pad.
    EXPECT_EQ(kept.count("c3") != 0, C == 16) << "C " << C;
  }
}

// y[o][i][j] = bias[o] + sum over c and the k x k window of x * w (stride s,
// pads p), in double; x [1, C, H, W].
std::vector<double> conv_reference(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t s, int64_t p) {
  const int64_t C = x.shape[1], H = x.shape[2], W = x.shape[3], OC = w.shape[0], k = w.shape[2];
  const int64_t Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
  const float *xp = x.data<float>(), *wp = w.data<float>();
  std::vector<double> y(size_t(OC * Ho * Wo));
  for (int64_t o = 0; o < OC; ++o)
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        double acc = bias.data<float>()[o];
        for (int64_t c = 0; c < C; ++c)
          for (int64_t ki = 0; ki < k; ++ki)
            for (int64_t kj = 0; kj < k; ++kj) {
              const int64_t ii = i * s + ki - p, jj = j * s + kj - p;
              if (ii >= 0 && ii < H && jj >= 0 && jj < W)
                acc += double(xp[(c * H + ii) * W + jj]) * wp[((o * C + c) * k + ki) * k + kj];
            }
        y[size_t((o * Ho + i) * Wo + j)] = acc;
      }
  return y;
}

std::vector<double> conv3x3_reference(const Tensor& x, const Tensor& w, const Tensor& bias) {
  return conv_reference(x, w, bias, 1, 1);
}

// Two 3x3 stride-1 convolutions (ReLU, then residual sum + ReLU as post-ops)
// run as Winograd where the machine has AVX-512, direct with --no-winograd,
// and match a float64 reference as closely either way; Winograd makes the
// activations between them blocked. On the development machine oneDNN takes
// the first shape with F(2x2,3x3) and the second (ResNet's layer2) with
// F(4x4,3x3), by its cache sizes: measured 1.2e-7 and 8.2e-7 Winograd, 1.8e-7
// and 4.6e-7 direct.
TEST(Plan, Conv3x3RunsAsWinogradWithinFloat64Error) {
  struct Case {
    int64_t C, OC, H;
  };
  for (const Case& k : {Case{32, 48, 14}, Case{128, 128, 28}}) {
    const int64_t C = k.C, OC = k.OC, H = k.H;
    const float r = 0.6f / float(3 * std::sqrt(double(C)));  // keeps outputs near unit scale
    Tensor x = test::random_tensor({1, C, H, H}, 11), w1 = test::random_tensor({OC, C, 3, 3}, 12, -r, r);
    Tensor w2 = test::random_tensor({OC, OC, 3, 3}, 13, -r, r);
    Tensor b1 = test::random_tensor({OC}, 14), b2 = test::random_tensor({OC}, 15);
    ModelBuilder b;
    b.input("x", {1, C, H, H}).output("y");
    b.init("w1", w1).init("b1", b1).init("w2", w2).init("b2", b2);
    set_conv(b.node("Conv", {"x", "w1", "b1"}, {"c1"}), 1);
    b.node("Relu", {"c1"}, {"r1"});
    set_conv(b.node("Conv", {"r1", "w2", "b2"}, {"c2"}), 1);
    b.node("Add", {"c2", "r1"}, {"s"});
    b.node("Relu", {"s"}, {"y"});
    const std::string bytes = b.bytes();

    std::vector<double> r1 = conv3x3_reference(x, w1, b1);
    Tensor r1f(DType::float32, {1, OC, H, H});
    for (size_t i = 0; i < r1.size(); ++i) r1f.data<float>()[i] = float(r1[i] = std::max(r1[i], 0.0));
    std::vector<double> c2 = conv3x3_reference(r1f, w2, b2);
    Tensor want(DType::float32, {1, OC, H, H});
    for (size_t i = 0; i < c2.size(); ++i) want.data<float>()[i] = float(std::max(c2[i] + r1[i], 0.0));

    const bool avx512 = kernels::conv_channel_block() == 16;
    for (bool winograd : {true, false})
      for (int threads : {1, 2}) {
        SessionOptions o;
        o.winograd = winograd;
        o.threads = threads;
        Session s(bytes.data(), bytes.size(), o);
        auto got = s.run(std::vector<Tensor>{x});
        const std::string what = "C " + std::to_string(C) + " winograd " + std::to_string(winograd) + " threads " +
                                 std::to_string(threads);
        EXPECT_LE(test::max_rel_diff(got[0], want), 3e-6) << what;
        int wino = 0, convs = 0;
        for (auto& st : s.profile(std::vector<Tensor>{x}, 1)) {
          convs += st.op.find("Conv") != std::string::npos;
          wino += st.implementation.find("wino") != std::string::npos;
        }
        EXPECT_EQ(convs, 2) << what;
        EXPECT_EQ(wino, winograd && avx512 ? 2 : 0) << what;
        if (avx512)
          EXPECT_EQ(held_conv_layout(s.graph(), winograd) == kernels::HeldLayout::blocked, winograd) << what;
      }
  }
}

// 1x1 convolutions of few pixels and large weights (a 7x7 layer's expansion,
// a stride-2 one) run on normrt's gemm at AVX-512 on Intel, reading and
// writing the held layout (blocked with Winograd, NHWC without), or reading
// a model's plain input, with Relu and Clip, and match a float64 reference;
// one pixel runs on gemv; one summing a residual stays on oneDNN, as does
// everything at AVX2 (and a 7x7 layer of fewer than 8 output panels, or of
// panels that do not divide evenly between the threads).
// q, k and v cut from one product by Slices on the last axis, as PyTorch
// exports nn.MultiheadAttention: each Slice that starts on a panel boundary
// computes its own columns, and no Slice step is left to copy them out.
TEST(Plan, LastAxisSlicesOfAProductComputeTheirColumnsAndMatchFloat64) {
  const int64_t K = 100, N = 320, top = std::numeric_limits<int64_t>::max();
  const Tensor w = test::random_tensor({K, N}, 21, -0.2f, 0.2f), bias = test::random_tensor({N}, 22);
  struct Cut {
    int64_t start, end, axis;
  };
  // {0, 128} and {128, 256} by axis -1 and 2; {-64, max}: the last 64 columns.
  const std::vector<Cut> on_panels = {{0, 128, -1}, {128, 256, 2}, {-64, top, -1}};
  const std::vector<Cut> off_panels = {{0, 128, -1}, {100, 200, -1}};  // 100: inside a panel
  for (const std::vector<Cut>* each : {&on_panels, &off_panels})
    for (int64_t rows : {5, 1}) {
      const std::vector<Cut>& cuts = *each;
      const Tensor x = test::random_tensor({rows, 1, K}, 23);
      ModelBuilder b;
      b.input("x", {rows, 1, K}).init("w", w).init("bias", bias);
      b.node("MatMul", {"x", "w"}, {"p"});
      b.node("Add", {"p", "bias"}, {"qkv"});
      std::vector<Tensor> want;
      for (size_t j = 0; j < cuts.size(); ++j) {
        const std::string k = std::to_string(j);
        b.init("s" + k, test::int64_tensor({1}, {cuts[j].start}))
            .init("e" + k, test::int64_tensor({1}, {cuts[j].end}))
            .init("a" + k, test::int64_tensor({1}, {cuts[j].axis}));
        b.node("Slice", {"qkv", "s" + k, "e" + k, "a" + k}, {"y" + k});
        b.output("y" + k);
        const int64_t c0 = cuts[j].start < 0 ? N + cuts[j].start : cuts[j].start, c1 = std::min(cuts[j].end, N);
        Tensor t(DType::float32, {rows, 1, c1 - c0});
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = c0; c < c1; ++c) {
            double acc = bias.data<float>()[c];
            for (int64_t i = 0; i < K; ++i) acc += double(x.data<float>()[r * K + i]) * double(w.data<float>()[i * N + c]);
            t.data<float>()[r * (c1 - c0) + c - c0] = float(acc);
          }
        want.push_back(std::move(t));
      }
      const std::string bytes = b.bytes();
      for (int threads : {1, 2}) {
        SessionOptions o;
        o.threads = threads;
        Session s(bytes.data(), bytes.size(), o);
        const std::string what = "rows " + std::to_string(rows) + " cuts " + std::to_string(cuts.size()) +
                                 " threads " + std::to_string(threads);
        const auto got = s.run(std::vector<Tensor>{x});
        for (size_t j = 0; j < cuts.size(); ++j) EXPECT_EQ(test::compare(got[j], want[j], 1e-5, 1e-5), "") << what << " y" << j;
        int columns = 0, slices = 0;
        for (auto& st : s.profile(std::vector<Tensor>{x}, 1)) {
          columns += st.implementation.find(" columns ") != std::string::npos;
          slices += st.op == "Slice";
        }
        // (One row runs on gemv over the same panels, packed at AVX-512.)
        const bool split = each == &on_panels && (rows == 1 ? s.isa() == Isa::avx512 : kernels::gemm_chosen(s.isa()));
        EXPECT_EQ(columns, split ? 3 : 0) << what;
        EXPECT_EQ(slices, split ? 0 : int(cuts.size())) << what;
      }
    }
}

TEST(Plan, FewPixelOneByOneConvolutionsRunOnGemmAndMatchFloat64) {
  const Tensor x = test::random_tensor({1, 32, 14, 14}, 1), w1 = test::random_tensor({128, 32, 3, 3}, 2, -0.2f, 0.2f),
               w2 = test::random_tensor({1024, 128, 1, 1}, 3, -0.1f, 0.1f),
               w3 = test::random_tensor({512, 1024, 1, 1}, 4, -0.05f, 0.05f),
               w4 = test::random_tensor({512, 512, 1, 1}, 5, -0.05f, 0.05f),
               w5 = test::random_tensor({16, 512, 3, 3}, 6, -0.05f, 0.05f);
  const Tensor b1 = test::random_tensor({128}, 7), b2 = test::random_tensor({1024}, 8),
               b3 = test::random_tensor({512}, 9), b4 = test::random_tensor({512}, 10), b5 = test::random_tensor({16}, 11);
  ModelBuilder b;
  b.input("x", {1, 32, 14, 14}).output("y");
  for (auto& [name, t] : std::vector<std::pair<std::string, Tensor>>{
           {"w1", w1}, {"w2", w2}, {"w3", w3}, {"w4", w4}, {"w5", w5}, {"b1", b1}, {"b2", b2}, {"b3", b3}, {"b4", b4}, {"b5", b5}})
    b.init(name, t);
  b.init("lo", test::scalar_tensor(0.f)).init("hi", test::scalar_tensor(6.f));
  auto& c1 = b.node("Conv", {"x", "w1", "b1"}, {"c1"});  // [1, 128, 7, 7]
  set_conv(c1, 1);
  test::set_attr(c1, "strides", std::vector<int64_t>{2, 2});
  b.node("Conv", {"c1", "w2", "b2"}, {"c2"});  // 1x1 to [1, 1024, 7, 7], 512 KB of weights
  b.node("Relu", {"c2"}, {"r2"});
  test::set_attr(b.node("Conv", {"r2", "w3", "b3"}, {"c3"}), "strides", std::vector<int64_t>{2, 2});  // to 4x4, 2 MB
  b.node("Clip", {"c3", "lo", "hi"}, {"r3"});
  b.node("Conv", {"r3", "w4", "b4"}, {"c4"});  // 1 MB, but summing a residual: oneDNN
  b.node("Add", {"c4", "r3"}, {"s4"});
  set_conv(b.node("Conv", {"s4", "w5", "b5"}, {"y"}), 1);
  const std::string bytes = b.bytes();

  auto as_tensor = [](const std::vector<double>& v, Shape shape, double lo, double hi) {
    Tensor t(DType::float32, shape);
    for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = float(std::clamp(v[i], lo, hi));
    return t;
  };
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor r1 = as_tensor(conv_reference(x, w1, b1, 2, 1), {1, 128, 7, 7}, -inf, inf);
  const Tensor r2 = as_tensor(conv_reference(r1, w2, b2, 1, 0), {1, 1024, 7, 7}, 0, inf);
  const Tensor r3 = as_tensor(conv_reference(r2, w3, b3, 2, 0), {1, 512, 4, 4}, 0, 6);
  std::vector<double> s4 = conv_reference(r3, w4, b4, 1, 0);
  for (size_t i = 0; i < s4.size(); ++i) s4[i] += r3.data<float>()[i];
  const Tensor want =
      as_tensor(conv_reference(as_tensor(s4, {1, 512, 4, 4}, -inf, inf), w5, b5, 1, 1), {1, 16, 4, 4}, -inf, inf);

  for (const char* isa : {"auto", "avx2"})
    for (bool winograd : {true, false})
      for (int threads : {1, 2, 3}) {
        SessionOptions o;
        o.isa = isa;
        o.winograd = winograd;
        o.threads = threads;
        Session s(bytes.data(), bytes.size(), o);
        const std::string what = std::string(isa) + " winograd " + std::to_string(winograd) + " threads " +
                                 std::to_string(threads);
        EXPECT_EQ(test::compare(s.run(std::vector<Tensor>{x})[0], want, 1e-5, 1e-5), "") << what;
        int on_gemm = 0;
        for (auto& st : s.profile(std::vector<Tensor>{x}, 1)) on_gemm += st.implementation.rfind("normrt gemm", 0) == 0;
        // c2's 16 panels and c3's 8, where they divide between the threads
        const int even = (16 % threads == 0) + (8 % threads == 0);
        EXPECT_EQ(on_gemm, kernels::gemm_chosen(s.isa()) ? even : 0) << what;
      }
  // A model's own (plain) input, gathered into rows; one pixel, on gemv.
  for (int64_t H : {7, 1}) {
    const Tensor xi = test::random_tensor({1, 512, H, H}, 12), wi = test::random_tensor({1024, 512, 1, 1}, 13, -0.1f, 0.1f),
                 bi = test::random_tensor({1024}, 14), wo = test::random_tensor({16, 1024, 3, 3}, 15, -0.05f, 0.05f),
                 bo = test::random_tensor({16}, 16);
    ModelBuilder m;
    m.input("x", {1, 512, H, H}).output("y");
    m.init("wi", wi).init("bi", bi).init("wo", wo).init("bo", bo);
    m.node("Conv", {"x", "wi", "bi"}, {"c"});
    m.node("Relu", {"c"}, {"r"});
    set_conv(m.node("Conv", {"r", "wo", "bo"}, {"y"}), 1);
    const std::string model = m.bytes();
    const Tensor r = as_tensor(conv_reference(xi, wi, bi, 1, 0), {1, 1024, H, H}, 0, inf);
    const Tensor expected = as_tensor(conv_reference(r, wo, bo, 1, 1), {1, 16, H, H}, -inf, inf);
    SessionOptions one;
    one.threads = 1;  // (gemm takes panels that divide evenly between the threads)
    Session s(model.data(), model.size(), one);
    EXPECT_EQ(test::compare(s.run(std::vector<Tensor>{xi})[0], expected, 1e-5, 1e-5), "") << "H " << H;
    const std::string kernel = H == 1 ? "normrt gemv" : "normrt gemm";
    int on_panels = 0;
    for (auto& st : s.profile(std::vector<Tensor>{xi}, 1)) on_panels += st.implementation.rfind(kernel, 0) == 0;
    EXPECT_EQ(on_panels, kernels::gemm_chosen(s.isa()) ? 1 : 0) << "H " << H;
  }
}

// A convolution summing a residual writes over the residual's buffer when
// nothing reads it later, and not when another convolution does; same
// numbers as the unoptimized graph either way.
TEST(Plan, ResidualSumWritesInPlaceOnlyAfterItsLastReader) {
  for (bool read_later : {false, true}) {
    ModelBuilder b;
    b.input("x", {1, 8, 8, 8}).output("y");
    if (read_later) b.output("z_again");
    for (int k = 1; k <= 4; ++k) b.init("w" + std::to_string(k), test::random_tensor({8, 8, 3, 3}, unsigned(k)));
    set_conv(b.node("Conv", {"x", "w1"}, {"z"}), 1);
    set_conv(b.node("Conv", {"x", "w2"}, {"c"}), 1);
    b.node("Add", {"c", "z"}, {"s"});
    b.node("Relu", {"s"}, {"r"});
    set_conv(b.node("Conv", {"r", "w3"}, {"y"}), 1);  // r stays in the held layout
    if (read_later) set_conv(b.node("Conv", {"z", "w4"}, {"z_again"}), 1);
    const std::string bytes = b.bytes();
    SessionOptions off;
    off.optimize = false;
    Session plain(bytes.data(), bytes.size(), off), fused(bytes.data(), bytes.size());
    Tensor x = test::random_tensor({1, 8, 8, 8}, 5);
    auto want = plain.run(std::vector<Tensor>{x}), got = fused.run(std::vector<Tensor>{x});
    for (size_t k = 0; k < want.size(); ++k) EXPECT_LE(test::max_rel_diff(got[k], want[k]), 1e-5) << read_later;
    Plan p(fused.graph(), default_registry(), {ValueInfo{DType::float32, {1, 8, 8, 8}, nullptr}}, best_isa(), true);
    int in_place = 0, sums = 0, can = 0;
    for (auto& st : p.steps())
      if (st.node->op_type == "FusedConv" && st.ins.size() > 3 && st.ins[3] >= 0) {
        ++sums;
        in_place += st.outs[0] == st.ins[3];
        can += st.kernel->in_place_input() == 3;  // residual and output in the primitive's own layout
      }
    EXPECT_EQ(sums, 1);
    EXPECT_EQ(in_place, read_later ? 0 : can);
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

// Output shapes that depend on values: a plan runs up to the NonZero, the
// session runs it, a plan for the rest runs up to a Range whose limit was
// computed from data, and a third plan finishes. An output made before the
// first cut is carried through. Checked against the values worked out here,
// for inputs with several, one and no positives, from four threads at once.
TEST(Session, ValueDependentShapesRunInStagesAcrossThreads) {
  ModelBuilder b;
  b.input("x", {-1}).output("y").output("r");
  b.init("zero", test::scalar_tensor(0)).init("two", test::scalar_tensor(2));
  b.init("axes", test::int64_tensor({1}, {0})).init("start", test::int64_tensor({}, {0}));
  b.init("step", test::int64_tensor({}, {1}));
  b.node("Relu", {"x"}, {"r"});
  b.node("Greater", {"x", "zero"}, {"mask"});
  b.node("NonZero", {"mask"}, {"where"});
  b.node("Squeeze", {"where", "axes"}, {"idx"});
  b.node("Gather", {"x", "idx"}, {"pos"});
  b.node("Mul", {"pos", "two"}, {"pos2"});
  test::set_attr(b.node("Cast", {"mask"}, {"maskf"}), "to", int64_t(1));
  test::set_attr(b.node("ReduceSum", {"maskf", "axes"}, {"count"}), "keepdims", int64_t(0));
  test::set_attr(b.node("Cast", {"count"}, {"limit"}), "to", int64_t(7));
  b.node("Range", {"start", "limit", "step"}, {"ramp"});
  test::set_attr(b.node("Cast", {"ramp"}, {"rampf"}), "to", int64_t(1));
  test::set_attr(b.node("Concat", {"pos2", "rampf"}, {"y"}), "axis", int64_t(0));
  std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  const std::vector<std::vector<float>> inputs = {
      {0.5f, -1.f, 2.f, 0.f, 3.25f}, {-1.f, -2.f}, {4.f}, {1.f, 1.f, -3.f, 0.125f, 6.f, -0.f, 2.f}};
  auto check = [&](const std::vector<float>& x) {
    auto out = s.run(std::vector<Tensor>{test::float_tensor({int64_t(x.size())}, x)});
    std::vector<float> want_y, want_r;
    for (float v : x)
      if (v > 0) want_y.push_back(2 * v);
    const size_t k = want_y.size();
    for (size_t i = 0; i < k; ++i) want_y.push_back(float(i));
    for (float v : x) want_r.push_back(std::max(v, 0.f));
    return out.size() == 2 && out[0].shape == Shape{int64_t(2 * k)} &&
           std::equal(want_y.begin(), want_y.end(), out[0].data<float>()) &&
           out[1].shape == Shape{int64_t(x.size())} && std::equal(want_r.begin(), want_r.end(), out[1].data<float>());
  };
  for (auto& x : inputs) EXPECT_TRUE(check(x)) << "input of " << x.size();
  std::vector<std::thread> threads;
  std::vector<int> misses(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < 25; ++k) misses[size_t(t)] += !check(inputs[size_t(t + k) % inputs.size()]);
    });
  for (auto& t : threads) t.join();
  for (int m : misses) EXPECT_EQ(m, 0);
  EXPECT_EQ(s.plans_held(), 4u);  // the first stage's, one per input length
  // profile() reports the steps of every stage: the Relu before the first
  // cut, the Gather after it, the Concat after the second.
  std::map<std::string, int> seen;
  for (auto& st : s.profile(std::vector<Tensor>{test::float_tensor({3}, {1.f, -1.f, 2.f})}, 2)) {
    ++seen[st.op];
    EXPECT_EQ(st.seconds.size(), 2u) << st.op;
  }
  EXPECT_EQ(seen["Relu"], 1);
  EXPECT_EQ(seen["Gather"], 1);
  EXPECT_EQ(seen["Concat"], 1);
}

// An If on a value computed in the run: the chosen branch runs as part of
// the plan for the rest, reading outer values (one renamed away by
// remove_identity when the passes run), and the node after it reads its
// output. Checked against the branch arithmetic done here, with and without
// the passes, for conditions both ways.
TEST(Session, IfRunsTheBranchItsConditionChooses) {
  auto branch = [](const std::string& name, const std::string& op, const std::string& operand,
                   const std::string& out) {
    onnx::GraphProto g;
    g.set_name(name);
    auto* n = g.add_node();
    n->set_op_type(op);
    n->add_input("xi");
    n->add_input(operand);
    n->add_output(out);
    g.add_output()->set_name(out);
    if (operand == "two") {
      auto* t = g.add_initializer();
      t->set_name("two");
      t->set_data_type(1);
      t->add_float_data(2.f);
    }
    return g;
  };
  ModelBuilder b;
  b.input("x", {3}).output("z");
  b.init("zero", test::scalar_tensor(0)).init("one", test::scalar_tensor(1));
  b.init("w", test::float_tensor({3}, {0.5f, -1.f, 4.f}));
  b.node("Identity", {"x"}, {"xi"});
  test::set_attr(b.node("ReduceSum", {"x"}, {"s"}), "keepdims", int64_t(0));
  b.node("Greater", {"s", "zero"}, {"c"});
  auto& n = b.node("If", {"c"}, {"y"});
  test::set_attr(n, "then_branch", branch("then", "Mul", "two", "t"));
  test::set_attr(n, "else_branch", branch("else", "Sub", "w", "e"));
  b.node("Add", {"y", "one"}, {"z"});
  std::string bytes = b.bytes();
  for (bool optimize : {true, false}) {
    SessionOptions o;
    o.optimize = optimize;
    Session s(bytes.data(), bytes.size(), o);
    for (auto x : {std::vector<float>{1.f, -2.f, 3.f}, std::vector<float>{1.f, -2.f, 0.5f},
                   std::vector<float>{0.25f, 0.f, 0.f}}) {
      const bool then = x[0] + x[1] + x[2] > 0;
      auto out = s.run(std::vector<Tensor>{test::float_tensor({3}, x)});
      ASSERT_EQ(out[0].shape, Shape{3});
      const float w[] = {0.5f, -1.f, 4.f};
      for (int i = 0; i < 3; ++i)
        EXPECT_EQ(out[0].data<float>()[i], (then ? 2 * x[size_t(i)] : x[size_t(i)] - w[i]) + 1)
            << "optimize " << optimize << " then " << then << " element " << i;
    }
  }
  // A branch may read outer values but not define them again.
  auto bad = b;
  auto* g = bad.m.mutable_graph()->mutable_node(3)->mutable_attribute(0)->mutable_g();
  g->mutable_node(0)->set_output(0, "s");
  g->mutable_output(0)->set_name("s");
  std::string bad_bytes = bad.bytes();
  EXPECT_NE(test::error_of([&] { Session(bad_bytes.data(), bad_bytes.size()); }).find("'s' is also defined by an enclosing graph"),
            std::string::npos);
}

// Loop: v carried through M iterations of v + step (step read from outside)
// and each iteration's v scanned; none for M = 0; and max_loop_iterations
// refusing a loop whose own condition never ends it.
TEST(Session, LoopCarriesScansAndIsBounded) {
  onnx::GraphProto body;
  body.set_name("body");
  for (auto [name, type] : {std::pair{"i", 7}, std::pair{"cond", 9}, std::pair{"v", 1}}) {
    auto* in = body.add_input();
    in->set_name(name);
    in->mutable_type()->mutable_tensor_type()->set_elem_type(type);
  }
  auto node = [&](const std::string& op, std::vector<std::string> in, const std::string& out) {
    auto* n = body.add_node();
    n->set_op_type(op);
    for (auto& i : in) n->add_input(i);
    n->add_output(out);
  };
  node("Identity", {"cond"}, "cond_out");
  node("Add", {"v", "step"}, "v_out");
  node("Identity", {"v_out"}, "scan");
  for (auto name : {"cond_out", "v_out", "scan"}) body.add_output()->set_name(name);
  // The scan output's declared type and shape give a loop of no iterations its [0, 2].
  auto* scan_type = body.mutable_output(2)->mutable_type()->mutable_tensor_type();
  scan_type->set_elem_type(1);
  scan_type->mutable_shape()->add_dim()->set_dim_value(2);
  auto model = [&](int64_t trips, bool bounded) {
    ModelBuilder b;
    b.input("v0", {2}).output("v_last").output("all");
    b.init("M", test::int64_tensor({}, {trips})).init("step", test::float_tensor({2}, {1.f, -0.5f}));
    Tensor yes(DType::boolean, {});
    yes.bytes[0] = 1;
    b.init("go", yes);
    test::set_attr(b.node("Loop", {"M", "go", "v0"}, {"v_last", "all"}), "body", body);
    std::string bytes = b.bytes();
    SessionOptions o;
    if (bounded) o.max_loop_iterations = 100;
    return Session(bytes.data(), bytes.size(), o).run(std::vector<Tensor>{test::float_tensor({2}, {3.f, 4.f})});
  };
  auto out = model(3, false);
  EXPECT_EQ(std::vector<float>(out[0].data<float>(), out[0].data<float>() + 2), (std::vector<float>{6.f, 2.5f}));
  ASSERT_EQ(out[1].shape, (Shape{3, 2}));
  EXPECT_EQ(std::vector<float>(out[1].data<float>(), out[1].data<float>() + 6),
            (std::vector<float>{4.f, 3.5f, 5.f, 3.f, 6.f, 2.5f}));
  out = model(0, false);
  EXPECT_EQ(std::vector<float>(out[0].data<float>(), out[0].data<float>() + 2), (std::vector<float>{3.f, 4.f}));
  EXPECT_EQ(out[1].shape, (Shape{0, 2}));
  EXPECT_NE(test::error_of([&] { model(int64_t(1) << 40, true); }).find("take more than 100 iterations"),
            std::string::npos);
  // A Loop naming more outputs than its body gives (found by fuzzing: it
  // ended the run with an exception that was not normrt's Error).
  onnx::GraphProto no_scan = body;
  no_scan.mutable_output()->RemoveLast();
  ModelBuilder extra;
  extra.input("v0", {2}).output("v_last").output("all");
  extra.init("M", test::int64_tensor({}, {2})).init("step", test::float_tensor({2}, {1.f, -0.5f}));
  test::set_attr(extra.node("Loop", {"M", "", "v0"}, {"v_last", "all"}), "body", no_scan);
  const std::string extra_bytes = extra.bytes();
  EXPECT_NE(test::error_of([&] {
              Session(extra_bytes.data(), extra_bytes.size()).run(std::vector<Tensor>{test::float_tensor({2}, {1.f, 2.f})});
            }).find("names 2 outputs, but its body gives 1 after its condition (1 carried, 0 scanned)"),
            std::string::npos);
  // The implicit inputs' record is normrt's own: a model cannot supply one.
  ModelBuilder forged;
  forged.input("x", {2}).output("y");
  test::set_attr(forged.node("Relu", {"x"}, {"y"}), "__implicit_inputs", std::vector<std::string>{"a", "b", "c"});
  std::string bytes = forged.bytes();
  EXPECT_NE(test::error_of([&] { Session(bytes.data(), bytes.size()); }).find("'__implicit_inputs' is reserved"),
            std::string::npos);
}

// Two Ifs whose branches reuse the same names (allowed: sibling
// subgraphs), both spliced into one run: each branch keeps its own constant.
TEST(Session, SplicedBranchesKeepTheirOwnNames) {
  auto scale = [](const std::string& x, float k) {
    onnx::GraphProto g;
    g.set_name("scale");
    auto* n = g.add_node();
    n->set_op_type("Mul");
    n->add_input(x);
    n->add_input("k");
    n->add_output("t");
    g.add_output()->set_name("t");
    auto* t = g.add_initializer();
    t->set_name("k");
    t->set_data_type(1);
    t->add_float_data(k);
    return g;
  };
  ModelBuilder b;
  b.input("x", {3}).output("z");
  b.init("zero", test::scalar_tensor(0));
  test::set_attr(b.node("ReduceSum", {"x"}, {"s"}), "keepdims", int64_t(0));
  b.node("Greater", {"s", "zero"}, {"c"});
  auto add_if = [&](const std::string& in, const std::string& out, float then, float other) {
    auto& n = b.node("If", {"c"}, {out});
    test::set_attr(n, "then_branch", scale(in, then));
    test::set_attr(n, "else_branch", scale(in, other));
  };
  add_if("x", "y", 2.f, -1.f);
  add_if("y", "z", 3.f, 5.f);
  std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  for (auto x : {std::vector<float>{1.f, 2.f, -0.5f}, std::vector<float>{-1.f, 2.f, -3.5f}}) {
    const float k = x[0] + x[1] + x[2] > 0 ? 6.f : -5.f;
    auto out = s.run(std::vector<Tensor>{test::float_tensor({3}, x)});
    for (int i = 0; i < 3; ++i) EXPECT_EQ(out[0].data<float>()[i], k * x[size_t(i)]) << k << " " << i;
  }
}

// A convolution's output read only by convolutions would be held in
// oneDNN's blocked layout (5 channels padded to the block); carried past a
// NonZero it must leave plain. The convolution after the cut checked
// against float64.
TEST(Session, ValuesCarriedPastACutArePlain) {
  ModelBuilder b;
  b.input("x", {1, 3, 5, 5}).output("z").output("nz", 7);
  Tensor w1 = test::random_tensor({5, 3, 3, 3}, 1), w2 = test::random_tensor({2, 5, 1, 1}, 2),
         w3 = test::random_tensor({4, 5, 1, 1}, 3);
  b.init("w1", w1).init("w2", w2).init("w3", w3).init("zero", test::scalar_tensor(0));
  test::set_attr(b.node("Conv", {"x", "w1"}, {"y"}), "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Conv", {"y", "w3"}, {"m"});
  b.node("Greater", {"m", "zero"}, {"g"});
  b.node("NonZero", {"g"}, {"nz"});
  b.node("Conv", {"y", "w2"}, {"z"});
  std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  Tensor x = test::random_tensor({1, 3, 5, 5}, 4);
  auto out = s.run(std::vector<Tensor>{x});
  std::vector<double> y(5 * 25, 0.0);
  for (int o = 0; o < 5; ++o)
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 5; ++j)
        for (int c = 0; c < 3; ++c)
          for (int di = -1; di <= 1; ++di)
            for (int dj = -1; dj <= 1; ++dj)
              if (i + di >= 0 && i + di < 5 && j + dj >= 0 && j + dj < 5)
                y[size_t(o * 25 + i * 5 + j)] += double(w1.data<float>()[((o * 3 + c) * 3 + di + 1) * 3 + dj + 1]) *
                                                 x.data<float>()[(c * 5 + i + di) * 5 + j + dj];
  ASSERT_EQ(out[0].shape, (Shape{1, 2, 5, 5}));
  for (int o = 0; o < 2; ++o)
    for (int p = 0; p < 25; ++p) {
      double want = 0;
      for (int c = 0; c < 5; ++c) want += double(w2.data<float>()[o * 5 + c]) * y[size_t(c * 25 + p)];
      EXPECT_NEAR(out[0].data<float>()[o * 25 + p], want, 1e-4) << o << " " << p;
    }
  EXPECT_EQ(out[1].shape[0], 4);
}

// A float that decides a shape, computed before a cut and read after it,
// keys the rest's plans by its exact bytes: starts 0.25 and 0.75 of a Range
// (same length) get plans of their own.
TEST(Session, FloatsDecidingShapesKeyPlansExactly) {
  ModelBuilder b;
  b.input("x", {2}).output("r").output("nz", 7);
  b.init("limit", test::scalar_tensor(5)).init("delta", test::scalar_tensor(1));
  test::set_attr(b.node("ReduceMin", {"x"}, {"start"}), "keepdims", int64_t(0));
  b.node("NonZero", {"x"}, {"nz"});
  b.node("Range", {"start", "limit", "delta"}, {"r"});
  std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  for (float start : {0.25f, 0.75f, 0.25f}) {
    auto out = s.run(std::vector<Tensor>{test::float_tensor({2}, {start, 3.f})});
    ASSERT_EQ(out[0].shape, Shape{5});
    for (int i = 0; i < 5; ++i) EXPECT_EQ(out[0].data<float>()[i], start + float(i)) << start;
  }
}

// MeanVarianceNormalization over chosen axes, for data far from zero (mean
// 1e4, spread 0.1), against the moments taken here in double; and
// ReverseSequence refusing a length past the time axis.
TEST(Session, MeanVarianceNormalizationAndReverseSequence) {
  ModelBuilder b;
  b.input("x", {2, 3, 4}).output("y");
  test::set_attr(b.node("MeanVarianceNormalization", {"x"}, {"y"}), "axes", std::vector<int64_t>{0, 2});
  std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  Tensor x = test::random_tensor({2, 3, 4}, 7, -0.1f, 0.1f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] += 1e4f;
  const Tensor y = s.run(std::vector<Tensor>{x})[0];
  for (int64_t ch = 0; ch < 3; ++ch) {
    double mean = 0, var = 0;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t w = 0; w < 4; ++w) mean += x.data<float>()[(n * 3 + ch) * 4 + w] / 8.0;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t w = 0; w < 4; ++w) var += std::pow(x.data<float>()[(n * 3 + ch) * 4 + w] - mean, 2) / 8.0;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t w = 0; w < 4; ++w) {
        const int64_t i = (n * 3 + ch) * 4 + w;
        EXPECT_NEAR(y.data<float>()[i], (x.data<float>()[i] - mean) / (std::sqrt(var) + 1e-9), 1e-4) << i;
      }
  }
  // Empty axes: every axis, as the ONNX function's ReduceMean takes them.
  ModelBuilder all;
  all.input("x", {2, 3}).output("y");
  test::set_attr(all.node("MeanVarianceNormalization", {"x"}, {"y"}), "axes", std::vector<int64_t>{});
  std::string all_bytes = all.bytes();
  const Tensor a = test::float_tensor({2, 3}, {1.f, 2.f, 4.f, 8.f, 16.f, 32.f});
  const Tensor ay = Session(all_bytes.data(), all_bytes.size()).run(std::vector<Tensor>{a})[0];
  const double m = 63.0 / 6;
  double v = 0;
  for (int i = 0; i < 6; ++i) v += std::pow(a.data<float>()[i] - m, 2) / 6;
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(ay.data<float>()[i], (a.data<float>()[i] - m) / std::sqrt(v), 1e-6) << i;
  ModelBuilder r;
  r.input("x", {3, 2}).input("lens", {2}, 7).output("y");
  r.node("ReverseSequence", {"x", "lens"}, {"y"});
  std::string rb = r.bytes();
  Session rs(rb.data(), rb.size());
  auto out = rs.run(std::vector<Tensor>{test::float_tensor({3, 2}, {0, 1, 2, 3, 4, 5}), test::int64_tensor({2}, {2, 3})});
  EXPECT_EQ(std::vector<float>(out[0].data<float>(), out[0].data<float>() + 6), (std::vector<float>{2, 5, 0, 3, 4, 1}));
  EXPECT_NE(test::error_of([&] {
              rs.run(std::vector<Tensor>{test::float_tensor({3, 2}, {0, 1, 2, 3, 4, 5}), test::int64_tensor({2}, {4, 1})});
            }).find("sequence_lens[0] = 4 is outside [0, 3]"),
            std::string::npos);
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

// Counts heap allocations while enabled, split by who made them: oneDNN
// (its execute builds an argument map on every call, in any version 2.x
// API), or anyone else — normrt.
namespace {
std::atomic<bool> g_counting{false};
thread_local bool t_inside = false;
std::atomic<long> g_ours{0}, g_onednn{0};

bool called_from_onednn() {
  void* frames[24];
  const int n = backtrace(frames, 24);
  for (int i = 1; i < n; ++i) {
    Dl_info info;
    if (dladdr(frames[i], &info) && info.dli_fname && std::strstr(info.dli_fname, "libdnnl")) return true;
  }
  return false;
}
}  // namespace

void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed) && !t_inside) {
    t_inside = true;
    (called_from_onednn() ? g_onednn : g_ours).fetch_add(1, std::memory_order_relaxed);
    t_inside = false;
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
// Every form that pairs with the deletes below (std::stable_sort, for one,
// takes nothrow memory): mixing them with the toolchain's would mismatch.
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return operator new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace normrt {
namespace {

// After the first runs, a run into reused output tensors makes no heap
// allocation of normrt's own: plans, oneDNN primitives, weight reorders and
// bound arguments were made before, arena and scratch come from the plan's
// context pool. oneDNN 2.6's dnnl_primitive_execute still allocates a small
// argument map per call; that count is printed, not hidden.
TEST(Session, SteadyStateRunAllocatesNothing) {
  struct Case {
    std::string model;
    std::vector<std::string> inputs;
  };
  const Case cases[] = {
      {"models/resnet_basic", {"input"}},
      {"models/mobilenet_v2_small", {"input"}},
      {"models/encoder_gelu_post_op13", {"seq64.x", "seq64.mask"}},
      {"models/bert_op17", {"seq64.ids", "seq64.mask"}},
  };
  for (auto& c : cases) {
    for (int threads : {1, 2}) {
      SessionOptions o;
      o.threads = threads;
      Session s(test::fixture(c.model + ".onnx"), o);
      std::vector<Tensor> in;
      for (auto& name : c.inputs) in.push_back(read_npy(test::fixture(c.model + "." + name + ".npy")));
      std::vector<Tensor> out;
      s.run(in, out);
      s.run(in, out);
      called_from_onednn();  // let backtrace load what it needs before counting
      g_ours = g_onednn = 0;
      g_counting = true;
      s.run(in, out);
      g_counting = false;
      EXPECT_EQ(g_ours.load(), 0) << c.model << " threads " << threads;
      std::printf("%s, %d thread(s): %ld allocations by normrt, %ld inside oneDNN's execute\n", c.model.c_str(), threads,
                  g_ours.load(), g_onednn.load());
    }
  }
}

// LSTM, GRU and RNN against the ONNX equations written out here in double,
// one batch entry and one step at a time (apart from runtime/ops/recurrent.cpp,
// which works a step for the whole batch through matmuls): every direction,
// sequence_lens, initial states, peepholes, input_forget, clip, both GRU
// resets, activations with alphas and betas, and both layouts.
struct RecurrentCase {
  std::string op, direction = "forward";
  int64_t T = 5, B = 3, I = 4, H = 3;
  int64_t layout = 0;
  bool lbr = false, input_forget = false, peepholes = false, lens = false, initial = false, w_as_input = false;
  float clip = 0;
  std::vector<std::string> acts;
  std::vector<float> alphas, betas;
};

double activation(const std::string& name, double x, double alpha, double beta) {
  if (name == "Sigmoid") return 1 / (1 + std::exp(-x));
  if (name == "Tanh") return std::tanh(x);
  if (name == "Relu") return std::max(0.0, x);
  if (name == "LeakyRelu") return x >= 0 ? x : alpha * x;
  if (name == "HardSigmoid") return std::max(0.0, std::min(1.0, alpha * x + beta));
  ADD_FAILURE() << "no reference for " << name;
  return 0;
}

// Returns what ran the layer (from a profile).
std::string check_recurrent(const RecurrentCase& k) {
  const int64_t G = k.op == "LSTM" ? 4 : k.op == "GRU" ? 3 : 1, D = k.direction == "bidirectional" ? 2 : 1;
  const int64_t T = k.T, B = k.B, I = k.I, H = k.H;
  const Shape xs = k.layout ? Shape{B, T, I} : Shape{T, B, I}, state = k.layout ? Shape{B, D, H} : Shape{D, B, H};
  Tensor X = test::random_tensor(xs, 1, -2, 2), W = test::random_tensor({D, G * H, I}, 2, -1, 1),
         R = test::random_tensor({D, G * H, H}, 3, -1, 1), Bv = test::random_tensor({D, 2 * G * H}, 4, -1, 1),
         P = test::random_tensor({D, 3 * H}, 5, -1, 1), h0 = test::random_tensor(state, 6), c0 = test::random_tensor(state, 7);
  Tensor lens(DType::int32, {B});
  for (int64_t b = 0; b < B; ++b) lens.data<int32_t>()[b] = int32_t(k.lens ? (b * 2) % (T + 1) : T);
  if (k.lens) lens.data<int32_t>()[B - 1] = int32_t(T);

  ModelBuilder mb(k.layout ? 14 : 13);
  mb.input("X", xs);
  if (k.w_as_input) mb.input("W", W.shape);
  else mb.init("W", W);
  mb.init("R", R).init("B", Bv).init("L", lens).init("h0", h0).init("c0", c0).init("P", P);
  std::vector<std::string> ins = {"X", "W", "R", "B", k.lens ? "L" : "", k.initial ? "h0" : ""};
  std::vector<std::string> outs = {"Y", "Y_h"};
  if (G == 4) {
    ins.push_back(k.initial ? "c0" : "");
    ins.push_back(k.peepholes ? "P" : "");
    outs.push_back("Y_c");
  }
  for (auto& o : outs) mb.output(o);
  auto& n = mb.node(k.op, ins, outs, "cell");
  test::set_attr(n, "hidden_size", H);
  test::set_attr(n, "direction", k.direction);
  if (k.layout) test::set_attr(n, "layout", k.layout);
  if (k.lbr) test::set_attr(n, "linear_before_reset", int64_t(1));
  if (k.input_forget) test::set_attr(n, "input_forget", int64_t(1));
  if (k.clip > 0) test::set_attr(n, "clip", k.clip);
  if (!k.acts.empty()) test::set_attr(n, "activations", k.acts);
  if (!k.alphas.empty()) test::set_attr(n, "activation_alpha", k.alphas);
  if (!k.betas.empty()) test::set_attr(n, "activation_beta", k.betas);
  const std::string bytes = mb.bytes();
  Session s(bytes.data(), bytes.size());
  std::vector<Tensor> in = {X};
  if (k.w_as_input) in.push_back(W);
  auto got = s.run(in);

  // The reference.
  std::vector<std::string> acts = k.acts;
  if (acts.empty())
    for (int64_t d = 0; d < D; ++d) {
      if (G == 4) acts.insert(acts.end(), {"Sigmoid", "Tanh", "Tanh"});
      if (G == 3) acts.insert(acts.end(), {"Sigmoid", "Tanh"});
      if (G == 1) acts.push_back("Tanh");
    }
  std::vector<double> alpha(acts.size()), beta(acts.size());
  for (size_t a = 0, ai = 0, bi = 0; a < acts.size(); ++a) {
    if (acts[a] == "LeakyRelu" || acts[a] == "HardSigmoid") alpha[a] = ai < k.alphas.size() ? k.alphas[ai++] : 0.01;
    if (acts[a] == "HardSigmoid") beta[a] = bi < k.betas.size() ? k.betas[bi++] : 0.5;
  }
  const size_t per = acts.size() / size_t(D);
  auto at = [](const Tensor& t, std::vector<int64_t> idx) {
    int64_t o = 0;
    for (size_t i = 0; i < idx.size(); ++i) o = o * t.shape[i] + idx[i];
    return double(t.data<float>()[o]);
  };
  auto clip = [&](double v) { return k.clip > 0 ? std::max(-double(k.clip), std::min(double(k.clip), v)) : v; };
  std::vector<double> Y(size_t(T * D * B * H), 0.0), Yh(size_t(D * B * H)), Yc(size_t(D * B * H));
  for (int64_t d = 0; d < D; ++d) {
    auto f = [&](size_t which, double x) { return activation(acts[size_t(d) * per + which], x, alpha[size_t(d) * per + which], beta[size_t(d) * per + which]); };
    const bool reverse = k.direction == "reverse" || d == 1;
    for (int64_t b = 0; b < B; ++b) {
      auto st = [&](const Tensor& t, int64_t j) { return k.layout ? at(t, {b, d, j}) : at(t, {d, b, j}); };
      std::vector<double> h(static_cast<size_t>(H)), c(static_cast<size_t>(H));
      for (int64_t j = 0; j < H; ++j) {
        h[size_t(j)] = k.initial ? st(h0, j) : 0;
        c[size_t(j)] = k.initial && G == 4 ? st(c0, j) : 0;
      }
      const int64_t len = lens.data<int32_t>()[b];
      for (int64_t step = 0; step < len; ++step) {
        const int64_t t = reverse ? len - 1 - step : step;
        // xw[g][j] = W x + Wb; hr[g][j] = R h + Rb (GRU without linear_before_reset: h's from (r . h), below).
        auto xw = [&](int64_t g, int64_t j) {
          double v = at(Bv, {d, g * H + j});
          for (int64_t i = 0; i < I; ++i) v += at(W, {d, g * H + j, i}) * (k.layout ? at(X, {b, t, i}) : at(X, {t, b, i}));
          return v;
        };
        auto hr = [&](int64_t g, int64_t j, const std::vector<double>& v) {
          double r = at(Bv, {d, G * H + g * H + j});
          for (int64_t i = 0; i < H; ++i) r += at(R, {d, g * H + j, i}) * v[size_t(i)];
          return r;
        };
        std::vector<double> nh(static_cast<size_t>(H)), nc(static_cast<size_t>(H));
        if (G == 4) {
          auto p = [&](int64_t g, int64_t j) { return k.peepholes ? at(P, {d, g * H + j}) : 0.0; };
          for (int64_t j = 0; j < H; ++j) {
            const double i = f(0, clip(xw(0, j) + hr(0, j, h) + p(0, j) * c[size_t(j)]));
            const double fg = k.input_forget ? 1 - i : f(0, clip(xw(2, j) + hr(2, j, h) + p(2, j) * c[size_t(j)]));
            const double cc = f(1, clip(xw(3, j) + hr(3, j, h)));
            nc[size_t(j)] = fg * c[size_t(j)] + i * cc;
            const double o = f(0, clip(xw(1, j) + hr(1, j, h) + p(1, j) * nc[size_t(j)]));
            nh[size_t(j)] = o * f(2, nc[size_t(j)]);
          }
        } else if (G == 3) {
          std::vector<double> z(static_cast<size_t>(H)), r(static_cast<size_t>(H)), rh(static_cast<size_t>(H));
          for (int64_t j = 0; j < H; ++j) {
            z[size_t(j)] = f(0, clip(xw(0, j) + hr(0, j, h)));
            r[size_t(j)] = f(0, clip(xw(1, j) + hr(1, j, h)));
            rh[size_t(j)] = r[size_t(j)] * h[size_t(j)];
          }
          for (int64_t j = 0; j < H; ++j) {
            const double hh = f(1, clip(xw(2, j) + (k.lbr ? r[size_t(j)] * hr(2, j, h) : hr(2, j, rh))));
            nh[size_t(j)] = (1 - z[size_t(j)]) * hh + z[size_t(j)] * h[size_t(j)];
          }
        } else {
          for (int64_t j = 0; j < H; ++j) nh[size_t(j)] = f(0, clip(xw(0, j) + hr(0, j, h)));
        }
        h = nh;
        if (G == 4) c = nc;
        for (int64_t j = 0; j < H; ++j)
          Y[size_t((k.layout ? ((b * T + t) * D + d) * H : ((t * D + d) * B + b) * H) + j)] = h[size_t(j)];
      }
      for (int64_t j = 0; j < H; ++j) {  // a sequence of length 0 ends in zeros, as ONNX Runtime has it
        const size_t o = size_t((k.layout ? b * D + d : d * B + b) * H + j);
        Yh[o] = len ? h[size_t(j)] : 0;
        Yc[o] = len ? c[size_t(j)] : 0;
      }
    }
  }
  const std::string what = k.op + " " + k.direction + (k.lbr ? " lbr" : "") + (k.layout ? " layout 1" : "");
  auto expect_near = [&](const Tensor& t, const std::vector<double>& want, const char* name) {
    ASSERT_EQ(size_t(t.numel()), want.size()) << what << " " << name;
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(t.data<float>()[i], want[i], 1e-5 + 1e-5 * std::fabs(want[i])) << what << " " << name << " [" << i << "]";
  };
  expect_near(got[0], Y, "Y");
  expect_near(got[1], Yh, "Y_h");
  if (G == 4) expect_near(got[2], Yc, "Y_c");
  for (auto& st : s.profile(in, 1))
    if (st.op == k.op) return st.implementation;
  return "";
}

TEST(Session, RecurrentLayersFollowTheOnnxEquations) {
  RecurrentCase lstm{"LSTM", "bidirectional"};
  lstm.lens = lstm.initial = lstm.peepholes = true;
  lstm.clip = 1.5f;
  check_recurrent(lstm);
  RecurrentCase coupled{"LSTM"};
  coupled.layout = 1;
  coupled.input_forget = coupled.initial = coupled.w_as_input = true;
  coupled.acts = {"HardSigmoid", "Tanh", "LeakyRelu"};
  coupled.alphas = {0.3f, 0.2f};
  coupled.betas = {0.4f};
  check_recurrent(coupled);
  for (bool lbr : {false, true}) {
    RecurrentCase gru{"GRU", lbr ? "bidirectional" : "reverse"};
    gru.lbr = lbr;
    gru.lens = gru.initial = true;
    gru.w_as_input = !lbr;
    check_recurrent(gru);
  }
  RecurrentCase rnn{"RNN", "bidirectional"};
  rnn.layout = 1;
  rnn.lens = rnn.initial = true;
  rnn.acts = {"Relu", "LeakyRelu"};
  rnn.alphas = {0.15f};
  check_recurrent(rnn);
  // One batch entry: the recurrent products run on gemv where R is packed in
  // its panels (H of 70: a second, partial panel of columns); more, on gemm.
  for (const char* op : {"LSTM", "GRU", "RNN"})
    for (bool lbr : {false, true}) {
      if (lbr && std::string(op) != "GRU") continue;
      RecurrentCase one{op, "bidirectional"};
      one.B = 1;
      one.H = 70;
      one.lbr = lbr;
      one.lens = one.initial = true;
      EXPECT_EQ(check_recurrent(one).find("normrt gemv") != std::string::npos, products_run_on_panels())
          << op << " lbr " << lbr;
      // More batch entries: on gemm.
      RecurrentCase many = one;
      many.B = 3;
      EXPECT_EQ(check_recurrent(many).find("normrt gemm") != std::string::npos, products_run_on_gemm())
          << op << " lbr " << lbr;
    }
}

// A sequence length outside [0, T] is an error naming the node when it runs;
// weights of the wrong shape are one when the model loads.
TEST(Session, RecurrentLayersCheckTheirLengthsAndShapes) {
  ModelBuilder b(13);
  b.input("X", {4, 1, 2}).input("L", {1}, onnx::TensorProto::INT32).output("Y");
  b.init("W", test::random_tensor({1, 3, 2}, 1)).init("R", test::random_tensor({1, 3, 3}, 2));
  test::set_attr(b.node("RNN", {"X", "W", "R", "", "L"}, {"Y"}, "rnn"), "hidden_size", int64_t(3));
  const std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  Tensor len(DType::int32, {1});
  len.data<int32_t>()[0] = 5;
  const std::string error = test::error_of([&] { s.run(std::vector<Tensor>{test::random_tensor({4, 1, 2}, 3), len}); });
  EXPECT_NE(error.find("RNN 'rnn': sequence_lens[0] = 5 is outside [0, 4]"), std::string::npos)
      << "a length of 5 in a sequence of 4 ran: " << error;
  // No steps at all: an empty Y, and zero states (as for a length of 0).
  ModelBuilder e(13);
  e.input("X", {0, 1, 2}).output("Y").output("Y_h");
  e.init("W", test::random_tensor({1, 3, 2}, 1)).init("R", test::random_tensor({1, 3, 3}, 2));
  e.init("h0", test::random_tensor({1, 1, 3}, 3));
  e.node("RNN", {"X", "W", "R", "", "", "h0"}, {"Y", "Y_h"});
  const std::string eb = e.bytes();
  Session empty(eb.data(), eb.size());
  auto none = empty.run(std::vector<Tensor>{Tensor(DType::float32, {0, 1, 2})});
  EXPECT_EQ(none[0].shape, (Shape{0, 1, 1, 3}));
  EXPECT_EQ(std::vector<float>(none[1].data<float>(), none[1].data<float>() + 3), std::vector<float>(3, 0.f));
  ModelBuilder w(13);
  w.input("X", {4, 1, 2}).output("Y");
  w.init("W", test::random_tensor({1, 3, 5}, 1)).init("R", test::random_tensor({1, 3, 3}, 2));
  w.node("RNN", {"X", "W", "R"}, {"Y"}, "rnn");
  const std::string wb = w.bytes();
  const std::string load_error = test::error_of([&] { Session bad(wb.data(), wb.size()); });
  EXPECT_NE(load_error.find("RNN 'rnn': input 1 has shape [1,3,5], expected [1,3,2]"), std::string::npos)
      << "W of [1, 3, 5] for an input of 2 features loaded: " << load_error;
}

// Einsum against its definition summed in double here (every assignment of
// the letters, no ellipsis), through each way the kernel takes: operands read
// as they are, transposed, or regrouped by a copy; the result transposed or
// regrouped; an outer and an inner product; diagonals, sums, three operands,
// the implicit output. Ellipses are checked against loops written out.
double einsum_reference(const std::string& eq, const std::vector<Tensor>& in, const std::vector<Shape>& out_index_space,
                        std::vector<int64_t> out_index) {
  (void)out_index_space;
  std::string lhs = eq.substr(0, eq.find("->")), rhs = eq.substr(eq.find("->") + 2);
  std::vector<std::string> terms;
  for (size_t b = 0;;) {
    size_t e = lhs.find(',', b);
    terms.push_back(lhs.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  std::map<char, int64_t> dim, fixed;
  for (size_t k = 0; k < terms.size(); ++k)
    for (size_t a = 0; a < terms[k].size(); ++a) dim[terms[k][a]] = in[k].shape[a];
  for (size_t a = 0; a < rhs.size(); ++a) fixed[rhs[a]] = out_index[a];
  std::vector<char> free;
  for (auto [ch, d] : dim)
    if (!fixed.count(ch)) free.push_back(ch);
  double sum = 0;
  std::map<char, int64_t> at = fixed;
  std::function<void(size_t)> walk = [&](size_t f) {
    if (f == free.size()) {
      double p = 1;
      for (size_t k = 0; k < terms.size(); ++k) {
        int64_t o = 0;
        for (size_t a = 0; a < terms[k].size(); ++a) o = o * in[k].shape[a] + at[terms[k][a]];
        p *= in[k].data<float>()[o];
      }
      sum += p;
      return;
    }
    for (int64_t v = 0; v < dim[free[f]]; ++v) {
      at[free[f]] = v;
      walk(f + 1);
    }
  };
  walk(0);
  return sum;
}

Tensor run_einsum(const std::string& eq, const std::vector<Tensor>& in) {
  ModelBuilder b(13);
  std::vector<std::string> names;
  for (size_t k = 0; k < in.size(); ++k) {
    names.push_back("x" + std::to_string(k));
    b.input(names.back(), in[k].shape);
  }
  b.output("y");
  test::set_attr(b.node("Einsum", names, {"y"}, "e"), "equation", eq);
  const std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  return s.run(in)[0];
}

TEST(Session, EinsumFollowsItsDefinition) {
  struct Case {
    std::string eq;
    std::vector<Shape> shapes;
  };
  const std::vector<Case> cases = {
      {"bhqd,bhkd->bhqk", {{2, 3, 5, 4}, {2, 3, 6, 4}}},  // b transposed
      {"bhqk,bhkd->bhqd", {{2, 3, 5, 6}, {2, 3, 6, 4}}},  // as stored
      {"bti,oi->bto", {{2, 5, 7}, {3, 7}}},               // a linear layer
      {"ij,jk->ki", {{4, 5}, {5, 3}}},                    // the result transposed: the operands swap
      {"bqk,bkd->dq", {{2, 3, 4}, {2, 4, 5}}},            // b and k contracted, the result transposed
      // Found by tests/fuzz_model.cpp (implicitly "bqk,bkd"): one row; as a
      // product writing a transposed result oneDNN refused it at run time.
      {"bqk,bkd->dq", {{2, 1, 1}, {2, 1, 3}}},
      {"ibj,jk->bik", {{4, 2, 5}, {5, 3}}},               // a regrouped by a copy
      {"jb,ijk->kbi", {{5, 2}, {3, 5, 4}}},               // b and the result regrouped
      {"i,i->", {{7}, {7}}},                              // inner product
      {"i,j->ij", {{3}, {4}}},                            // outer product
      {"btd,d->btd", {{2, 3, 4}, {4}}},                   // a per-feature scale
      {"ij->i", {{3, 4}}},
      {"ij->ji", {{3, 4}}},
      {"bii->bi", {{2, 3, 3}}},
      {"bii->b", {{2, 3, 3}}},
      {"ij,jk->i", {{3, 4}, {4, 2}}},                     // k summed in one operand only
      {"ab,bc,cd->ad", {{2, 3}, {3, 4}, {4, 2}}},
      {"ab,bc,cd->a", {{2, 3}, {3, 4}, {4, 2}}},          // d only in the last operand
      {"i,j->", {{5}, {3}}},
  };
  unsigned seed = 1;
  for (const Case& c : cases) {
    std::vector<Tensor> in;
    for (const Shape& s : c.shapes) in.push_back(test::random_tensor(s, seed++));
    Tensor got = run_einsum(c.eq, in);
    const std::string rhs = c.eq.substr(c.eq.find("->") + 2);
    ASSERT_EQ(got.shape.size(), rhs.size()) << c.eq;
    std::vector<int64_t> idx(rhs.size(), 0);
    for (int64_t i = 0; i < got.numel(); ++i) {
      for (int64_t r = i, a = int64_t(idx.size()) - 1; a >= 0; --a) {
        idx[size_t(a)] = r % got.shape[size_t(a)];
        r /= got.shape[size_t(a)];
      }
      const double want = einsum_reference(c.eq, in, {}, idx);
      EXPECT_NEAR(got.data<float>()[i], want, 1e-5 + 1e-5 * std::fabs(want)) << c.eq << " at " << i;
    }
  }
  // The implicit output: the letters used once, in alphabetical order.
  Tensor x = test::random_tensor({3, 4}, 50);
  Tensor t = run_einsum("ba", {x});
  ASSERT_EQ(t.shape, (Shape{4, 3}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(t.data<float>()[j * 3 + i], x.data<float>()[i * 4 + j]);
  // Ellipses, broadcasting their dims of 1: [2,1,3,4] x [5,4,2] -> [2,5,3,2].
  Tensor a = test::random_tensor({2, 1, 3, 4}, 51), b = test::random_tensor({5, 4, 2}, 52);
  Tensor y = run_einsum("...ij,...jk->...ik", {a, b});
  ASSERT_EQ(y.shape, (Shape{2, 5, 3, 2}));
  for (int64_t p = 0; p < 2; ++p)
    for (int64_t q = 0; q < 5; ++q)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t k = 0; k < 2; ++k) {
          double want = 0;
          for (int64_t j = 0; j < 4; ++j) want += double(a.data<float>()[(p * 3 + i) * 4 + j]) * b.data<float>()[(q * 4 + j) * 2 + k];
          EXPECT_NEAR(y.data<float>()[((p * 5 + q) * 3 + i) * 2 + k], want, 1e-5) << p << q << i << k;
        }
  // Indices each only one operand has are summed within it first: a sum of
  // 2^40 products written out would not finish.
  std::vector<Tensor> big;
  double want_big = 1;
  for (unsigned k = 0; k < 4; ++k) {
    big.push_back(test::random_tensor({1024}, 60 + k, 0.f, 0.002f));
    double sum = 0;
    for (int64_t i = 0; i < 1024; ++i) sum += big.back().data<float>()[i];
    want_big *= sum;
  }
  Tensor prod = run_einsum("a,b,c,d->", big);
  EXPECT_NEAR(prod.data<float>()[0], want_big, 1e-5 * std::fabs(want_big));
  Tensor d = run_einsum("...ii->...i", {test::random_tensor({2, 3, 3}, 53)});
  ASSERT_EQ(d.shape, (Shape{2, 3}));
  Tensor src = test::random_tensor({2, 3, 3}, 53);
  for (int64_t p = 0; p < 2; ++p)
    for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(d.data<float>()[p * 3 + i], src.data<float>()[(p * 3 + i) * 3 + i]);
}

TEST(Session, EinsumEquationsThatDoNotFitAreErrorsNamingTheNode) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"ij,jk->ik", "index 'j' is 4 in one place and 5 in another"},
      {"ij,kl->m", "output index 'm' is in no input"},
      {"ijk,jk->i", "term 0 has 3 indices for an input of rank 2"},
      {"ij,jk,kl->il", "3 terms for 2 inputs"},
      {"i$,jk->ik", "unexpected character '$'"},
      {"ii,jk->i", "term 0 takes a diagonal of dims 3 and 4"},
  };
  for (auto& [eq, why] : bad) {
    const std::string error = test::error_of([&] {
      run_einsum(eq, {test::random_tensor({3, 4}, 1), test::random_tensor({5, 2}, 2)});
    });
    EXPECT_NE(error.find("Einsum 'e': equation '" + eq + "': " + why), std::string::npos) << eq << " loaded: " << error;
  }
}

// GatherND with negative indices and batch_dims, an index out of range as an
// error naming the node; CastLike to an integer type; EyeLike off the matrix.
TEST(Session, GatherNDCastLikeAndEyeLike) {
  ModelBuilder b(15);
  b.input("x", {2, 3, 2}).input("i", {2, 1, 2}, onnx::TensorProto::INT64).output("g").output("c", onnx::TensorProto::INT64);
  b.output("e").output("n");
  test::set_attr(b.node("GatherND", {"x", "i"}, {"g"}, "gather"), "batch_dims", int64_t(1));
  b.init("like", test::int64_tensor({1}, {0}));
  b.node("CastLike", {"x", "like"}, {"c"});
  b.init("sq", test::random_tensor({3, 4}, 1));
  test::set_attr(b.node("EyeLike", {"sq"}, {"e"}), "k", int64_t(-1));
  test::set_attr(b.node("EyeLike", {"sq"}, {"n"}), "k", int64_t(4));
  const std::string bytes = b.bytes();
  Session s(bytes.data(), bytes.size());
  const Tensor x = test::float_tensor({2, 3, 2}, {0, 1, 2, 3, 4, 5, 6.5f, -7.5f, 8, 9, 10, 11});
  auto out = s.run(std::vector<Tensor>{x, test::int64_tensor({2, 1, 2}, {-1, 0, 1, -2})});
  // Batch 0, row -1 (2), col 0: 4; batch 1, row 1, col -2 (0): 8.
  EXPECT_EQ(std::vector<float>(out[0].data<float>(), out[0].data<float>() + 2), (std::vector<float>{4, 8}));
  EXPECT_EQ(out[0].shape, (Shape{2, 1}));
  EXPECT_EQ(out[1].as_int64(), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, -7, 8, 9, 10, 11}));
  EXPECT_EQ(std::vector<float>(out[2].data<float>(), out[2].data<float>() + 12),
            (std::vector<float>{0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(std::vector<float>(out[3].data<float>(), out[3].data<float>() + 12), std::vector<float>(12, 0.f));
  const std::string error = test::error_of([&] {
    s.run(std::vector<Tensor>{x, test::int64_tensor({2, 1, 2}, {0, 0, 3, 0})});
  });
  EXPECT_NE(error.find("GatherND 'gather': index 3 is out of range for a dim of 3"), std::string::npos)
      << "a row of 3 in a dim of 3 ran: " << error;
}

// Upsample as opsets 7 and 9 define it (asymmetric coordinates; ONNX's own
// data cover only nearest): linear on [[1, 2], [3, 4]] doubled is the
// example from the operator's old documentation.
TEST(Session, UpsampleLinearAtOpsetsSevenAndNine) {
  const std::vector<float> want = {1, 1.5f, 2, 2, 2, 2.5f, 3, 3, 3, 3.5f, 4, 4, 3, 3.5f, 4, 4};
  for (int opset : {7, 9}) {
    ModelBuilder b(opset);
    b.input("x", {1, 1, 2, 2}).output("y");
    std::vector<std::string> in = {"x"};
    if (opset == 9) {
      b.init("scales", test::float_tensor({4}, {1, 1, 2, 2}));
      in.push_back("scales");
    }
    auto& n = b.node("Upsample", in, {"y"});
    test::set_attr(n, "mode", std::string("linear"));
    if (opset == 7) test::set_attr(n, "scales", std::vector<float>{1, 1, 2, 2});
    const std::string bytes = b.bytes();
    Session s(bytes.data(), bytes.size());
    auto out = s.run(std::vector<Tensor>{test::float_tensor({1, 1, 2, 2}, {1, 2, 3, 4})});
    ASSERT_EQ(out[0].shape, (Shape{1, 1, 4, 4})) << opset;
    EXPECT_EQ(std::vector<float>(out[0].data<float>(), out[0].data<float>() + 16), want) << opset;
  }
}

// Found by an independent review: GridSample reflects a far-out point as
// PyTorch does (it was clamped first), and refuses an image with no pixels;
// GatherND and Upsample with empty outputs beside huge dims load and run.
TEST(Session, GridSampleFarPointsGatherNDEmptySlicesUpsampleEmptyOutput) {
  {
    ModelBuilder b(16);
    b.input("x", {1, 1, 1, 3}).input("g", {1, 1, 1, 2}).output("y");
    auto& n = b.node("GridSample", {"x", "g"}, {"y"}, "gs");
    test::set_attr(n, "mode", std::string("nearest"));
    test::set_attr(n, "padding_mode", std::string("reflection"));
    const std::string bytes = b.bytes();
    Session s(bytes.data(), bytes.size());
    // x = 1000001: 1500002.5 in pixels, reflected over [-0.5, 2.5] to 2.5, clipped to 2.
    auto out = s.run(std::vector<Tensor>{test::float_tensor({1, 1, 1, 3}, {10, 20, 30}), test::float_tensor({1, 1, 1, 2}, {1000001, 0})});
    EXPECT_EQ(out[0].data<float>()[0], 30.f);
  }
  {
    ModelBuilder b(16);
    b.input("x", {1, 1, 0, 3}).input("g", {1, 1, 1, 2}).output("y");
    b.node("GridSample", {"x", "g"}, {"y"}, "gs");
    const std::string bytes = b.bytes();
    const std::string error = test::error_of([&] { Session s(bytes.data(), bytes.size()); });
    EXPECT_NE(error.find("GridSample 'gs': X [1,1,0,3] has no pixels to sample"), std::string::npos)
        << "a GridSample of an image with no rows loaded: " << error;
  }
  {
    ModelBuilder b(13);
    b.input("x", {3, 0}).input("i", {1, 1}, onnx::TensorProto::INT64).output("y");
    b.node("GatherND", {"x", "i"}, {"y"}, "gather");
    const std::string bytes = b.bytes();
    Session s(bytes.data(), bytes.size());
    auto out = s.run(std::vector<Tensor>{Tensor(DType::float32, {3, 0}), test::int64_tensor({1, 1}, {1})});
    EXPECT_EQ(out[0].shape, (Shape{1, 0}));  // (a step whose outputs are all empty does not run)
  }
  {
    ModelBuilder b(9);
    b.input("x", {0, 1}).output("y");
    b.init("scales", test::float_tensor({2}, {1, 1e11f}));
    b.node("Upsample", {"x", "scales"}, {"y"});
    const std::string bytes = b.bytes();
    Session s(bytes.data(), bytes.size());
    auto out = s.run(std::vector<Tensor>{Tensor(DType::float32, {0, 1})});
    EXPECT_EQ(out[0].shape, (Shape{0, int64_t(1e11f)}));
  }
}

}  // namespace
}  // namespace normrt
