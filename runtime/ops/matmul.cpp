// MatMul (batch broadcasting), Gemm, and normrt.FusedMatMul (MatMul + bias +
// activation, from graph/passes/fuse_matmul_bias) on oneDNN matmul; constant
// right-hand sides are reordered once into the primitive's preferred layout.
// Where oneDNN packs that copy in 64-column panels (AVX-512), products of one
// row run on kernels::gemv over it and products of more rows on kernels::gemm
// (where kernels::gemm_chosen).
#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "graph/geometry.h"
#include "kernels/dnnl_ops.h"
#include "kernels/gemm.h"
#include "runtime/ops/activation_attrs.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

// An operand's permutation widened to `rank` (leading broadcast dims of size 1
// stay in front); empty stays empty.
Shape widened(Shape perm, size_t rank) {
  if (perm.empty()) return perm;
  const int64_t extra = int64_t(rank - perm.size());
  for (int64_t& p : perm) p += extra;
  for (int64_t i = extra; i-- > 0;) perm.insert(perm.begin(), i);
  return perm;
}

// Y[rows, N] = A[rows, K] · B + bias, then the activation, over B's panels
// (kernels::panels_product). Columns [c0, c1) of Y, c0 on a panel boundary,
// are the same product over the panels from c0 on.
class PanelsProduct : public Kernel {
 public:
  PanelsProduct(Isa isa, std::shared_ptr<const kernels::MatMul> prim, const float* w, int64_t rows, int64_t K,
                int64_t N, std::vector<float> bias, FusedActivation act, std::string label)
      : isa_(isa), prim_(std::move(prim)), w_(w), rows_(rows), K_(K), N_(N), bias_(std::move(bias)), act_(act),
        label_(std::move(label)) {}
  void run(const RunArgs& x) const override {
    kernels::panels_product(isa_, static_cast<const float*>(x.in[0]), K_, w_, bias_.empty() ? nullptr : bias_.data(),
                            static_cast<float*>(x.out[0]), N_, kernels::kGemmColumnBlock, rows_, K_, N_,
                            act_.present ? &act_.unary : nullptr);
  }
  std::string implementation() const override { return label_; }
  std::unique_ptr<Kernel> column_range(int64_t c0, int64_t c1) const override {
    if (c0 < 0 || c1 > N_ || c0 >= c1 || c0 % kernels::kGemvPanel != 0) return nullptr;
    std::vector<float> bias = bias_.empty() ? bias_ : std::vector<float>(bias_.begin() + c0, bias_.begin() + c1);
    return std::make_unique<PanelsProduct>(isa_, prim_, kernels::panels_from(w_, K_, c0), rows_, K_, c1 - c0,
                                           std::move(bias), act_,
                                           label_ + " columns " + std::to_string(c0) + "-" + std::to_string(c1));
  }

 private:
  Isa isa_;
  std::shared_ptr<const kernels::MatMul> prim_;  // owns the panels
  const float* w_;
  int64_t rows_, K_, N_;
  std::vector<float> bias_;
  FusedActivation act_;
  std::string label_;
};

// A 2-D product (after A's leading dims are flattened into rows; A and Y
// not permuted, alpha 1) whose constant float32 B oneDNN packed in 64-column
// panels (AVX-512) runs on kernels::gemv (one row, see gemv.h) or, where
// kernels::gemm_chosen, kernels::gemm (see gemm.h), with the bias and
// activation; else null.
std::unique_ptr<Kernel> on_panels(const BindContext& c, const std::shared_ptr<const kernels::MatMul>& prim,
                                  int64_t rows, int64_t K, int64_t N, const float* bias, const FusedActivation& act) {
  const Isa isa = c.isa;
  if (!prim->panels() || (rows > 1 && !kernels::gemm_chosen(isa))) return nullptr;
  return std::make_unique<PanelsProduct>(isa, prim, prim->panels(), rows, K, N,
                                         bias ? std::vector<float>(bias, bias + N) : std::vector<float>{}, act,
                                         std::string(rows == 1 ? "normrt gemv:" : "normrt gemm:") + isa_name(isa));
}

std::unique_ptr<Kernel> matmul(const BindContext& c) {
  const bool fused = c.node.domain == "normrt";
  Shape a = c.in_shape(0), b = c.in_shape(1);
  auto perm_of = [&](const char* attr, size_t rank) {
    return fused && c.node.has(attr) ? permutation(c.node, attr, rank, c.where) : Shape{};
  };
  Shape a_perm = perm_of("perm_a", a.size()), b_perm = perm_of("perm_b", b.size());
  Shape y_perm = perm_of("perm_y", c.out[0].shape.size());
  if (fused && c.node.attr_i("transB", 0)) b_perm = {1, 0};
  const bool a_vector = a.size() == 1, b_vector = b.size() == 1;
  if (a_vector) a_perm.clear();
  if (b_vector) b_perm.clear();
  const bool permuted = !a_perm.empty() || !b_perm.empty() || !y_perm.empty();
  if (a_vector) a.insert(a.begin(), 1);
  if (b_vector) b.push_back(1);
  const size_t r = std::max(a.size(), b.size());
  a_perm = widened(a_perm, r);
  b_perm = widened(b_perm, r);
  if (!y_perm.empty()) {
    // Over the product's r dims: a vector operand's unit dim (absent from the
    // output) goes last, where its stride does not matter.
    Shape axis;  // the product's dim of each output dim
    for (int64_t k = 0; k < int64_t(r); ++k)
      if (!(a_vector && k == int64_t(r) - 2) && !(b_vector && k == int64_t(r) - 1)) axis.push_back(k);
    Shape full;
    for (int64_t p : y_perm) full.push_back(axis[size_t(p)]);
    if (a_vector) full.push_back(int64_t(r) - 2);
    if (b_vector) full.push_back(int64_t(r) - 1);
    y_perm = full;
  }
  a.insert(a.begin(), r - a.size(), 1);
  b.insert(b.begin(), r - b.size(), 1);
  if (r > 12) c.fail("MatMul of rank above 12 is not supported");
  // A weight without batch dims: A's batch dims are just more rows of one GEMM
  // (oneDNN would otherwise run a batch of small products against the same B).
  if (!permuted && std::all_of(b.begin(), b.end() - 2, [](int64_t d) { return d == 1; }) && r > 2) {
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < r; ++i) rows *= a[i];
    a = {rows, a.back()};
    b = {b[r - 2], b[r - 1]};
  }
  kernels::MatMulDesc d;
  d.a_dims = a;
  d.b_dims = b;
  d.a_perm = a_perm;
  d.b_perm = b_perm;
  d.y_perm = y_perm;
  d.alpha = fused ? c.node.attr_f("alpha", 1.f) : 1.f;
  d.bf16 = c.bf16_matmuls;
  if (shape_numel(c.out[0].shape) == 0) return kernel_fn([](const RunArgs&) {});
  const Tensor* bias = fused ? c.constant(2) : nullptr;
  if (fused && c.has_input(2) && !bias) c.fail("the bias must be a constant");
  const auto act = fused ? fused_activation(c.node, c.where) : FusedActivation{};
  auto prim = std::make_shared<const kernels::MatMul>(d, c.weight_source(1), bias ? bias->data<float>() : nullptr, act.post);
  if (a_perm.empty() && y_perm.empty() && d.alpha == 1.f && d.a_dims.size() == 2) {
    const int64_t N = b_vector ? 1 : c.out[0].shape.back();
    if (auto k = on_panels(c, prim, d.a_dims[0], d.a_dims[1], N, bias ? bias->data<float>() : nullptr, act)) return k;
  }
  return kernel_fn(
      [prim](const RunArgs& x) {
        prim->run(static_cast<const float*>(x.in[0]), static_cast<const float*>(x.in[1]),
                  static_cast<float*>(x.out[0]), x.scratch, *x.dnnl);
      },
      prim->scratch_bytes(), prim->implementation());
}

std::unique_ptr<Kernel> gemm(const BindContext& c) {
  kernels::MatMulDesc d;
  d.a_dims = c.in_shape(0);
  d.b_dims = c.in_shape(1);
  d.bf16 = c.bf16_matmuls;
  if (c.node.attr_i("transA", 0)) d.a_perm = {1, 0};
  if (c.node.attr_i("transB", 0)) d.b_perm = {1, 0};
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
  if (d.a_perm.empty() && d.alpha == 1.f && !add_c_after)
    if (auto k = on_panels(c, prim, M, d.a_dims[1], N, bias.empty() ? nullptr : bias.data(), {})) return k;
  const int64_t c_rs = cs[0] == 1 ? 0 : cs[1], c_cs = cs[1] == 1 ? 0 : 1;
  return kernel_fn(
      [=](const RunArgs& x) {
        float* y = static_cast<float*>(x.out[0]);
        prim->run(static_cast<const float*>(x.in[0]), static_cast<const float*>(x.in[1]), y, x.scratch, *x.dnnl);
        if (!add_c_after) return;
        const float* cv = static_cast<const float*>(x.in[2]);
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) y[i * N + j] += beta * cv[i * c_rs + j * c_cs];
      },
      prim->scratch_bytes(), prim->implementation());
}

}  // namespace

namespace {

// Whether n is a product whose B (input 1) is a 2-D float initializer that
// prepack_matmul_weights packs; sets trans_b.
bool prepacked_product(const Graph& g, const Node& n, bool& trans_b) {
  const bool fused = is_op(n, "FusedMatMul", "normrt");
  const bool gemm = is_op(n, "Gemm");
  if (!fused && !gemm && !is_op(n, "MatMul")) return false;
  auto it = n.inputs.size() > 1 ? g.initializers.find(n.inputs[1]) : g.initializers.end();
  if (it == g.initializers.end() || it->second->dtype != DType::float32 || it->second->shape.size() != 2) return false;
  // Gemm scales a B by alpha into a private copy; a permuted product packs in its own plan.
  if (gemm && n.attr_f("alpha", 1.f) != 1.f) return false;
  if (fused && (n.has("perm_a") || n.has("perm_b") || n.has("perm_y"))) return false;
  if (it->second->numel() == 0) return false;
  trans_b = (fused || gemm) && n.attr_i("transB", 0) != 0;
  return true;
}

// The initializers read only as the B of prepacked products, all one way
// round, and by nothing else (graph outputs, other inputs, other names for
// the same tensor): once packed, no plan needs their plain bytes. (Not those
// of a FusedMatMul with transB: with A above 2-D its plan reads B through a
// batched layout the packed copy was not made from.)
std::set<std::string> only_prepacked(const Graph& g) {
  std::map<std::string, int> way;  // 0, 1: transB of every reader so far; -1: some other use
  for (auto& n : g.nodes) {
    bool trans_b = false;
    const bool packed = prepacked_product(g, n, trans_b) && !(trans_b && is_op(n, "FusedMatMul", "normrt"));
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (!g.initializers.count(n.inputs[k])) continue;
      auto [it, fresh] = way.emplace(n.inputs[k], packed && k == 1 ? int(trans_b) : -1);
      if (!fresh && (!packed || k != 1 || it->second != int(trans_b))) it->second = -1;
    }
  }
  for (auto& o : g.outputs) way[o] = -1;
  for (auto& i : g.inputs) way[i] = -1;  // an initializer a caller may feed instead
  std::map<const Tensor*, int> names;
  for (auto& [name, t] : g.initializers) ++names[t.get()];
  std::set<std::string> only;
  for (auto& [name, w] : way)
    if (w >= 0 && names[g.initializers.at(name).get()] == 1) only.insert(name);
  return only;
}

}  // namespace

void prepack_matmul_weights(Graph& g, kernels::WeightCache& cache, bool bf16) {
  const std::set<std::string> release = only_prepacked(g);
  for (auto& n : g.nodes) {
    bool trans_b = false;
    if (!prepacked_product(g, n, trans_b)) continue;
    std::shared_ptr<const Tensor> t = g.initializers.at(n.inputs[1]);
    if (t->bytes.empty()) continue;  // released already: packed for an earlier reader
    const Shape& b = t->shape;
    kernels::prepack_matmul_weights({t->data<float>(), &cache, t}, trans_b ? b[1] : b[0], trans_b ? b[0] : b[1],
                                    trans_b, bf16);
    if (!release.count(n.inputs[1])) continue;
    // Released as soon as packed, so the plain and packed copies of all the
    // weights are never held at once: the graph gets the same tensor with no
    // bytes, the cache's copies move to it, and the old one goes.
    auto bare = std::make_shared<Tensor>();
    bare->dtype = t->dtype;
    bare->shape = t->shape;
    cache.rekey(t.get(), bare);
    g.initializers[n.inputs[1]] = bare;
  }
}

void register_matmul_ops(Registry& r) {
  r.add("MatMul", 1, 18, matmul);
  r.add("Gemm", 7, 18, gemm);
  r.add("FusedMatMul", 1, 999, matmul, "normrt");
}

}  // namespace normrt
