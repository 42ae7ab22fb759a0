// Every SIMD kernel on every ISA this machine has, against float64
// references, on lengths around the vector widths (tails shorter than a vector).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/batch_norm.h"
#include "kernels/dnnl_ops.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/gemv.h"
#include "kernels/layer_norm.h"
#include "kernels/machine_limits.h"
#include "kernels/pool.h"
#include "kernels/softmax.h"
#include "tests/test_util.h"

namespace normrt {
namespace {
using test::machine_isas;
using test::random_tensor;

const int64_t kLengths[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 1000, 4099};

void expect_close(const float* got, const std::vector<double>& want, double rtol, double atol, const std::string& what) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << what << " element " << i;
      continue;
    }
    ASSERT_NEAR(got[i], want[i], atol + rtol * std::abs(want[i])) << what << " element " << i;
  }
}

TEST(BatchNormKernel, MatchesFloat64OnEveryIsa) {
  for (Isa isa : machine_isas())
    for (int64_t inner : kLengths) {
      // inner == 1 is BatchNorm1d ([N, C]): vectorized across channels instead.
      const int64_t N = 2, C = inner == 1 ? 40000 : 3;
      Tensor x = random_tensor({N, C, inner}, unsigned(inner), -3, 3);
      Tensor g = random_tensor({C}, 1, 0.5, 1.5), b = random_tensor({C}, 2), m = random_tensor({C}, 3),
             v = random_tensor({C}, 4, 0.1f, 2);
      const float eps = 1e-5f;
      std::vector<float> scale(C), shift(C);
      kernels::batch_norm_fold_params(g.data<float>(), b.data<float>(), m.data<float>(), v.data<float>(), eps, C,
                                      scale.data(), shift.data());
      Tensor y(DType::float32, x.shape);
      kernels::batch_norm_inference(isa, x.data<float>(), y.data<float>(), scale.data(), shift.data(), N, C, inner);
      std::vector<double> want(static_cast<size_t>(x.numel()));
      for (int64_t i = 0; i < x.numel(); ++i) {
        int64_t c = (i / inner) % C;
        want[size_t(i)] = (double(x.data<float>()[i]) - m.data<float>()[c]) /
                              std::sqrt(double(v.data<float>()[c]) + eps) * g.data<float>()[c] +
                          b.data<float>()[c];
      }
      expect_close(y.data<float>(), want, 1e-5, 1e-6, std::string(isa_name(isa)) + " inner " + std::to_string(inner));
    }
}

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

TEST(UnaryKernel, EveryActivationMatchesFloat64OnEveryIsa) {
  using kernels::Unary;
  struct Case {
    kernels::UnaryParams p;
    double (*ref)(double, double, double);
  };
  const Case cases[] = {
      {{Unary::relu}, [](double x, double, double) { return x < 0 ? 0.0 : x; }},
      {{Unary::leaky_relu, 0.1f}, [](double x, double a, double) { return x < 0 ? a * x : x; }},
      {{Unary::clip, -0.5f, 0.7f}, [](double x, double a, double b) { return std::isnan(x) ? x : std::min(std::max(x, a), b); }},
      // min above max: max everywhere (numpy.clip, ONNX's reference)
      {{Unary::clip, 0.7f, -0.5f}, [](double x, double a, double b) { return std::isnan(x) ? x : std::min(std::max(x, a), b); }},
      {{Unary::sigmoid}, [](double x, double, double) { return sigmoid(x); }},
      {{Unary::hard_sigmoid, 0.2f, 0.5f}, [](double x, double a, double b) { return std::isnan(x) ? x : std::min(std::max(a * x + b, 0.0), 1.0); }},
      {{Unary::hard_swish}, [](double x, double, double) { return std::isnan(x) ? x : x * std::min(std::max(x / 6 + 0.5, 0.0), 1.0); }},
  };
  for (Isa isa : machine_isas())
    for (auto& c : cases)
      for (int64_t n : kLengths) {
        Tensor x = random_tensor({n}, unsigned(n) + 7, -6, 6);
        if (n > 2) x.data<float>()[1] = std::numeric_limits<float>::quiet_NaN();  // NaN propagates
        Tensor y(DType::float32, {n});
        kernels::unary(isa, c.p, x.data<float>(), y.data<float>(), n);
        std::vector<double> want(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) want[size_t(i)] = c.ref(x.data<float>()[i], c.p.a, c.p.b);
        expect_close(y.data<float>(), want, 1e-6, 1e-7,
                     std::string(isa_name(isa)) + " op " + std::to_string(int(c.p.op)) + " n " + std::to_string(n));
      }
}

TEST(UnaryKernel, MathAndMoreActivationsMatchFloat64OnEveryIsa) {
  using kernels::Unary;
  struct Case {
    kernels::UnaryParams p;
    double (*ref)(double, double, double);
    float lo = -6, hi = 6;
  };
  const Case cases[] = {
      {{Unary::log}, [](double x, double, double) { return std::log(x); }, 1e-3f, 50},
      {{Unary::floor}, [](double x, double, double) { return std::floor(x); }},
      {{Unary::ceil}, [](double x, double, double) { return std::ceil(x); }},
      {{Unary::round}, [](double x, double, double) { return std::nearbyint(x); }},
      {{Unary::sign}, [](double x, double, double) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; }},
      {{Unary::sin}, [](double x, double, double) { return std::sin(x); }, -30, 30},
      {{Unary::cos}, [](double x, double, double) { return std::cos(x); }, -30, 30},
      {{Unary::softplus}, [](double x, double, double) { return std::log1p(std::exp(x)); }, -40, 40},
      {{Unary::softsign}, [](double x, double, double) { return x / (1 + std::fabs(x)); }},
      {{Unary::elu, 0.7f}, [](double x, double a, double) { return x < 0 ? a * std::expm1(x) : x; }},
      {{Unary::selu, 1.6732632f, 1.050701f}, [](double x, double a, double g) { return g * (x > 0 ? x : a * std::expm1(x)); }},
      {{Unary::celu, 0.8f}, [](double x, double a, double) { return std::isnan(x) ? x : std::max(0.0, x) + std::min(0.0, a * std::expm1(x / a)); }},
      {{Unary::thresholded_relu, 0.5f}, [](double x, double a, double) { return std::isnan(x) ? x : x > a ? x : 0.0; }},
      {{Unary::mish}, [](double x, double, double) { return x * std::tanh(std::log1p(std::exp(x))); }, -30, 30},
      {{Unary::tan}, [](double x, double, double) { return std::tan(x); }, -1.5f, 1.5f},
      {{Unary::asin}, [](double x, double, double) { return std::asin(x); }, -1, 1},
      {{Unary::acos}, [](double x, double, double) { return std::acos(x); }, -1, 1},
      {{Unary::atan}, [](double x, double, double) { return std::atan(x); }, -30, 30},
      {{Unary::sinh}, [](double x, double, double) { return std::sinh(x); }, -20, 20},
      {{Unary::cosh}, [](double x, double, double) { return std::cosh(x); }, -20, 20},
      {{Unary::asinh}, [](double x, double, double) { return std::asinh(x); }, -50, 50},
      {{Unary::acosh}, [](double x, double, double) { return std::acosh(x); }, 1, 50},
      {{Unary::atanh}, [](double x, double, double) { return std::atanh(x); }, -0.99f, 0.99f},
  };
  for (Isa isa : machine_isas())
    for (auto& c : cases)
      for (int64_t n : kLengths) {
        Tensor x = random_tensor({n}, unsigned(n) + 11, c.lo, c.hi);
        if (n > 2) x.data<float>()[1] = std::numeric_limits<float>::quiet_NaN();  // NaN propagates
        if (n > 5 && c.p.op == Unary::round) {  // halves go to the even neighbour
          x.data<float>()[2] = 2.5f;
          x.data<float>()[3] = -3.5f;
          x.data<float>()[4] = 0.5f;
        }
        Tensor y(DType::float32, {n});
        kernels::unary(isa, c.p, x.data<float>(), y.data<float>(), n);
        std::vector<double> want(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) want[size_t(i)] = c.ref(x.data<float>()[i], c.p.a, c.p.b);
        expect_close(y.data<float>(), want, 2e-6, 1e-7,
                     std::string(isa_name(isa)) + " op " + std::to_string(int(c.p.op)) + " n " + std::to_string(n));
      }
}

TEST(BinaryKernel, MaxMinPReluPropagateNaNOnEveryIsa) {
  using kernels::Binary;
  for (Isa isa : machine_isas())
    for (Binary op : {Binary::max, Binary::min, Binary::prelu})
      for (int64_t n : kLengths)
        for (int mode = 0; mode < 3; ++mode) {
          const int64_t sa = mode == 2 ? 0 : 1, sb = mode == 1 ? 0 : 1;
          Tensor a = random_tensor({n}, 3, -2, 2), b = random_tensor({n}, 4, -2, 2), y(DType::float32, {n});
          if (n > 3) {
            a.data<float>()[2] = std::numeric_limits<float>::quiet_NaN();
            b.data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
          }
          kernels::elementwise_table_for(isa).binary(op, a.data<float>(), sa, b.data<float>(), sb, y.data<float>(), n);
          std::vector<double> want(static_cast<size_t>(n));
          for (int64_t i = 0; i < n; ++i) {
            double u = a.data<float>()[i * sa], v = b.data<float>()[i * sb];
            const double nan = std::numeric_limits<double>::quiet_NaN();
            want[size_t(i)] = op == Binary::prelu ? (u < 0 ? u * v : u)
                              : std::isnan(u) || std::isnan(v) ? nan
                              : op == Binary::max ? std::max(u, v) : std::min(u, v);
          }
          // max and min pick an input exactly; prelu's product rounds once.
          expect_close(y.data<float>(), want, op == Binary::prelu ? 6e-8 : 0, 0,
                       std::string(isa_name(isa)) + " op " + std::to_string(int(op)) + " n " + std::to_string(n) +
                           " mode " + std::to_string(mode));
        }
}

TEST(BinaryKernel, ArithmeticWithScalarBroadcastOnEveryIsa) {
  using kernels::Binary;
  for (Isa isa : machine_isas())
    for (Binary op : {Binary::add, Binary::sub, Binary::mul, Binary::div})
      for (int64_t n : kLengths)
        for (int mode = 0; mode < 3; ++mode) {
          const int64_t sa = mode == 2 ? 0 : 1, sb = mode == 1 ? 0 : 1;
          Tensor a = random_tensor({n}, 1, 0.5, 2), b = random_tensor({n}, 2, 0.5, 2), y(DType::float32, {n});
          kernels::elementwise_table_for(isa).binary(op, a.data<float>(), sa, b.data<float>(), sb, y.data<float>(), n);
          std::vector<double> want(static_cast<size_t>(n));
          for (int64_t i = 0; i < n; ++i) {
            double u = a.data<float>()[i * sa], v = b.data<float>()[i * sb];
            want[size_t(i)] = op == Binary::add ? u + v : op == Binary::sub ? u - v : op == Binary::mul ? u * v : u / v;
          }
          expect_close(y.data<float>(), want, 1e-6, 0, std::string(isa_name(isa)) + " n " + std::to_string(n));
        }
}

TEST(SoftmaxKernel, RowsAndStridedAxisMatchFloat64OnEveryIsa) {
  for (Isa isa : machine_isas())
    for (int64_t n : kLengths)
      for (int64_t inner : {int64_t(1), int64_t(3)}) {
        const int64_t outer = 2;
        Tensor x = random_tensor({outer, n, inner}, unsigned(n), -20, 20), y(DType::float32, x.shape);
        kernels::softmax(isa, x.data<float>(), y.data<float>(), outer, n, inner);
        std::vector<double> want(static_cast<size_t>(x.numel()));
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t j = 0; j < inner; ++j) {
            double mx = -INFINITY, sum = 0;
            auto at = [&](int64_t i) { return (o * n + i) * inner + j; };
            for (int64_t i = 0; i < n; ++i) mx = std::max(mx, double(x.data<float>()[at(i)]));
            for (int64_t i = 0; i < n; ++i) sum += std::exp(double(x.data<float>()[at(i)]) - mx);
            for (int64_t i = 0; i < n; ++i) want[size_t(at(i))] = std::exp(double(x.data<float>()[at(i)]) - mx) / sum;
          }
        expect_close(y.data<float>(), want, 1e-5, 1e-7, std::string(isa_name(isa)) + " n " + std::to_string(n));
      }
}

TEST(PoolKernel, AverageAndMaxMatchFloat64WithPadsAndDilation) {
  const int64_t H = 7, W = 9;
  Tensor x = random_tensor({1, 2, H, W}, 5);
  for (bool max : {true, false})
    for (bool include_pad : {false, true})
      for (int64_t dil : {1, 2}) {
        const int64_t k = 3, s = 2, pb = 1, pe = 2;
        const int64_t OH = (H + pb + pe - ((k - 1) * dil + 1)) / s + 1, OW = (W + pb + pe - ((k - 1) * dil + 1)) / s + 1;
        auto p = kernels::make_pool_params(1, 2, {H, W}, {OH, OW}, {k, k}, {s, s}, {dil, dil}, {pb, pb}, {pe, pe});
        p.max = max;
        p.count_include_pad = include_pad;
        Tensor y(DType::float32, {1, 2, OH, OW});
        kernels::pool(p, x.data<float>(), y.data<float>());
        std::vector<double> want;
        for (int64_t c = 0; c < 2; ++c)
          for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow) {
              double acc = max ? -INFINITY : 0;
              int64_t count = 0, padded = 0;
              for (int64_t i = 0; i < k; ++i)
                for (int64_t j = 0; j < k; ++j) {
                  int64_t h = oh * s - pb + i * dil, w = ow * s - pb + j * dil;
                  if (h < H + pe && w < W + pe) ++padded;
                  if (h < 0 || w < 0 || h >= H || w >= W) continue;
                  double v = x.data<float>()[(c * H + h) * W + w];
                  acc = max ? std::max(acc, v) : acc + v;
                  ++count;
                }
              want.push_back(max ? acc : acc / double(include_pad ? padded : count));
            }
        expect_close(y.data<float>(), want, 1e-6, 1e-7, "pool");
      }
}

TEST(Kernels, SameBitsForAnyThreadCount) {
  Tensor x = random_tensor({4, 64, 1000}, 9), y1(DType::float32, x.shape), y2(DType::float32, x.shape);
  for (Isa isa : machine_isas()) {
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      kernels::softmax(isa, x.data<float>(), (threads == 1 ? y1 : y2).data<float>(), 256, 1000, 1);
    }
    EXPECT_EQ(y1.bytes, y2.bytes) << isa_name(isa);
  }
}

// float64 LayerNorm / RMS norm of each row (x + r if r given).
std::vector<double> ref_norm(const Tensor& x, const Tensor* r, const Tensor* g, const Tensor* b, int64_t rows,
                             int64_t n, double eps, bool rms, std::vector<double>* mean = nullptr,
                             std::vector<double>* inv_std = nullptr) {
  std::vector<double> y(static_cast<size_t>(rows * n));
  for (int64_t i = 0; i < rows; ++i) {
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j)
      v[size_t(j)] = double(x.data<float>()[i * n + j]) + (r ? double(r->data<float>()[i * n + j]) : 0.0);
    double m = 0, var = 0;
    if (!rms) {
      for (double e : v) m += e;
      m /= double(n);
    }
    for (double e : v) var += (e - m) * (e - m);
    var /= double(n);
    const double rs = 1 / std::sqrt(var + eps);
    if (mean) mean->push_back(m);
    if (inv_std) inv_std->push_back(rs);
    for (int64_t j = 0; j < n; ++j)
      y[size_t(i * n + j)] = (v[size_t(j)] - m) * rs * (g ? g->data<float>()[j] : 1.0) + (b ? b->data<float>()[j] : 0.0);
  }
  return y;
}

const int64_t kRowLengths[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 768, 1000, 4099, 40000};

TEST(LayerNormKernel, MatchesFloat64OnEveryIsaAndShape) {
  for (Isa isa : machine_isas())
    for (int64_t n : kRowLengths)
      for (bool affine : {true, false}) {
        // 20: with one or two threads, each normalizes more than one group of wide rows.
        const int64_t rows = n > 4099 ? 2 : 20;
        Tensor x = random_tensor({rows, n}, unsigned(n), -2, 3), g = random_tensor({n}, 1, 0.5, 1.5),
               b = random_tensor({n}, 2);
        Tensor y(DType::float32, x.shape), mean(DType::float32, {rows}), inv(DType::float32, {rows});
        kernels::LayerNormArgs a;
        a.x = x.data<float>();
        a.y = y.data<float>();
        a.gamma = affine ? g.data<float>() : nullptr;
        a.beta = affine ? b.data<float>() : nullptr;
        a.mean_out = mean.data<float>();
        a.inv_std_out = inv.data<float>();
        a.rows = rows;
        a.n = n;
        kernels::layer_norm(isa, a);
        std::vector<double> want_mean, want_inv;
        auto want = ref_norm(x, nullptr, affine ? &g : nullptr, affine ? &b : nullptr, rows, n, 1e-5, false,
                             &want_mean, &want_inv);
        std::string what = std::string(isa_name(isa)) + " n " + std::to_string(n);
        expect_close(y.data<float>(), want, 1e-5, 2e-6, what);
        expect_close(mean.data<float>(), want_mean, 1e-5, 1e-6, what + " mean");
        expect_close(inv.data<float>(), want_inv, 1e-5, 0, what + " inv_std");
      }
}

TEST(LayerNormKernel, AccurateFarFromZeroAndWhenEpsilonDominates) {
  for (Isa isa : machine_isas())
    for (int64_t n : {int64_t(768), int64_t(4096), int64_t(40000)}) {
      // mean 1e4, std 0.1: naive float sums lose every digit of the result.
      Tensor x = random_tensor({2, n}, 3, -0.17f, 0.17f);
      for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] += 1e4f;
      Tensor y(DType::float32, x.shape);
      kernels::LayerNormArgs a;
      a.x = x.data<float>();
      a.y = y.data<float>();
      a.rows = 2;
      a.n = n;
      kernels::layer_norm(isa, a);
      auto want = ref_norm(x, nullptr, nullptr, nullptr, 2, n, 1e-5, false);
      double worst = 0, scale = 0;
      for (size_t i = 0; i < want.size(); ++i) {
        worst = std::max(worst, std::abs(y.data<float>()[i] - want[i]));
        scale = std::max(scale, std::abs(want[i]));
      }
      EXPECT_LE(worst / scale, 1e-4) << isa_name(isa) << " n " << n;

      // A constant row: variance 0, epsilon decides; the output is beta exactly.
      Tensor c(DType::float32, {1, n}), b = random_tensor({n}, 4), yc(DType::float32, {1, n});
      std::fill(c.data<float>(), c.data<float>() + n, 3.25f);
      a.x = c.data<float>();
      a.y = yc.data<float>();
      a.beta = b.data<float>();
      a.rows = 1;
      a.epsilon = 1e-3f;
      kernels::layer_norm(isa, a);
      EXPECT_EQ(std::memcmp(yc.data<float>(), b.data<float>(), size_t(n) * 4), 0) << isa_name(isa);
    }
}

TEST(LayerNormKernel, NanAndInfSpoilOnlyTheirOwnRow) {
  for (Isa isa : machine_isas())
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      const int64_t n = 37;
      Tensor x = random_tensor({3, n}, 5), y(DType::float32, x.shape);
      x.data<float>()[n + 11] = bad;
      kernels::LayerNormArgs a;
      a.x = x.data<float>();
      a.y = y.data<float>();
      a.rows = 3;
      a.n = n;
      kernels::layer_norm(isa, a);
      for (int64_t j = 0; j < n; ++j) {
        EXPECT_TRUE(std::isnan(y.data<float>()[n + j])) << isa_name(isa);
        EXPECT_TRUE(std::isfinite(y.data<float>()[j]) && std::isfinite(y.data<float>()[2 * n + j]));
      }
    }
}

TEST(LayerNormKernel, RmsNormAndAddLayerNormMatchFloat64) {
  for (Isa isa : machine_isas())
    for (int64_t n : kRowLengths) {
      const int64_t rows = 3;
      Tensor x = random_tensor({rows, n}, unsigned(n)), r = random_tensor({rows, n}, 9), g = random_tensor({n}, 1, 0.5, 1.5),
             b = random_tensor({n}, 2);
      Tensor y(DType::float32, x.shape), sum(DType::float32, x.shape);
      kernels::LayerNormArgs a;
      a.x = x.data<float>();
      a.y = y.data<float>();
      a.gamma = g.data<float>();
      a.rows = rows;
      a.n = n;
      a.rms = true;
      a.epsilon = 1e-6f;
      kernels::layer_norm(isa, a);
      std::string what = std::string(isa_name(isa)) + " n " + std::to_string(n);
      expect_close(y.data<float>(), ref_norm(x, nullptr, &g, nullptr, rows, n, 1e-6, true), 1e-5, 2e-6, what + " rms");

      a.rms = false;
      a.epsilon = 1e-5f;
      a.beta = b.data<float>();
      a.residual = r.data<float>();
      a.sum_out = sum.data<float>();
      kernels::layer_norm(isa, a);
      expect_close(y.data<float>(), ref_norm(x, &r, &g, &b, rows, n, 1e-5, false), 1e-5, 2e-6, what + " add+ln");
      std::vector<double> want_sum;
      for (int64_t i = 0; i < x.numel(); ++i) want_sum.push_back(double(x.data<float>()[i]) + r.data<float>()[i]);
      expect_close(sum.data<float>(), want_sum, 1e-6, 0, what + " sum");
    }
}

TEST(LayerNormKernel, InstanceNormMatchesFloat64) {
  for (Isa isa : machine_isas())
    for (int64_t inner : kLengths) {
      const int64_t N = 2, C = 3;
      Tensor x = random_tensor({N, C, inner}, unsigned(inner), 1, 4), s = random_tensor({C}, 1), b = random_tensor({C}, 2);
      Tensor y(DType::float32, x.shape);
      kernels::instance_norm(isa, x.data<float>(), y.data<float>(), s.data<float>(), b.data<float>(), N, C, inner, 1e-5f);
      auto norm = ref_norm(x, nullptr, nullptr, nullptr, N * C, inner, 1e-5, false);
      for (int64_t i = 0; i < x.numel(); ++i) {
        int64_t c = (i / inner) % C;
        norm[size_t(i)] = norm[size_t(i)] * s.data<float>()[c] + b.data<float>()[c];
      }
      expect_close(y.data<float>(), norm, 1e-5, 2e-6, std::string(isa_name(isa)) + " inner " + std::to_string(inner));
    }
}

// LayerNorm does not depend on the batch: a row alone, the same row inside a
// batch of 8, and either with 1 or 2 threads give the same bits — also for a
// row long enough to be split into chunks across threads. (8 x 768 and
// 8 x 4099 are large enough to be spread over threads: a row's moments are
// then taken alone or beside the normalize of another row (768), or with
// those of its group of wide rows (4099).)
// The same for RMS norm and Add+LayerNorm (output and written sum).
TEST(LayerNormKernel, BitwiseSameForAnyThreadCountAndBatch) {
  enum Kind { layer_norm, rms_norm, add_layer_norm };
  for (Isa isa : machine_isas())
    for (Kind kind : {layer_norm, rms_norm, add_layer_norm})
      for (int64_t n : {int64_t(768), int64_t(4099), int64_t(100000)}) {
        Tensor batch = random_tensor({8, n}, 11, -1, 5), res = random_tensor({8, n}, 12);
        Tensor g = random_tensor({n}, 1), b = random_tensor({n}, 2);
        // y and, for Add+LayerNorm, the sum after it.
        auto run = [&](int64_t first, int64_t rows, int threads) {
          omp_set_num_threads(threads);
          Tensor y(DType::float32, {kind == add_layer_norm ? 2 * rows : rows, n});
          kernels::LayerNormArgs a;
          a.x = batch.data<float>() + first * n;
          a.y = y.data<float>();
          a.gamma = g.data<float>();
          a.beta = kind == rms_norm ? nullptr : b.data<float>();
          a.rms = kind == rms_norm;
          if (kind == add_layer_norm) {
            a.residual = res.data<float>() + first * n;
            a.sum_out = y.data<float>() + rows * n;
          }
          a.rows = rows;
          a.n = n;
          kernels::layer_norm(isa, a);
          return y;
        };
        const std::string what = std::string(isa_name(isa)) + " kind " + std::to_string(kind) + " n " + std::to_string(n);
        Tensor all1 = run(0, 8, 1), all2 = run(0, 8, 2);
        EXPECT_EQ(all1.bytes, all2.bytes) << what;
        for (int64_t r : {0, 5}) {
          Tensor alone = run(r, 1, 2);
          EXPECT_EQ(std::memcmp(alone.data<float>(), all1.data<float>() + r * n, size_t(n) * 4), 0) << what << " row " << r;
          if (kind == add_layer_norm)
            EXPECT_EQ(std::memcmp(alone.data<float>() + n, all1.data<float>() + (8 + r) * n, size_t(n) * 4), 0)
                << what << " sum of row " << r;
        }
      }
  omp_set_num_threads(omp_get_num_procs());
}

// Weights packed once, before any row count is known, serve products of 1,
// 7 and 128 rows (B given plain and transposed): the cache keeps one copy
// each, and every product matches float64.
TEST(MatMulKernel, WeightsPackedAtLoadServeEveryRowCount) {
  const int64_t K = 40, N = 72;
  for (bool trans_b : {false, true}) {
    auto b = std::make_shared<Tensor>(random_tensor(trans_b ? Shape{N, K} : Shape{K, N}, 1));
    kernels::WeightCache cache;
    const kernels::WeightSource src{b->data<float>(), &cache, b};
    kernels::prepack_matmul_weights(src, K, N, trans_b);
    ASSERT_EQ(cache.size(), 1u);
    for (int64_t M : {1, 7, 128}) {
      kernels::MatMulDesc d;
      d.a_dims = {M, K};
      d.b_dims = b->shape;
      if (trans_b) d.b_perm = {1, 0};
      kernels::MatMul mm(d, src, nullptr);
      Tensor a = random_tensor({M, K}, unsigned(M)), y(DType::float32, {M, N});
      std::unique_ptr<void, void (*)(void*)> scratch(std::aligned_alloc(64, (mm.scratch_bytes() + 64) / 64 * 64), std::free);
      kernels::DnnlRun run;
      mm.run(a.data<float>(), nullptr, y.data<float>(), scratch.get(), run);
      run.stream().wait();
      EXPECT_EQ(cache.size(), 1u) << "M " << M;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double want = 0;
          for (int64_t k = 0; k < K; ++k)
            want += double(a.data<float>()[i * K + k]) * b->data<float>()[trans_b ? j * K + k : k * N + j];
          EXPECT_NEAR(y.data<float>()[i * N + j], want, 1e-4) << "M " << M << " trans_b " << trans_b;
        }
    }
  }
}

// Once a session releases a packed weight's plain bytes (data null), a
// layout not packed yet is rebuilt from the packed copy: the same values as
// the original; with no packed copy to rebuild from, an error.
TEST(MatMulKernel, ReleasedWeightsAreRebuiltFromTheirPackedCopy) {
  const int64_t K = 40, N = 72;
  for (bool trans_b : {false, true}) {
    auto b = std::make_shared<Tensor>(random_tensor(trans_b ? Shape{N, K} : Shape{K, N}, 1));
    kernels::WeightCache cache;
    kernels::prepack_matmul_weights({b->data<float>(), &cache, b}, K, N, trans_b);
    ASSERT_TRUE(cache.holds(b.get()));
    // As a session releases it: a tensor of the same dtype and shape with no
    // bytes takes over the packed copy.
    auto bare = std::make_shared<Tensor>();
    bare->dtype = b->dtype;
    bare->shape = b->shape;
    cache.rekey(b.get(), bare);
    EXPECT_FALSE(cache.holds(b.get()));
    ASSERT_TRUE(cache.holds(bare.get()));
    // B as prepack reads it: logical [K, N] over the stored matrix.
    const dnnl::memory::desc from({K, N}, dnnl::memory::data_type::f32,
                                  trans_b ? dnnl::memory::dims{1, K} : dnnl::memory::dims{N, 1});
    // Rows padded by 3: a layout no packing uses, so this is a rebuild.
    const dnnl::memory::desc plain({K, N}, dnnl::memory::data_type::f32, dnnl::memory::dims{N + 3, 1});
    dnnl::memory m = cache.get(bare, nullptr, from, plain);
    EXPECT_EQ(cache.size(), 2u);
    const float* got = static_cast<const float*>(m.get_data_handle());
    int wrong = 0;
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j)
        wrong += got[k * (N + 3) + j] != b->data<float>()[trans_b ? j * K + k : k * N + j];
    EXPECT_EQ(wrong, 0) << "trans_b " << trans_b;
    kernels::WeightCache empty;
    EXPECT_THROW(empty.get(bare, nullptr, from, plain), std::logic_error);
  }
}

// B [K, N] in 64-column panels (gemv.h), packed here by hand: rows past K
// NaN, where the kernels must not read, columns past N zero, as oneDNN pads.
std::vector<float> hand_packed_panels(const Tensor& b, int64_t K, int64_t N) {
  using kernels::kGemvKBlock;
  using kernels::kGemvPanel;
  const int64_t kp = (K + kGemvKBlock - 1) / kGemvKBlock * kGemvKBlock, np = (N + kGemvPanel - 1) / kGemvPanel;
  std::vector<float> panels(size_t(np * kp * kGemvPanel), 0.f);
  for (int64_t p = 0; p < np; ++p)
    for (int64_t k = 0; k < kp; ++k)
      for (int64_t j = 0; j < kGemvPanel; ++j) {
        const int64_t n = p * kGemvPanel + j;
        float& v = panels[size_t((p * kp + k) * kGemvPanel + j)];
        if (k >= K) v = std::numeric_limits<float>::quiet_NaN();
        else if (n < N) v = b.data<float>()[k * N + n];
      }
  return panels;
}

// One row times B in 64-column panels (hand_packed_panels) against float64,
// on every ISA, with and without a bias; bitwise the same at 1 and 2
// threads. And the panels oneDNN packs for a one-row product on this
// machine, when it packs that layout, hold exactly B.
TEST(GemvKernel, MatchesFloat64OnEveryIsaAndPanelsAreOneDnnsPacking) {
  using kernels::kGemvKBlock;
  using kernels::kGemvPanel;
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {3, 5}, {16, 64}, {17, 65}, {33, 200}, {100, 130}, {1280, 1000}, {4099, 7}};
  for (auto [K, N] : shapes) {
    const int64_t kp = (K + kGemvKBlock - 1) / kGemvKBlock * kGemvKBlock, np = (N + kGemvPanel - 1) / kGemvPanel;
    Tensor b = random_tensor({K, N}, unsigned(K * 7 + N)), x = random_tensor({K}, unsigned(K), -2, 2),
           bias = random_tensor({N}, unsigned(N) + 3);
    const std::vector<float> panels = hand_packed_panels(b, K, N);
    for (Isa isa : machine_isas())
      for (bool with_bias : {false, true}) {
        const std::string what = std::string(isa_name(isa)) + " K " + std::to_string(K) + " N " + std::to_string(N) +
                                 " bias " + std::to_string(with_bias);
        std::vector<float> y1(size_t(N) + 1, -7.f), y2(size_t(N) + 1, -7.f);
        const float* bp = with_bias ? bias.data<float>() : nullptr;
        omp_set_num_threads(1);
        kernels::gemv(isa, x.data<float>(), panels.data(), bp, y1.data(), K, N);
        omp_set_num_threads(2);
        kernels::gemv(isa, x.data<float>(), panels.data(), bp, y2.data(), K, N);
        EXPECT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * 4), 0) << what;
        EXPECT_EQ(y1[size_t(N)], -7.f) << what << ": wrote past N";
        std::vector<double> want(static_cast<size_t>(N));
        for (int64_t n = 0; n < N; ++n) {
          double acc = with_bias ? bias.data<float>()[n] : 0.0;
          for (int64_t k = 0; k < K; ++k) acc += double(x.data<float>()[k]) * b.data<float>()[k * N + n];
          want[size_t(n)] = acc;
        }
        expect_close(y1.data(), want, 1e-5, 1e-5 * std::sqrt(double(K)), what);
      }
    // oneDNN's packing of the same B for one row.
    auto owned = std::make_shared<Tensor>(b);
    kernels::MatMulDesc d;
    d.a_dims = {1, K};
    d.b_dims = {K, N};
    kernels::MatMul mm(d, {owned->data<float>(), nullptr, owned}, nullptr);
    if (!mm.panels()) continue;  // another layout on this CPU: products run on oneDNN
    int wrong = 0;
    for (int64_t p = 0; p < np; ++p)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < kGemvPanel; ++j) {
          const size_t at = size_t((p * kp + k) * kGemvPanel + j);
          wrong += mm.panels()[at] != panels[at];
        }
    EXPECT_EQ(wrong, 0) << "K " << K << " N " << N;
  }
  omp_set_num_threads(omp_get_num_procs());
}

// Rows times B in 64-column panels (hand_packed_panels) against float64, on
// every ISA: row counts around the tile (6) and row block (240), K across
// its block (768), N with and without a partial panel, with and without a
// bias and an activation (Relu; Gelu, whose vector and scalar paths differ).
// Bitwise the same at 1, 2 and 3 threads (split by panels, or by panels and
// rows where few panels do not divide evenly between the threads: N of 129,
// 130 and 192 at 2 threads, N of 50, 64 and 70 at both), and each row
// bitwise the same computed alone; nothing written outside Y.
TEST(GemmKernel, MatchesFloat64OnEveryIsaWhateverTheThreadsAndOtherRows) {
  struct Case { int64_t M, K, N; };
  const Case cases[] = {{2, 1, 1},     {5, 17, 65},     {6, 16, 64},    {7, 33, 200},   {13, 300, 130},
                        {130, 769, 192}, {241, 40, 70}, {3, 1600, 129}, {64, 100, 1000}, {300, 1000, 64},
                        {500, 800, 50}};
  const kernels::UnaryParams relu{kernels::Unary::relu}, gelu{kernels::Unary::gelu};
  for (auto [M, K, N] : cases) {
    Tensor b = random_tensor({K, N}, unsigned(K * 5 + N)), a = random_tensor({M, K}, unsigned(M + K), -2, 2),
           bias = random_tensor({N}, unsigned(N) + 9);
    const std::vector<float> panels = hand_packed_panels(b, K, N);
    std::vector<double> plain(static_cast<size_t>(M * N));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += double(a.data<float>()[m * K + k]) * b.data<float>()[k * N + n];
        plain[size_t(m * N + n)] = acc;
      }
    for (Isa isa : machine_isas())
      for (int with : {0, 1, 2, 3}) {  // nothing, bias, bias and Relu, bias and Gelu
        const std::string what = std::string(isa_name(isa)) + " M " + std::to_string(M) + " K " + std::to_string(K) +
                                 " N " + std::to_string(N) + " with " + std::to_string(with);
        const float* bp = with ? bias.data<float>() : nullptr;
        const kernels::UnaryParams* act = with == 2 ? &relu : with == 3 ? &gelu : nullptr;
        std::vector<float> y1(size_t(M * N) + 1, -7.f), y2(y1), y3(y1), alone(size_t(N) + 1, -7.f);
        omp_set_num_threads(1);
        kernels::gemm(isa, a.data<float>(), panels.data(), bp, y1.data(), M, K, N, act);
        omp_set_num_threads(2);
        kernels::gemm(isa, a.data<float>(), panels.data(), bp, y2.data(), M, K, N, act);
        omp_set_num_threads(3);
        kernels::gemm(isa, a.data<float>(), panels.data(), bp, y3.data(), M, K, N, act);
        EXPECT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * 4), 0) << what;
        EXPECT_EQ(std::memcmp(y1.data(), y3.data(), y1.size() * 4), 0) << what << ": 3 threads";
        EXPECT_EQ(y1[size_t(M * N)], -7.f) << what << ": wrote past Y";
        const int64_t row = M / 2;
        kernels::gemm(isa, a.data<float>() + row * K, panels.data(), bp, alone.data(), 1, K, N, act);
        EXPECT_EQ(std::memcmp(alone.data(), y1.data() + row * N, size_t(N) * 4), 0) << what << ": row alone";
        EXPECT_EQ(alone[size_t(N)], -7.f) << what << ": wrote past the row";
        std::vector<double> want(plain);
        for (int64_t e = 0; e < M * N; ++e) {
          double& v = want[size_t(e)];
          if (with) v += bias.data<float>()[e % N];
          if (with == 2) v = std::max(v, 0.0);
          if (with == 3) v = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
        }
        expect_close(y1.data(), want, 1e-5, 1e-5 * std::sqrt(double(K)), what);
      }
  }
  omp_set_num_threads(omp_get_num_procs());
}

// gemm reading rows of A `lda` apart and writing Y in blocks of 16 columns
// `ldb` apart (a 1x1 convolution's nChw16c output): the same bits as the
// row-major product put in place; Relu or Clip applied as each tile is
// stored, and Gelu after, give the bits of the element-wise kernels applied
// to the product (NaN kept); a row-major product agrees with float64;
// nothing else is written; bitwise the same at 1 and 2 threads.
TEST(GemmKernel, BlockedColumnsAndStoredActivationsMatchTheRowMajorProduct) {
  struct Case { int64_t M, K, N; };
  const Case cases[] = {{1, 5, 16},     {6, 16, 64},     {7, 40, 48},   {13, 769, 64},
                        {13, 769, 208}, {49, 100, 320}, {64, 33, 208}};  // (K above a block: a partial panel read back)
  const kernels::UnaryParams acts[] = {{kernels::Unary::relu}, {kernels::Unary::clip, -0.5f, 0.7f},
                                       {kernels::Unary::gelu}, {kernels::Unary::clip, 0.7f, -0.5f}};
  for (auto [M, K, N] : cases) {
    const int64_t lda = K + 3, ldb = M * 16 + 32;  // rows of A padded; a gap after each block of Y
    Tensor b = random_tensor({K, N}, unsigned(K + N)), a = random_tensor({M, lda}, unsigned(M * 3 + K), -2, 2),
           bias = random_tensor({N}, unsigned(N) + 1);
    a.data<float>()[(M / 2) * lda + K / 2] = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> panels = hand_packed_panels(b, K, N);
    std::vector<float> packed_a(size_t(M * K));  // A without its padding, for the row-major product
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k) packed_a[size_t(m * K + k)] = a.data<float>()[m * lda + k];
    for (Isa isa : machine_isas())
      for (int with : {-1, 0, 1, 2, 3}) {  // no activation, Relu, Clip, Gelu, Clip of min above max
        const std::string what = std::string(isa_name(isa)) + " M " + std::to_string(M) + " K " + std::to_string(K) +
                                 " N " + std::to_string(N) + " activation " + std::to_string(with);
        const kernels::UnaryParams* act = with >= 0 ? &acts[with] : nullptr;
        std::vector<float> plain(size_t(M * N));
        kernels::gemm(isa, packed_a.data(), panels.data(), bias.data<float>(), plain.data(), M, K, N, nullptr);
        if (act) kernels::unary(isa, *act, plain.data(), plain.data(), M * N);
        if (with < 0) {
          std::vector<double> want(size_t(M * N));
          for (int64_t e = 0; e < M * N; ++e) {
            double acc = bias.data<float>()[e % N];
            for (int64_t k = 0; k < K; ++k) acc += double(packed_a[size_t(e / N * K + k)]) * b.data<float>()[k * N + e % N];
            want[size_t(e)] = acc;
          }
          expect_close(plain.data(), want, 1e-5, 1e-5 * std::sqrt(double(K)), what);
        }
        for (int threads : {1, 2}) {
          omp_set_num_threads(threads);
          std::vector<float> rows(plain.size() + 1, -7.f), blocks(size_t(N / 16 * ldb), -7.f);
          kernels::gemm(isa, a.data<float>(), lda, panels.data(), bias.data<float>(), rows.data(), N, 16, M, K, N, act);
          kernels::gemm(isa, a.data<float>(), lda, panels.data(), bias.data<float>(), blocks.data(), 16, ldb, M, K, N,
                        act);
          EXPECT_EQ(std::memcmp(rows.data(), plain.data(), plain.size() * 4), 0) << what << " threads " << threads;
          EXPECT_EQ(rows.back(), -7.f) << what << ": wrote past Y";
          bool same = true, gaps = true;
          for (int64_t i = 0; i < int64_t(blocks.size()); ++i) {
            const int64_t block = i / ldb, at = i % ldb, m = at / 16, n = block * 16 + at % 16;
            if (at >= M * 16) gaps = gaps && blocks[size_t(i)] == -7.f;
            else same = same && std::memcmp(&blocks[size_t(i)], &plain[size_t(m * N + n)], 4) == 0;
          }
          EXPECT_TRUE(same) << what << " threads " << threads << ": blocked Y";
          EXPECT_TRUE(gaps) << what << " threads " << threads << ": wrote between the blocks";
        }
      }
  }
  omp_set_num_threads(omp_get_num_procs());
}

// profile holds a memory-bound kernel to the copy bandwidth of the smallest
// footprint that holds its bytes, and to the largest beyond them.
TEST(MachineLimits, CopyLevelIsTheSmallestFootprintHoldingTheBytes) {
  const std::vector<kernels::CopyLevel> levels{{1024, 300.0}, {65536, 100.0}, {1 << 24, 20.0}};
  EXPECT_EQ(kernels::copy_level_for(levels, 1.0).footprint, 1024u);
  EXPECT_EQ(kernels::copy_level_for(levels, 1024.0).footprint, 1024u);
  EXPECT_EQ(kernels::copy_level_for(levels, 1025.0).footprint, 65536u);
  EXPECT_EQ(kernels::copy_level_for(levels, double(1 << 24)).footprint, size_t(1) << 24);
  EXPECT_EQ(kernels::copy_level_for(levels, 1e12).footprint, size_t(1) << 24);
}

}  // namespace
}  // namespace normrt
