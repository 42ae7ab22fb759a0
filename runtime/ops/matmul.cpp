// MatMul (batch broadcasting), Gemm, and normrt.FusedMatMul (MatMul + bias +
// activation, from graph/passes/fuse_matmul_bias) on oneDNN matmul; constant
// right-hand sides are reordered once into the primitive's preferred layout.
#include <algorithm>

#include "kernels/dnnl_ops.h"
#include "runtime/ops/activation_attrs.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

std::unique_ptr<Kernel> matmul(const BindContext& c) {
  const bool fused = c.node.domain == "normrt";
  const bool trans_b = fused && c.node.attr_i("transB", 0) != 0;
  Shape a = c.in_shape(0), b = c.in_shape(1);
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  const size_t r = std::max(a.size(), b.size());
  a.insert(a.begin(), r - a.size(), 1);
  b.insert(b.begin(), r - b.size(), 1);
  if (r > 12) c.fail("MatMul of rank above 12 is not supported");
  // A weight without batch dims: A's batch dims are just more rows of one GEMM
  // (oneDNN would otherwise run a batch of small products against the same B).
  if (std::all_of(b.begin(), b.end() - 2, [](int64_t d) { return d == 1; }) && r > 2) {
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < r; ++i) rows *= a[i];
    a = {rows, a.back()};
    b = {b[r - 2], b[r - 1]};
  }
  kernels::MatMulDesc d;
  d.a_dims = a;
  d.b_dims = b;
  d.trans_b = trans_b;
  if (shape_numel(c.out[0].shape) == 0) return kernel_fn([](const RunArgs&) {});
  const Tensor* bias = fused ? c.constant(2) : nullptr;
  if (fused && c.has_input(2) && !bias) c.fail("the bias must be a constant");
  const auto act = fused ? fused_activation(c.node, c.where) : FusedActivation{};
  auto prim = std::make_shared<const kernels::MatMul>(d, c.weight_source(1), bias ? bias->data<float>() : nullptr, act.post);
  return kernel_fn(
      [prim](const RunArgs& x) {
        prim->run(static_cast<const float*>(x.in[0]), static_cast<const float*>(x.in[1]),
                  static_cast<float*>(x.out[0]), x.scratch, *x.stream);
      },
      prim->scratch_bytes(), prim->implementation());
}

std::unique_ptr<Kernel> gemm(const BindContext& c) {
  kernels::MatMulDesc d;
  d.a_dims = c.in_shape(0);
  d.b_dims = c.in_shape(1);
  d.trans_a = c.node.attr_i("transA", 0) != 0;
  d.trans_b = c.node.attr_i("transB", 0) != 0;
  const float alpha = c.node.attr_f("alpha", 1.f), beta = c.node.attr_f("beta", 1.f);
  const int64_t M = c.out[0].shape[0], N = c.out[0].shape[1];
  if (M * N == 0) return kernel_fn([](const RunArgs&) {});

  // A constant B absorbs alpha; a constant C of shape [N], [1,N] or a scalar becomes the bias.
  const Tensor* bt = c.constant(1);
  std::vector<float> scaled_b;
  if (bt && alpha != 1.f) {
    scaled_b.assign(bt->data<float>(), bt->data<float>() + bt->numel());
    for (float& v : scaled_b) v *= alpha;
  } else {
    d.alpha = alpha;
  }
  // C padded to 2-D: [1|M, 1|N].
  Shape cs = c.has_input(2) ? c.in_shape(2) : Shape{};
  cs.insert(cs.begin(), 2 - std::min<size_t>(2, cs.size()), 1);
  const Tensor* ct = c.constant(2);
  std::vector<float> bias;
  if (ct && cs[0] == 1 && d.alpha == 1.f && beta != 0.f) {
    bias.resize(size_t(N));
    for (int64_t j = 0; j < N; ++j) bias[size_t(j)] = beta * ct->data<float>()[cs[1] == 1 ? 0 : j];
  }
  const bool add_c_after = c.has_input(2) && bias.empty() && beta != 0.f;
  // B scaled by alpha here is a temporary: it gets a private packed copy.
  const kernels::WeightSource b_source = scaled_b.empty() ? c.weight_source(1) : kernels::WeightSource{scaled_b.data(), nullptr, nullptr};
  auto prim = std::make_shared<const kernels::MatMul>(d, b_source, bias.empty() ? nullptr : bias.data());
  const int64_t c_rs = cs[0] == 1 ? 0 : cs[1], c_cs = cs[1] == 1 ? 0 : 1;
  return kernel_fn(
      [=](const RunArgs& x) {
        float* y = static_cast<float*>(x.out[0]);
        prim->run(static_cast<const float*>(x.in[0]), static_cast<const float*>(x.in[1]), y, x.scratch, *x.stream);
        if (!add_c_after) return;
        const float* cv = static_cast<const float*>(x.in[2]);
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) y[i * N + j] += beta * cv[i * c_rs + j * c_cs];
      },
      prim->scratch_bytes(), prim->implementation());
}

}  // namespace

void register_matmul_ops(Registry& r) {
  r.add("MatMul", 1, 18, matmul);
  r.add("Gemm", 7, 18, gemm);
  r.add("FusedMatMul", 1, 999, matmul, "normrt");
}

}  // namespace normrt
