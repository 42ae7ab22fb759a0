// Every SIMD kernel on every ISA this machine has, against float64
// references, on lengths around the vector widths (tails shorter than a vector).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>

#include "kernels/batch_norm.h"
#include "kernels/elementwise.h"
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
      const int64_t N = 2, C = 3;
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

}  // namespace
}  // namespace normrt
