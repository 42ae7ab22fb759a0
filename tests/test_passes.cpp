// Each rewrite on small graphs built for it: the new structure, the outputs
// unchanged within 1e-5 relative (optimized against the unoptimized graph,
// whose kernels compute the pattern step by step), and the cases the pass
// must leave alone.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/session.h"
#include "tests/test_util.h"

namespace normrt {
namespace {
using test::ModelBuilder;
using test::random_tensor;
using test::set_attr;

int count(const Session& s, const std::string& op) {
  int n = 0;
  for (auto& node : s.graph().nodes) n += node.op_type == op;
  return n;
}

// Loads `b` optimized, checks it against the unoptimized graph on `inputs`, returns the optimized session.
std::unique_ptr<Session> optimized(const ModelBuilder& b, const std::vector<Tensor>& inputs,
                                   std::set<std::string> disabled = {}) {
  const std::string bytes = b.bytes();
  SessionOptions off;
  off.optimize = false;
  Session plain(bytes.data(), bytes.size(), off);
  SessionOptions on;
  on.disabled_passes = std::move(disabled);
  auto s = std::make_unique<Session>(bytes.data(), bytes.size(), on);
  auto want = plain.run(inputs), got = s->run(inputs);
  for (size_t k = 0; k < want.size(); ++k) EXPECT_LE(test::max_rel_diff(got[k], want[k]), 1e-5) << "output " << k;
  return s;
}

Tensor positive(Shape s, unsigned seed) { return random_tensor(std::move(s), seed, 0.5f, 1.5f); }

void add_bn(ModelBuilder& b, const std::string& in, const std::string& out, int64_t C, unsigned seed) {
  b.init(out + "_g", positive({C}, seed)).init(out + "_b", random_tensor({C}, seed + 1));
  b.init(out + "_m", random_tensor({C}, seed + 2)).init(out + "_v", positive({C}, seed + 3));
  b.node("BatchNormalization", {in, out + "_g", out + "_b", out + "_m", out + "_v"}, {out});
}

TEST(FoldBatchNorm, IntoConvGroupedDepthwiseWithAndWithoutBias) {
  for (int64_t group : {1, 2, 4})
    for (bool bias : {true, false}) {
      ModelBuilder b;
      b.input("x", {1, 4, 6, 6}).output("y");
      b.init("w", random_tensor({4, 4 / group, 3, 3}, 1));
      std::vector<std::string> in{"x", "w"};
      if (bias) {
        b.init("bias", random_tensor({4}, 2));
        in.push_back("bias");
      }
      set_attr(b.node("Conv", in, {"c"}), "group", group);
      add_bn(b, "c", "y", 4, 10);
      auto s = optimized(b, {random_tensor({1, 4, 6, 6}, 3)});
      EXPECT_EQ(count(*s, "BatchNormalization"), 0) << "group " << group;
      EXPECT_EQ(count(*s, "Conv"), 1);
    }
}

TEST(FoldBatchNorm, IntoConvTransposeWithItsOwnWeightLayout) {
  for (int64_t group : {1, 2})
    for (bool bias : {true, false}) {
      ModelBuilder b;
      b.input("x", {1, 4, 5, 5}).output("y");
      // [C_in, C_out/group, kh, kw]: 6 output channels.
      b.init("w", random_tensor({4, 6 / group, 3, 3}, 1));
      std::vector<std::string> in{"x", "w"};
      if (bias) {
        b.init("bias", random_tensor({6}, 2));
        in.push_back("bias");
      }
      auto& ct = b.node("ConvTranspose", in, {"c"});
      set_attr(ct, "group", group);
      set_attr(ct, "strides", std::vector<int64_t>{2, 2});
      add_bn(b, "c", "y", 6, 10);
      auto s = optimized(b, {random_tensor({1, 4, 5, 5}, 3)});
      EXPECT_EQ(count(*s, "BatchNormalization"), 0) << "group " << group;
      EXPECT_EQ(count(*s, "ConvTranspose"), 1);
    }
}

TEST(FoldBatchNorm, IntoGemmBothTransposesAndMatMulAdd) {
  for (int64_t tb : {0, 1}) {
    ModelBuilder b;
    b.input("x", {2, 5}).output("y");
    b.init("w", random_tensor(tb ? Shape{3, 5} : Shape{5, 3}, 1)).init("c", random_tensor({3}, 2));
    auto& gemm = b.node("Gemm", {"x", "w", "c"}, {"g"});
    set_attr(gemm, "transB", tb);
    set_attr(gemm, "alpha", 0.7f);
    set_attr(gemm, "beta", 1.3f);
    add_bn(b, "g", "y", 3, 20);
    auto s = optimized(b, {random_tensor({2, 5}, 3)}, {"fuse_matmul_bias"});
    EXPECT_EQ(count(*s, "BatchNormalization"), 0) << "transB " << tb;
  }
  ModelBuilder b;
  b.input("x", {2, 5}).output("y");
  b.init("w", random_tensor({5, 3}, 1)).init("bias", random_tensor({3}, 2));
  b.node("MatMul", {"x", "w"}, {"m"});
  b.node("Add", {"m", "bias"}, {"a"});
  add_bn(b, "a", "y", 3, 30);
  auto s = optimized(b, {random_tensor({2, 5}, 3)}, {"fuse_matmul_bias"});
  EXPECT_EQ(count(*s, "BatchNormalization"), 0);
  EXPECT_EQ(count(*s, "MatMul"), 1);
}

TEST(FoldBatchNorm, LeavesSharedConvOutputsAndTrainingModeAlone) {
  {
    ModelBuilder b;
    b.input("x", {1, 2, 5, 5}).output("y").output("z");
    b.init("w", random_tensor({2, 2, 3, 3}, 1));
    b.node("Conv", {"x", "w"}, {"c"});
    add_bn(b, "c", "y", 2, 10);
    b.node("Relu", {"c"}, {"z"});  // a second consumer of the conv output
    auto s = optimized(b, {random_tensor({1, 2, 5, 5}, 3)});
    EXPECT_EQ(count(*s, "BatchNormalization"), 1);
  }
  {
    ModelBuilder b(15);
    b.input("x", {2, 2, 5, 5}).output("y").output("rm").output("rv");
    b.init("w", random_tensor({2, 2, 3, 3}, 1));
    b.node("Conv", {"x", "w"}, {"c"});
    add_bn(b, "c", "y", 2, 10);
    auto& bn = b.m.mutable_graph()->mutable_node()->at(1);
    bn.add_output("rm");
    bn.add_output("rv");
    set_attr(bn, "training_mode", int64_t(1));
    auto s = optimized(b, {random_tensor({2, 2, 5, 5}, 3)});
    EXPECT_EQ(count(*s, "BatchNormalization"), 1);
  }
}

// The decomposed LayerNorm of torch.onnx.export below opset 17, in its variants.
enum class Square { pow, mul };
// At opset 18 ReduceMean takes its axes as an input, before as an attribute.
ModelBuilder decomposed_ln(Square sq, bool reciprocal, bool gamma, bool beta, std::vector<int64_t> axes = {-1},
                           Shape x_shape = {2, 3, 8}, int opset = 13) {
  ModelBuilder b(opset);
  b.input("x", x_shape).output("y");
  b.init("two", test::scalar_tensor(2)).init("eps", test::scalar_tensor(1e-5f));
  b.init("gamma", positive({x_shape.back()}, 5)).init("beta", random_tensor({x_shape.back()}, 6));
  if (opset >= 18) b.init("axes", test::int64_tensor({int64_t(axes.size())}, axes));
  auto reduce_mean = [&](const std::string& in, const std::string& out) {
    if (opset >= 18) b.node("ReduceMean", {in, "axes"}, {out});
    else set_attr(b.node("ReduceMean", {in}, {out}), "axes", axes);
  };
  reduce_mean("x", "m");
  b.node("Sub", {"x", "m"}, {"d"});
  if (sq == Square::pow) b.node("Pow", {"d", "two"}, {"p"});
  else b.node("Mul", {"d", "d"}, {"p"});
  reduce_mean("p", "v");
  b.node("Add", {"v", "eps"}, {"ve"});
  b.node("Sqrt", {"ve"}, {"s"});
  std::string out = beta || gamma ? "n" : "y";
  if (reciprocal) {
    b.node("Reciprocal", {"s"}, {"r"});
    b.node("Mul", {"d", "r"}, {out});
  } else {
    b.node("Div", {"d", "s"}, {out});
  }
  if (gamma) {
    b.node("Mul", {out, "gamma"}, {beta ? "ng" : "y"});
    out = "ng";
  }
  if (beta) b.node("Add", {gamma ? "ng" : "n", "beta"}, {"y"});
  return b;
}

TEST(FuseLayerNorm, EveryVariantBecomesOneNode) {
  const Tensor x = random_tensor({2, 3, 8}, 9, -2, 3);
  for (Square sq : {Square::pow, Square::mul})
    for (bool reciprocal : {false, true})
      for (int affine = 0; affine < 4; ++affine) {
        auto s = optimized(decomposed_ln(sq, reciprocal, affine & 1, affine & 2), {x}, {"fuse_add_layer_norm"});
        EXPECT_EQ(count(*s, "LayerNormalization"), 1);
        EXPECT_EQ(s->graph().nodes.size(), 1u) << "sq " << int(sq) << " recip " << reciprocal << " affine " << affine;
      }
  // Two trailing axes.
  ModelBuilder two = decomposed_ln(Square::pow, false, false, false, {-2, -1});
  auto s = optimized(two, {x});
  EXPECT_EQ(count(*s, "LayerNormalization"), 1);
}

// Opset 18 gives ReduceMean its axes as an input. (libonnx 1.12 knows
// opsets up to 17: the loader must not check such a node against the
// opset-17 schema, which takes one input.) Checked against float64.
TEST(FuseLayerNorm, Opset18ReduceMeanWithAxesInput) {
  const int64_t R = 6, D = 8;
  const Tensor x = random_tensor({R, D}, 3, -2, 3);
  auto s = optimized(decomposed_ln(Square::pow, false, false, false, {-1}, {R, D}, 18), {x});
  EXPECT_EQ(count(*s, "LayerNormalization"), 1);
  const Tensor y = s->run(std::vector<Tensor>{x})[0];
  for (int64_t r = 0; r < R; ++r) {
    const float* row = x.data<float>() + r * D;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < D; ++i) mean += row[i] / double(D);
    for (int64_t i = 0; i < D; ++i) var += (row[i] - mean) * (row[i] - mean) / double(D);
    for (int64_t i = 0; i < D; ++i)
      EXPECT_NEAR(y.data<float>()[r * D + i], (row[i] - mean) / std::sqrt(var + 1e-5), 1e-5);
  }
}

TEST(FuseLayerNorm, LeavesNonTrailingAxesAndSharedIntermediatesAlone) {
  const Tensor x = random_tensor({2, 3, 8}, 9);
  auto s = optimized(decomposed_ln(Square::pow, false, true, true, {-2}), {x});
  EXPECT_EQ(count(*s, "LayerNormalization"), 0);
  EXPECT_EQ(count(*s, "ReduceMean"), 2);

  ModelBuilder b = decomposed_ln(Square::pow, false, true, true);
  b.output("d");  // the centred value is also a graph output
  s = optimized(b, {x});
  EXPECT_EQ(count(*s, "LayerNormalization"), 0);
}

TEST(FuseRmsNorm, PowMeanSqrtReciprocalBecomesOneNode) {
  for (bool reciprocal : {false, true}) {
    ModelBuilder b;
    b.input("x", {2, 16}).output("y");
    b.init("two", test::scalar_tensor(2)).init("eps", test::scalar_tensor(1e-6f)).init("gamma", positive({16}, 3));
    b.node("Pow", {"x", "two"}, {"p"});
    set_attr(b.node("ReduceMean", {"p"}, {"m"}), "axes", std::vector<int64_t>{-1});
    b.node("Add", {"m", "eps"}, {"me"});
    b.node("Sqrt", {"me"}, {"s"});
    if (reciprocal) {
      b.node("Reciprocal", {"s"}, {"r"});
      b.node("Mul", {"x", "r"}, {"n"});
    } else {
      b.node("Div", {"x", "s"}, {"n"});
    }
    b.node("Mul", {"n", "gamma"}, {"y"});
    auto s = optimized(b, {random_tensor({2, 16}, 4)});
    EXPECT_EQ(count(*s, "RMSNormalization"), 1);
    EXPECT_EQ(s->graph().nodes.size(), 1u);
  }
}

TEST(FuseGelu, ErfAndTanhFormsBecomeOneNode) {
  {
    ModelBuilder b;
    b.input("x", {3, 10}).output("y");
    b.init("sqrt2", test::scalar_tensor(1.4142135f)).init("one", test::scalar_tensor(1)).init("half", test::scalar_tensor(0.5f));
    b.node("Div", {"x", "sqrt2"}, {"d"});
    b.node("Erf", {"d"}, {"e"});
    b.node("Add", {"e", "one"}, {"a"});
    b.node("Mul", {"x", "a"}, {"m"});
    b.node("Mul", {"m", "half"}, {"y"});
    auto s = optimized(b, {random_tensor({3, 10}, 1, -4, 4)});
    EXPECT_EQ(count(*s, "Gelu"), 1);
    EXPECT_EQ(s->graph().nodes.size(), 1u);
  }
  {
    ModelBuilder b;
    b.input("x", {3, 10}).output("y");
    b.init("three", test::scalar_tensor(3)).init("c", test::scalar_tensor(0.044715f));
    b.init("k", test::scalar_tensor(0.7978845608f)).init("one", test::scalar_tensor(1)).init("half", test::scalar_tensor(0.5f));
    b.node("Pow", {"x", "three"}, {"x3"});
    b.node("Mul", {"c", "x3"}, {"cx3"});
    b.node("Add", {"x", "cx3"}, {"in"});
    b.node("Mul", {"k", "in"}, {"kin"});
    b.node("Tanh", {"kin"}, {"t"});
    b.node("Add", {"t", "one"}, {"a"});
    b.node("Mul", {"x", "half"}, {"hx"});
    b.node("Mul", {"hx", "a"}, {"y"});
    auto s = optimized(b, {random_tensor({3, 10}, 1, -4, 4)});
    EXPECT_EQ(count(*s, "Gelu"), 1);
    EXPECT_EQ(s->graph().nodes.size(), 1u);
  }
}

TEST(FuseConvActivation, ActivationsAndResidualAddJoinTheConv) {
  for (const char* act : {"Relu", "LeakyRelu", "Sigmoid", "HardSwish", "Clip"}) {
    ModelBuilder b(14);
    b.input("x", {1, 3, 7, 7}).input("r", {1, 4, 7, 7}).output("y");
    b.init("w", random_tensor({4, 3, 3, 3}, 1)).init("bias", random_tensor({4}, 2));
    b.init("lo", test::scalar_tensor(0)).init("hi", test::scalar_tensor(0.3f));
    auto& conv = b.node("Conv", {"x", "w", "bias"}, {"c"});
    set_attr(conv, "pads", std::vector<int64_t>{1, 1, 1, 1});
    b.node("Add", {"c", "r"}, {"s"});
    if (std::string(act) == "Clip") b.node(act, {"s", "lo", "hi"}, {"y"});
    else b.node(act, {"s"}, {"y"});
    auto s = optimized(b, {random_tensor({1, 3, 7, 7}, 3), random_tensor({1, 4, 7, 7}, 4)});
    EXPECT_EQ(count(*s, "FusedConv"), 1) << act;
    EXPECT_EQ(s->graph().nodes.size(), 1u) << act;
  }
  // A residual that broadcasts ([C,1,1]) is added after the convolution.
  ModelBuilder b;
  b.input("x", {1, 3, 5, 5}).output("y");
  b.init("w", random_tensor({4, 3, 3, 3}, 1)).init("r", random_tensor({4, 1, 1}, 2));
  b.node("Conv", {"x", "w"}, {"c"});
  b.node("Add", {"c", "r"}, {"s"});
  b.node("Relu", {"s"}, {"y"});
  auto s = optimized(b, {random_tensor({1, 3, 5, 5}, 3)});
  EXPECT_EQ(count(*s, "FusedConv"), 1);
}

TEST(FuseConvActivation, LeavesAConvOutputReadTwiceAlone) {
  ModelBuilder b;
  b.input("x", {1, 3, 5, 5}).output("y").output("c");
  b.init("w", random_tensor({4, 3, 3, 3}, 1));
  b.node("Conv", {"x", "w"}, {"c"});
  b.node("Relu", {"c"}, {"y"});
  auto s = optimized(b, {random_tensor({1, 3, 5, 5}, 3)});
  EXPECT_EQ(count(*s, "Conv"), 1);
  EXPECT_EQ(count(*s, "FusedConv"), 0);
}

TEST(FuseMatMulBias, MatMulAddGeluAndGemmBecomeOneNode) {
  ModelBuilder b;
  b.input("x", {2, 5, 6}).output("y");
  b.init("w", random_tensor({6, 4}, 1)).init("bias", random_tensor({4}, 2));
  b.node("MatMul", {"x", "w"}, {"m"});
  b.node("Add", {"bias", "m"}, {"a"});
  b.node("Relu", {"a"}, {"y"});
  auto s = optimized(b, {random_tensor({2, 5, 6}, 3)});
  EXPECT_EQ(count(*s, "FusedMatMul"), 1);
  EXPECT_EQ(s->graph().nodes.size(), 1u);

  ModelBuilder g;
  g.input("x", {3, 6}).output("y");
  g.init("w", random_tensor({4, 6}, 1)).init("c", random_tensor({4}, 2));
  set_attr(g.node("Gemm", {"x", "w", "c"}, {"y"}), "transB", int64_t(1));
  s = optimized(g, {random_tensor({3, 6}, 3)});
  EXPECT_EQ(count(*s, "FusedMatMul"), 1);
}

// Attention's head split, scaling and merge around its two products:
// y[s,h,d] = sum_t (0.5 * sum_e q[s,h,e]/2 * k[t,h,e]) / 4 * v[t,h,d], all in
// [seq, heads, dim] storage, checked against float64 as well.
TEST(FoldIntoMatMul, AttentionTransposesAndScalesBecomeStridesAndAlpha) {
  const int64_t S = 5, H = 3, D = 4;
  ModelBuilder b;
  b.input("q", {S, H, D}).input("k", {S, H, D}).input("v", {S, H, D}).output("y");
  b.init("two", test::float_tensor({1}, {2.f})).init("half", test::float_tensor({}, {0.5f}));
  b.init("four", test::float_tensor({}, {4.f}));
  set_attr(b.node("Transpose", {"q"}, {"qt"}), "perm", std::vector<int64_t>{1, 0, 2});
  b.node("Div", {"qt", "two"}, {"qs"});
  set_attr(b.node("Transpose", {"k"}, {"kt"}), "perm", std::vector<int64_t>{1, 2, 0});
  b.node("MatMul", {"qs", "kt"}, {"scores"});
  b.node("Mul", {"half", "scores"}, {"halved"});
  b.node("Div", {"halved", "four"}, {"scaled"});
  set_attr(b.node("Transpose", {"v"}, {"vt"}), "perm", std::vector<int64_t>{1, 0, 2});
  b.node("MatMul", {"scaled", "vt"}, {"o"});
  set_attr(b.node("Transpose", {"o"}, {"y"}), "perm", std::vector<int64_t>{1, 0, 2});
  std::vector<Tensor> in{random_tensor({S, H, D}, 1), random_tensor({S, H, D}, 2), random_tensor({S, H, D}, 3)};
  auto s = optimized(b, in);
  EXPECT_EQ(s->graph().nodes.size(), 2u);
  EXPECT_EQ(count(*s, "FusedMatMul"), 2);
  const Tensor y = s->run(in)[0];
  ASSERT_EQ(y.shape, (Shape{S, H, D}));
  auto at = [&](const Tensor& t, int64_t i, int64_t h, int64_t d) { return double(t.data<float>()[(i * H + h) * D + d]); };
  for (int64_t i = 0; i < S; ++i)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < D; ++d) {
        double want = 0;
        for (int64_t t = 0; t < S; ++t) {
          double score = 0;
          for (int64_t e = 0; e < D; ++e) score += at(in[0], i, h, e) / 2 * at(in[1], t, h, e);
          want += 0.5 * score / 4 * at(in[2], t, h, d);
        }
        EXPECT_NEAR(at(y, i, h, d), want, 1e-5);
      }
}

// Products of one row or one column with their operands or result
// transposed (a decoder's single query): a result of one row stored
// transposed was accepted by oneDNN when planned and refused when run.
TEST(FoldIntoMatMul, OneRowAndOneColumnProductsWithTransposesMatchFloat64) {
  struct Case {
    Shape a, b;              // as given
    std::vector<int64_t> pa, pb, py;  // transposes of a, b and the result (empty: none)
  };
  const Case cases[] = {
      {{2, 1, 3}, {2, 3, 4}, {}, {}, {0, 2, 1}},         // [2,1,4] -> [2,4,1]
      {{2, 3, 1}, {2, 3, 4}, {0, 2, 1}, {}, {}},         // a [2,1,3]
      {{2, 5, 3}, {2, 1, 3}, {}, {0, 2, 1}, {0, 2, 1}},  // b [2,3,1]; [2,5,1] -> [2,1,5]
      {{1, 2, 3}, {2, 3, 4}, {1, 0, 2}, {}, {1, 0, 2}},  // a [2,1,3]; [2,1,4] -> [1,2,4]
  };
  auto transposed = [](const Tensor& t, const std::vector<int64_t>& perm) {
    if (perm.empty()) return t;
    Shape shape;
    for (int64_t p : perm) shape.push_back(t.shape[size_t(p)]);
    Tensor r(DType::float32, shape);
    for (int64_t i = 0; i < shape[0]; ++i)
      for (int64_t j = 0; j < shape[1]; ++j)
        for (int64_t k = 0; k < shape[2]; ++k) {
          int64_t at[3];
          at[perm[0]] = i, at[perm[1]] = j, at[perm[2]] = k;
          r.data<float>()[(i * shape[1] + j) * shape[2] + k] =
              t.data<float>()[(at[0] * t.shape[1] + at[1]) * t.shape[2] + at[2]];
        }
    return r;
  };
  unsigned seed = 1;
  for (const Case& c : cases) {
    const std::vector<Tensor> in{random_tensor(c.a, seed), random_tensor(c.b, seed + 1)};
    seed += 2;
    ModelBuilder b;
    b.input("a", c.a).input("b", c.b).output("y");
    std::string a = "a", bn = "b", p = "p";
    if (!c.pa.empty()) set_attr(b.node("Transpose", {"a"}, {"at"}), "perm", c.pa), a = "at";
    if (!c.pb.empty()) set_attr(b.node("Transpose", {"b"}, {"bt"}), "perm", c.pb), bn = "bt";
    b.node("MatMul", {a, bn}, {c.py.empty() ? "y" : "p"});
    if (!c.py.empty()) set_attr(b.node("Transpose", {"p"}, {"y"}), "perm", c.py);
    auto s = optimized(b, in);
    EXPECT_EQ(count(*s, "Transpose"), 0);
    const Tensor A = transposed(in[0], c.pa), B = transposed(in[1], c.pb);
    Tensor prod(DType::float32, {A.shape[0], A.shape[1], B.shape[2]});
    for (int64_t n = 0; n < A.shape[0]; ++n)
      for (int64_t i = 0; i < A.shape[1]; ++i)
        for (int64_t j = 0; j < B.shape[2]; ++j) {
          double acc = 0;
          for (int64_t k = 0; k < A.shape[2]; ++k)
            acc += double(A.data<float>()[(n * A.shape[1] + i) * A.shape[2] + k]) *
                   double(B.data<float>()[(n * B.shape[1] + k) * B.shape[2] + j]);
          prod.data<float>()[(n * A.shape[1] + i) * B.shape[2] + j] = float(acc);
        }
    EXPECT_EQ(test::compare(s->run(in)[0], transposed(prod, c.py), 1e-6, 1e-6), "") << "case " << (seed - 1) / 2;
  }
}

// A vector operand, a 2-D product and a broadcast batch with a transposed
// result; and what must stay: a transpose read twice, a scale on a product
// with a bias, a non-scalar multiplier.
TEST(FoldIntoMatMul, VectorsBroadcastAndTheCasesLeftAlone) {
  ModelBuilder b;
  b.input("x", {2, 3, 4}).input("m", {4, 5}).input("p", {1, 3, 4}).output("xv").output("mm").output("bc");
  b.init("vec", random_tensor({4}, 1));
  b.node("MatMul", {"x", "vec"}, {"xv0"});
  set_attr(b.node("Transpose", {"xv0"}, {"xv"}), "perm", std::vector<int64_t>{1, 0});
  set_attr(b.node("Transpose", {"m"}, {"mt"}), "perm", std::vector<int64_t>{1, 0});
  b.node("MatMul", {"mt", "m"}, {"mm"});
  set_attr(b.node("Transpose", {"p"}, {"pt"}), "perm", std::vector<int64_t>{0, 2, 1});
  b.node("MatMul", {"x", "pt"}, {"bc0"});
  set_attr(b.node("Transpose", {"bc0"}, {"bc"}), "perm", std::vector<int64_t>{2, 0, 1});
  auto s = optimized(b, {random_tensor({2, 3, 4}, 2), random_tensor({4, 5}, 3), random_tensor({1, 3, 4}, 4)});
  EXPECT_EQ(count(*s, "Transpose"), 0);
  EXPECT_EQ(count(*s, "FusedMatMul"), 3);

  ModelBuilder k;
  k.input("x", {3, 4}).input("w", {3, 4}).input("v", {4}).output("y").output("xt").output("z").output("u");
  k.output("raised").output("dot");
  k.init("wc", random_tensor({4, 6}, 1)).init("bias", random_tensor({6}, 2)).init("s", test::float_tensor({}, {3.f}));
  k.init("row", random_tensor({6}, 3)).init("s111", test::float_tensor({1, 1, 1}, {3.f}));
  k.init("s1", test::float_tensor({1}, {3.f}));
  set_attr(k.node("Transpose", {"x"}, {"xt"}), "perm", std::vector<int64_t>{1, 0});
  k.node("MatMul", {"xt", "w"}, {"y"});  // xt is also an output
  k.node("MatMul", {"x", "wc"}, {"xw"});
  k.node("Add", {"xw", "bias"}, {"xb"});
  k.node("Mul", {"xb", "s"}, {"z"});    // after a bias: not alpha
  k.node("MatMul", {"x", "wc"}, {"xw2"});
  k.node("Mul", {"xw2", "row"}, {"u"});  // not a scalar
  k.node("MatMul", {"x", "wc"}, {"xw3"});
  k.node("Mul", {"xw3", "s111"}, {"raised"});  // [3,6] * [1,1,1] is [1,3,6]
  k.node("MatMul", {"v", "v"}, {"vv"});
  k.node("Div", {"vv", "s1"}, {"dot"});  // [] / [1] is [1]
  s = optimized(k, {random_tensor({3, 4}, 4), random_tensor({3, 4}, 5), random_tensor({4}, 6)});
  EXPECT_EQ(count(*s, "Transpose"), 1);
  EXPECT_EQ(count(*s, "Mul"), 3);
  EXPECT_EQ(count(*s, "Div"), 1);
  const auto outs = s->run(std::vector<Tensor>{random_tensor({3, 4}, 4), random_tensor({3, 4}, 5), random_tensor({4}, 6)});
  EXPECT_EQ(outs[4].shape, (Shape{1, 3, 6}));
  EXPECT_EQ(outs[5].shape, (Shape{1}));
}

TEST(FuseAddLayerNorm, ResidualAddJoinsAndTheSumStaysWhereRead) {
  ModelBuilder b(17);
  b.input("x", {2, 3, 8}).input("r", {2, 3, 8}).output("y").output("z");
  b.init("gamma", positive({8}, 1)).init("beta", random_tensor({8}, 2));
  b.node("Add", {"x", "r"}, {"s"});
  b.node("LayerNormalization", {"s", "gamma", "beta"}, {"n"});
  b.node("Relu", {"s"}, {"z"});  // the sum is read again
  b.node("Relu", {"n"}, {"y"});
  auto s = optimized(b, {random_tensor({2, 3, 8}, 3), random_tensor({2, 3, 8}, 4)});
  EXPECT_EQ(count(*s, "AddLayerNormalization"), 1);
  EXPECT_EQ(count(*s, "Add"), 0);
}

// Element `flat` of `out`'s index space read from `t` with numpy broadcasting.
double broadcast_at(const Tensor& t, const Shape& out, int64_t flat) {
  int64_t off = 0, stride = 1;
  for (size_t k = 0; k < out.size(); ++k) {
    const size_t o = out.size() - 1 - k;
    const int64_t idx = flat % out[o];
    flat /= out[o];
    if (k < t.shape.size()) {
      const int64_t d = t.shape[t.shape.size() - 1 - k];
      if (d != 1) off += idx * stride;
      stride *= d;
    }
  }
  return t.data<float>()[off];
}

// An Add feeding a last-axis Softmax (scores plus an attention mask, masked
// places at -inf, some rows masked whole) becomes one AddSoftmax, with
// broadcasting on either side, and matches a float64 softmax of the sum, NaN
// where every place of a row is masked. A Softmax over another axis, or a
// sum read again or returned, is left alone.
TEST(FuseAddSoftmax, MaskedScoresBecomeOneNodeMatchingFloat64) {
  struct Case {
    Shape a, m, out;
    int opset;
  };
  for (const Case& c : {Case{{6, 128, 128}, {6, 1, 128}, {6, 128, 128}, 13}, Case{{3, 1, 40}, {3, 5, 1}, {3, 5, 40}, 13},
                        Case{{2, 7, 33}, {1}, {2, 7, 33}, 13}, Case{{1, 33}, {4, 5, 33}, {4, 5, 33}, 13},
                        Case{{2, 7, 33}, {2, 7, 33}, {2, 7, 33}, 13}, Case{{1}, {2, 7, 33}, {2, 7, 33}, 13},
                        Case{{4, 1}, {4, 1}, {4, 1}, 13}, Case{{3, 5, 40}, {5, 40}, {3, 5, 40}, 11}}) {
    ModelBuilder b(c.opset);
    b.input("a", c.a).input("m", c.m).output("y");
    b.node("Add", {"a", "m"}, {"s"});
    auto& sm = b.node("Softmax", {"s"}, {"y"});
    if (c.opset < 13) set_attr(sm, "axis", int64_t(-1));
    const Tensor x = random_tensor(c.a, 5, -8.f, 8.f);
    Tensor m = random_tensor(c.m, 6, -8.f, 8.f);
    if (m.numel() > 1)
      for (int64_t i = 0; i < m.numel(); i += 3) m.data<float>()[i] = -INFINITY;
    auto s = optimized(b, {x, m});
    EXPECT_EQ(count(*s, "AddSoftmax"), 1);
    EXPECT_EQ(count(*s, "Add"), 0);
    const Tensor y = s->run(std::vector<Tensor>{x, m})[0];
    ASSERT_EQ(y.shape, c.out);
    const int64_t n = c.out.back(), rows = y.numel() / n;
    Tensor want(DType::float32, c.out);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<double> v(static_cast<size_t>(n), 0.0);
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        v[size_t(j)] = broadcast_at(x, c.out, r * n + j) + broadcast_at(m, c.out, r * n + j);
        mx = std::max(mx, v[size_t(j)]);
      }
      for (double& e : v) sum += (e = std::exp(e - mx));  // a row all -inf: NaN, as the definition gives
      for (int64_t j = 0; j < n; ++j) want.data<float>()[r * n + j] = float(v[size_t(j)] / sum);
    }
    EXPECT_EQ(test::compare(y, want, 0, 1e-6), "") << shape_str(c.a) << " + " << shape_str(c.m);
  }
  ModelBuilder left(13);
  left.input("a", {2, 3, 4}).input("m", {2, 3, 4}).output("y").output("z").output("t");
  left.node("Add", {"a", "m"}, {"s"});
  set_attr(left.node("Softmax", {"s"}, {"y"}), "axis", int64_t(1));  // not the last axis
  left.node("Add", {"m", "a"}, {"r"});
  left.node("Softmax", {"r"}, {"u"});
  left.node("Sub", {"u", "r"}, {"z"});  // the sum is read again
  left.node("Add", {"a", "a"}, {"t"});
  left.node("Softmax", {"t"}, {"w"});   // the sum is a graph output
  left.node("Relu", {"w"}, {"v"});
  left.output("v");
  auto s = optimized(left, {random_tensor({2, 3, 4}, 7), random_tensor({2, 3, 4}, 8)});
  EXPECT_EQ(count(*s, "AddSoftmax"), 0);
}

TEST(Cleanup, IdentityDropoutAndConstantSubgraphsGo) {
  ModelBuilder b;
  b.input("x", {4}).output("y");
  b.init("a", random_tensor({4}, 1)).init("b", random_tensor({4}, 2));
  b.node("Add", {"a", "b"}, {"ab"});  // constant: folded
  b.node("Identity", {"x"}, {"i"});
  b.node("Dropout", {"i"}, {"d"});
  b.node("Mul", {"d", "ab"}, {"y"});
  auto s = optimized(b, {random_tensor({4}, 3)});
  EXPECT_EQ(s->graph().nodes.size(), 1u);
  EXPECT_EQ(count(*s, "Mul"), 1);
}

}  // namespace
}  // namespace normrt
