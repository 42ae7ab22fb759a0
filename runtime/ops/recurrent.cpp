// Recurrent layers: LSTM, GRU and RNN, as ONNX defines them (opset 7 on;
// layout from 14), every direction, sequence_lens, initial states, LSTM's
// peepholes and input_forget, GRU's linear_before_reset, the listed
// activations with their alphas and betas, and clip.
//
// Each direction first projects every step's input at once, X W^T, as one
// matmul (T*B rows); then each step multiplies the hidden state by R^T
// (another matmul, B rows) and applies the gates element-wise. A product
// whose constant weights oneDNN packed in 64-column panels runs on
// kernels::gemv (one row) or, where kernels::gemm_chosen, kernels::gemm, as
// in matmul.cpp; others on oneDNN.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

enum class Cell { lstm, gru, rnn };

struct Activation {
  enum class Kind { relu, tanh, sigmoid, affine, leaky_relu, thresholded_relu, scaled_tanh, hard_sigmoid, elu,
                    softsign, softplus } kind;
  float alpha = 0, beta = 0;

  // v[i] = f(v[i]) over [0, n), on the vectorized element-wise kernels.
  void apply(const kernels::ElementwiseTable& ew, float* v, int64_t n) const {
    using U = kernels::Unary;
    kernels::UnaryParams p;
    switch (kind) {
      case Kind::affine:
        for (int64_t i = 0; i < n; ++i) v[i] = alpha * v[i] + beta;
        return;
      case Kind::scaled_tanh:
        for (int64_t i = 0; i < n; ++i) v[i] *= beta;
        ew.unary({U::tanh}, v, v, n);
        for (int64_t i = 0; i < n; ++i) v[i] *= alpha;
        return;
      case Kind::relu: p = {U::relu}; break;
      case Kind::tanh: p = {U::tanh}; break;
      case Kind::sigmoid: p = {U::sigmoid}; break;
      case Kind::leaky_relu: p = {U::leaky_relu, alpha}; break;
      case Kind::thresholded_relu: p = {U::thresholded_relu, alpha}; break;
      case Kind::hard_sigmoid: p = {U::hard_sigmoid, alpha, beta}; break;
      case Kind::elu: p = {U::elu, alpha}; break;
      case Kind::softsign: p = {U::softsign}; break;
      case Kind::softplus: p = {U::softplus}; break;
    }
    ew.unary(p, v, v, n);
  }
};

// The `activations` attribute (per direction: f, g, h for LSTM; f, g for
// GRU; f for RNN), alphas and betas taken in order by the functions that
// have them, defaults as the ONNX ops of the same names.
std::vector<Activation> activations_of(const BindContext& c, Cell cell, int64_t D) {
  const size_t per = cell == Cell::lstm ? 3 : cell == Cell::gru ? 2 : 1;
  std::vector<std::string> names;
  if (const Attribute* a = c.node.attr("activations")) names = a->ss;
  if (names.empty()) {
    // f, g, h: sigmoid, tanh, tanh (GRU takes f and g); RNN's f is tanh.
    const std::vector<std::string> defaults = cell == Cell::rnn ? std::vector<std::string>{"tanh"}
                                                                : std::vector<std::string>{"sigmoid", "tanh", "tanh"};
    for (int64_t d = 0; d < D; ++d) names.insert(names.end(), defaults.begin(), defaults.begin() + long(per));
  }
  if (names.size() != per * size_t(D))
    c.fail("activations lists " + std::to_string(names.size()) + " functions, expected " + std::to_string(per * size_t(D)));
  std::vector<float> alphas, betas;
  if (const Attribute* a = c.node.attr("activation_alpha")) alphas = a->fs;
  if (const Attribute* a = c.node.attr("activation_beta")) betas = a->fs;
  size_t ai = 0, bi = 0;
  auto next = [](const std::vector<float>& v, size_t& i, float dflt) { return i < v.size() ? v[i++] : dflt; };
  std::vector<Activation> out;
  for (std::string n : names) {
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    using K = Activation::Kind;
    Activation f{K::relu};
    if (n == "relu") f.kind = K::relu;
    else if (n == "tanh") f.kind = K::tanh;
    else if (n == "sigmoid") f.kind = K::sigmoid;
    else if (n == "softsign") f.kind = K::softsign;
    else if (n == "softplus") f.kind = K::softplus;
    else if (n == "affine") f = {K::affine, next(alphas, ai, 1.f), next(betas, bi, 0.f)};
    else if (n == "leakyrelu") f = {K::leaky_relu, next(alphas, ai, 0.01f)};
    else if (n == "thresholdedrelu") f = {K::thresholded_relu, next(alphas, ai, 1.f)};
    else if (n == "scaledtanh") f = {K::scaled_tanh, next(alphas, ai, 1.f), next(betas, bi, 1.f)};
    else if (n == "hardsigmoid") f = {K::hard_sigmoid, next(alphas, ai, 0.2f), next(betas, bi, 0.5f)};
    else if (n == "elu") f = {K::elu, next(alphas, ai, 1.f)};
    else c.fail("activation '" + n + "' is not one ONNX defines for recurrent layers");
    out.push_back(f);
  }
  return out;
}

// A direction's fixed parts: its matmuls and where its weights are.
struct Direction {
  std::shared_ptr<const kernels::MatMul> project;  // X W^T: [T*B, I] x [I, G*H]
  std::shared_ptr<const kernels::MatMul> recur;    // H R^T: [B, H] x [H, G*H] (GRU without linear_before_reset: z and r only)
  std::shared_ptr<const kernels::MatMul> recur_h;  // GRU without linear_before_reset: (r . H) Rh^T
  const Activation* f;                             // this direction's activations
  bool reverse = false;
};

class RecurrentKernel : public Kernel {
 public:
  explicit RecurrentKernel(const BindContext& c)
      : where_(c.where), inputs_(c.in.size()), isa_(c.isa), ew_(&kernels::elementwise_table_for(c.isa)) {
    const std::string& op = c.node.op_type;
    cell_ = op == "LSTM" ? Cell::lstm : op == "GRU" ? Cell::gru : Cell::rnn;
    G_ = cell_ == Cell::lstm ? 4 : cell_ == Cell::gru ? 3 : 1;
    const Shape& x = c.in_shape(0);
    const Shape& r = c.in_shape(2);
    batch_first_ = c.node.attr_i("layout", 0) == 1;
    T_ = batch_first_ ? x[1] : x[0];
    B_ = batch_first_ ? x[0] : x[1];
    I_ = x[2];
    D_ = r[0];
    H_ = r[2];
    clip_ = c.node.has("clip") ? c.node.attr_f("clip", 0.f) : 0.f;
    if (c.node.has("clip") && !(clip_ > 0)) c.fail("clip must be a positive number");
    input_forget_ = cell_ == Cell::lstm && c.node.attr_i("input_forget", 0) != 0;
    lbr_ = cell_ == Cell::gru && c.node.attr_i("linear_before_reset", 0) != 0;
    acts_ = activations_of(c, cell_, D_);
    const std::string dir = c.node.attr_s("direction", "forward");
    outs_ = int(c.out.size());

    const int64_t GH = G_ * H_;
    const Tensor* w = c.constant(1);
    const Tensor* rt = c.constant(2);
    for (int64_t d = 0; d < D_; ++d) {
      Direction dd;
      dd.reverse = dir == "reverse" || (dir == "bidirectional" && d == 1);
      dd.f = acts_.data() + size_t(d) * acts_.size() / size_t(D_);
      // B stored [N, K] (a slice of W or R), read transposed. Private packed
      // copies: the session's cache keys a weight by its tensor, not a slice.
      auto product = [&](int64_t M, int64_t N, int64_t K, const Tensor* t, int64_t offset) {
        kernels::MatMulDesc m;
        m.a_dims = {M, K};
        m.b_dims = {N, K};
        m.b_perm = {1, 0};
        kernels::WeightSource src;
        if (t) src.data = t->data<float>() + offset;
        return std::make_shared<const kernels::MatMul>(m, src, nullptr);
      };
      if (T_ * B_ > 0) dd.project = product(T_ * B_, GH, I_, w, d * GH * I_);
      if (B_ > 0) {
        const int64_t n = cell_ == Cell::gru && !lbr_ ? 2 * H_ : GH;
        dd.recur = product(B_, n, H_, rt, d * GH * H_);
        if (cell_ == Cell::gru && !lbr_) dd.recur_h = product(B_, H_, H_, rt, d * GH * H_ + 2 * H_ * H_);
      }
      dirs_.push_back(dd);
    }
    w_constant_ = w != nullptr;
    r_constant_ = rt != nullptr;
    // Scratch: the projection, the recurrent product, the state (h, c), the
    // gates' temporaries, then the largest oneDNN scratchpad.
    size_t floats = 0;
    auto take = [&](int64_t n) {
      const size_t at = floats;
      floats += (size_t(n) + 15) / 16 * 16;
      return at;
    };
    xw_at_ = take(T_ * B_ * GH);
    hr_at_ = take(B_ * GH);
    h_at_ = take(B_ * H_);
    c_at_ = take(B_ * H_);
    t1_at_ = take(B_ * H_);
    t2_at_ = take(B_ * H_);
    g_at_ = take(GH);
    u_at_ = take(H_);
    bias_at_ = take(GH);
    dnnl_at_ = floats * sizeof(float);
    size_t dnnl = 0;
    for (auto& dd : dirs_)
      for (auto* m : {dd.project.get(), dd.recur.get(), dd.recur_h.get()})
        if (m) dnnl = std::max(dnnl, m->scratch_bytes());
    scratch_ = dnnl_at_ + dnnl;
    gemm_ = kernels::gemm_chosen(c.isa);
    if (!dirs_.empty() && dirs_[0].recur) {
      const kernels::MatMul& r = *dirs_[0].recur;
      const On on = where(r, B_);
      impl_ = on == On::onednn ? r.implementation()
                               : std::string(on == On::gemv ? "normrt gemv:" : "normrt gemm:") + isa_name(c.isa);
      const On projected = dirs_[0].project ? where(*dirs_[0].project, T_ * B_) : On::onednn;
      if (projected != On::onednn && projected != on)
        impl_ += std::string(" (input projection: normrt ") + (projected == On::gemv ? "gemv)" : "gemm)");
    }
  }

  size_t scratch_bytes() const override { return scratch_; }
  std::string implementation() const override { return impl_; }

  void run(const RunArgs& a) const override {
    float* s = static_cast<float*>(a.scratch);
    void* dnnl_scratch = static_cast<char*>(a.scratch) + dnnl_at_;
    const auto* X = static_cast<const float*>(a.in[0]);
    const auto* W = static_cast<const float*>(a.in[1]);
    const auto* R = static_cast<const float*>(a.in[2]);
    const auto* Bias = static_cast<const float*>(input(a, 3));
    const auto* lens = static_cast<const int32_t*>(input(a, 4));
    const auto* h0 = static_cast<const float*>(input(a, 5));
    const auto* c0 = cell_ == Cell::lstm ? static_cast<const float*>(input(a, 6)) : nullptr;
    const auto* P = cell_ == Cell::lstm ? static_cast<const float*>(input(a, 7)) : nullptr;
    auto* Y = static_cast<float*>(a.out[0]);
    float* Yh = outs_ > 1 ? static_cast<float*>(a.out[1]) : nullptr;
    float* Yc = outs_ > 2 ? static_cast<float*>(a.out[2]) : nullptr;
    const int64_t GH = G_ * H_;
    for (int64_t b = 0; b < B_; ++b)
      if (lens && (lens[b] < 0 || lens[b] > T_))
        throw Error(where_ + ": sequence_lens[" + std::to_string(b) + "] = " + std::to_string(lens[b]) +
                    " is outside [0, " + std::to_string(T_) + "]");
    // Steps past a sequence's length give zeros in Y.
    if (T_ > 0) std::memset(Y, 0, size_t(T_ * D_ * B_ * H_) * sizeof(float));
    float *xw = s + xw_at_, *hr = s + hr_at_, *h = s + h_at_, *cs = s + c_at_, *t1 = s + t1_at_, *t2 = s + t2_at_;
    float *g = s + g_at_, *u = s + u_at_, *bias = s + bias_at_;
    // y[rows, n] = x[rows, k] times m's B (`b` when it is not constant), where(m, rows) says.
    auto product = [&](const kernels::MatMul& m, const float* x, const float* b, float* y, int64_t rows, int64_t k,
                       int64_t n) {
      if (where(m, rows) == On::onednn) m.run(x, b, y, dnnl_scratch, *a.dnnl);
      else kernels::panels_product(isa_, x, k, m.panels(), nullptr, y, n, kernels::kGemmColumnBlock, rows, k, n, nullptr);
    };
    // A recurrent product (with one batch entry, each step streams all of R for one row).
    auto recur = [&](const kernels::MatMul& m, const float* x, const float* r, float* y, int64_t n) {
      product(m, x, r, y, B_, H_, n);
    };
    // Where (d, b) of a [D, B, H] state lives in the layout's [D, B, H] or [B, D, H].
    auto state_at = [&](int64_t d, int64_t b) { return (batch_first_ ? b * D_ + d : d * B_ + b) * H_; };
    for (int64_t d = 0; d < D_; ++d) {
      const Direction& dd = dirs_[size_t(d)];
      const float* bias_w = Bias ? Bias + d * 2 * GH : nullptr;
      const float* bias_r = Bias ? bias_w + GH : nullptr;
      const float* p = P ? P + d * 3 * H_ : nullptr;
      if (dd.project) product(*dd.project, X, w_constant_ ? nullptr : W + d * GH * I_, xw, T_ * B_, I_, GH);
      for (int64_t b = 0; b < B_; ++b) {
        if (h0) std::memcpy(h + b * H_, h0 + state_at(d, b), size_t(H_) * sizeof(float));
        else std::fill(h + b * H_, h + (b + 1) * H_, 0.f);
        if (c0) std::memcpy(cs + b * H_, c0 + state_at(d, b), size_t(H_) * sizeof(float));
        else std::fill(cs + b * H_, cs + (b + 1) * H_, 0.f);
      }
      const float* Rd = r_constant_ ? nullptr : R + d * GH * H_;
      // Wb + Rb per gate (GRU with linear_before_reset: h's Rb is added inside the reset, below).
      for (int64_t i = 0; i < GH; ++i) bias[i] = (bias_w ? bias_w[i] : 0.f) + (bias_r ? bias_r[i] : 0.f);
      const float* rb_h = lbr_ && bias_r ? bias_r + 2 * H_ : nullptr;
      if (lbr_)
        for (int64_t j = 0; j < H_; ++j) bias[2 * H_ + j] = bias_w ? bias_w[2 * H_ + j] : 0.f;
      for (int64_t step = 0; step < T_; ++step) {
        const int64_t hr_cols = cell_ == Cell::gru && !lbr_ ? 2 * H_ : GH;
        if (dd.recur) recur(*dd.recur, h, Rd, hr, hr_cols);
        // Each batch entry runs its own length; reversed, its last step comes first.
        auto time_of = [&](int64_t b) {
          const int64_t len = lens ? lens[b] : T_;
          return step >= len ? -1 : dd.reverse ? len - 1 - step : step;
        };
        auto xw_row = [&](int64_t t, int64_t b) { return xw + (batch_first_ ? b * T_ + t : t * B_ + b) * GH; };
        // g[0, n) = the projection + the recurrent product + the bias (the first n / H gates).
        auto pre = [&](const float* x_, const float* r_, int64_t n) {
          for (int64_t i = 0; i < n; ++i) g[i] = x_[i] + r_[i] + bias[i];
        };
        auto act = [&](int which, float* v, int64_t n) {
          if (clip_ > 0)
            for (int64_t i = 0; i < n; ++i) v[i] = std::max(-clip_, std::min(clip_, v[i]));
          dd.f[which].apply(*ew_, v, n);
        };
        if (cell_ == Cell::gru && !lbr_) {
          // z and r first, then (r . H) Rh^T for the h gate.
          for (int64_t b = 0; b < B_; ++b) {
            const int64_t t = time_of(b);
            if (t < 0) {
              std::fill(t1 + b * H_, t1 + (b + 1) * H_, 0.f);
              continue;
            }
            pre(xw_row(t, b), hr + b * hr_cols, 2 * H_);
            act(0, g, 2 * H_);
            for (int64_t j = 0; j < H_; ++j) {
              t1[b * H_ + j] = g[H_ + j] * h[b * H_ + j];
              t2[b * H_ + j] = g[j];
            }
          }
          recur(*dd.recur_h, t1, Rd ? Rd + 2 * H_ * H_ : nullptr, hr, H_);
          for (int64_t b = 0; b < B_; ++b) {
            const int64_t t = time_of(b);
            if (t < 0) continue;
            const float* x_ = xw_row(t, b);
            for (int64_t j = 0; j < H_; ++j) g[j] = x_[2 * H_ + j] + hr[b * H_ + j] + bias[2 * H_ + j];
            act(1, g, H_);
            for (int64_t j = 0; j < H_; ++j) {
              const float z = t2[b * H_ + j];
              h[b * H_ + j] = (1.f - z) * g[j] + z * h[b * H_ + j];
            }
          }
        } else {
          for (int64_t b = 0; b < B_; ++b) {
            const int64_t t = time_of(b);
            if (t < 0) continue;
            const float* x_ = xw_row(t, b);
            const float* r_ = hr + b * GH;
            float* hb = h + b * H_;
            float* cb = cs + b * H_;
            if (cell_ == Cell::lstm) {  // gates i, o, f, c; peepholes i, o, f
              pre(x_, r_, GH);
              float *gi = g, *go = g + H_, *gf = g + 2 * H_, *gc = g + 3 * H_;
              if (p)
                for (int64_t j = 0; j < H_; ++j) {
                  gi[j] += p[j] * cb[j];
                  gf[j] += p[2 * H_ + j] * cb[j];
                }
              act(0, gi, H_);
              if (input_forget_) {
                for (int64_t j = 0; j < H_; ++j) gf[j] = 1.f - gi[j];
              } else {
                act(0, gf, H_);
              }
              act(1, gc, H_);
              for (int64_t j = 0; j < H_; ++j) cb[j] = gf[j] * cb[j] + gi[j] * gc[j];
              if (p)
                for (int64_t j = 0; j < H_; ++j) go[j] += p[H_ + j] * cb[j];
              act(0, go, H_);
              std::copy(cb, cb + H_, u);
              dd.f[2].apply(*ew_, u, H_);  // h(C), not clipped: clip bounds the gates' inputs
              for (int64_t j = 0; j < H_; ++j) hb[j] = go[j] * u[j];
            } else if (cell_ == Cell::gru) {  // gates z, r, h; h's recurrent part inside the reset
              pre(x_, r_, 2 * H_);
              act(0, g, 2 * H_);
              float* gh = g + 2 * H_;
              for (int64_t j = 0; j < H_; ++j)
                gh[j] = x_[2 * H_ + j] + bias[2 * H_ + j] + g[H_ + j] * (r_[2 * H_ + j] + (rb_h ? rb_h[j] : 0.f));
              act(1, gh, H_);
              for (int64_t j = 0; j < H_; ++j) hb[j] = (1.f - g[j]) * gh[j] + g[j] * hb[j];
            } else {
              pre(x_, r_, H_);
              act(0, g, H_);
              std::copy(g, g + H_, hb);
            }
          }
        }
        for (int64_t b = 0; b < B_; ++b) {
          const int64_t t = time_of(b);
          if (t < 0) continue;
          float* y = Y + (batch_first_ ? (b * T_ + t) * D_ + d : (t * D_ + d) * B_ + b) * H_;
          std::memcpy(y, h + b * H_, size_t(H_) * sizeof(float));
        }
      }
      // A sequence of length 0 ends in zero states, as ONNX Runtime gives (the spec is silent).
      for (int64_t b = 0; b < B_; ++b) {
        const bool ran = (lens ? lens[b] : T_) > 0;
        for (float* state : {Yh, Yc})
          if (state) {
            const float* from = state == Yh ? h + b * H_ : cs + b * H_;
            if (ran) std::memcpy(state + state_at(d, b), from, size_t(H_) * sizeof(float));
            else std::fill(state + state_at(d, b), state + state_at(d, b) + H_, 0.f);
          }
      }
    }
  }

 private:
  // An optional input: null when omitted (trailing omitted ones are not passed at all).
  const void* input(const RunArgs& a, size_t k) const { return k < inputs_ ? a.in[k] : nullptr; }

  std::string where_;
  size_t inputs_ = 0;
  Isa isa_;
  const kernels::ElementwiseTable* ew_;  // the ISA's element-wise kernels, for the gates
  Cell cell_ = Cell::rnn;
  int64_t G_ = 1, T_ = 0, B_ = 0, I_ = 0, D_ = 1, H_ = 0;
  bool batch_first_ = false, input_forget_ = false, lbr_ = false, w_constant_ = false, r_constant_ = false;
  float clip_ = 0;
  int outs_ = 1;
  std::vector<Activation> acts_;
  std::vector<Direction> dirs_;
  size_t xw_at_ = 0, hr_at_ = 0, h_at_ = 0, c_at_ = 0, t1_at_ = 0, t2_at_ = 0, g_at_ = 0, u_at_ = 0, bias_at_ = 0;
  size_t dnnl_at_ = 0, scratch_ = 0;
  // Where a product of `rows` rows runs (see the top).
  enum class On { onednn, gemv, gemm };
  On where(const kernels::MatMul& m, int64_t rows) const {
    if (!m.panels()) return On::onednn;
    return rows == 1 ? On::gemv : gemm_ ? On::gemm : On::onednn;
  }
  bool gemm_ = false;  // kernels::gemm_chosen at the ISA
  std::string impl_;
};

std::unique_ptr<Kernel> recurrent(const BindContext& c) { return std::make_unique<RecurrentKernel>(c); }

}  // namespace

void register_recurrent_ops(Registry& r) {
  r.add("LSTM", 7, 18, recurrent);
  r.add("GRU", 7, 18, recurrent);
  r.add("RNN", 7, 18, recurrent);
}

}  // namespace normrt
