// BatchNormalization (inference): the per-channel scale and shift are
// computed once at plan time when the parameters are weights.
// LayerNormalization, RMS norm (normrt.RMSNormalization), the fused
// residual Add + LayerNorm (normrt.AddLayerNormalization) and
// InstanceNormalization on the LayerNorm kernels. LRN (local response
// normalization across channels) as a plain loop.
#include <algorithm>
#include <cmath>

#include "graph/geometry.h"
#include "kernels/batch_norm.h"
#include "kernels/layer_norm.h"
#include "runtime/ops/broadcast.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

std::unique_ptr<Kernel> batch_norm(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const int64_t N = x[0], C = x[1], inner = shape_numel(Shape(x.begin() + 2, x.end()));
  const float eps = c.node.attr_f("epsilon", 1e-5f);
  const Isa isa = c.isa;
  if (c.node.attr_i("training_mode", 0) != 0) {
    const float momentum = c.node.attr_f("momentum", 0.9f);
    const size_t outs = c.out.size();
    return kernel_fn([=](const RunArgs& a) {
      auto p = [&](size_t k) { return static_cast<const float*>(a.in[k]); };
      kernels::batch_norm_training(
          isa, {p(0), p(1), p(2), p(3), p(4), static_cast<float*>(a.out[0]),
                outs > 1 ? static_cast<float*>(a.out[1]) : nullptr, outs > 2 ? static_cast<float*>(a.out[2]) : nullptr,
                N, C, inner, eps, momentum});
    });
  }
  bool all_constant = true;
  for (size_t k = 1; k <= 4; ++k) all_constant = all_constant && c.constant(k);
  if (all_constant) {
    auto p = [&](size_t k) { return c.constant(k)->data<float>(); };
    auto ss = std::make_shared<std::vector<float>>(2 * size_t(C));
    kernels::batch_norm_fold_params(p(1), p(2), p(3), p(4), eps, C, ss->data(), ss->data() + C);
    return kernel_fn([=](const RunArgs& a) {
      kernels::batch_norm_inference(isa, static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]),
                                    ss->data(), ss->data() + C, N, C, inner);
    });
  }
  return kernel_fn(
      [=](const RunArgs& a) {
        auto p = [&](size_t k) { return static_cast<const float*>(a.in[k]); };
        float* scale = static_cast<float*>(a.scratch);
        kernels::batch_norm_fold_params(p(1), p(2), p(3), p(4), eps, C, scale, scale + C);
        kernels::batch_norm_inference(isa, p(0), static_cast<float*>(a.out[0]), scale, scale + C, N, C, inner);
      },
      2 * size_t(C) * sizeof(float));
}

// gamma/beta broadcast over the n normalized values.
void expand(const float* src, int64_t m, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[m == n ? i : m == 1 ? 0 : i % m];
}

KernelFactory layer_norm_op(bool rms, bool residual) {
  return [rms, residual](const BindContext& c) -> std::unique_ptr<Kernel> {
    const Shape& x = c.out[0].shape;
    // Add+LayerNorm whose operands broadcast: the sum is formed first, then normalized.
    const bool broadcast_sum = residual && (c.in_shape(0) != x || c.in_shape(1) != x);
    const auto sum_strides = broadcast_sum ? broadcast_strides({c.in_shape(0), c.in_shape(1)}, x) : std::vector<Shape>{};
    const int64_t axis = normalize_axis(c.node.attr_i("axis", -1), int64_t(x.size()), c.where);
    int64_t rows = 1, n = 1;
    for (size_t i = 0; i < x.size(); ++i) (int64_t(i) < axis ? rows : n) *= x[i];
    const float eps = c.node.attr_f("epsilon", rms ? 1e-6f : 1e-5f);
    // Scale and bias: weights are expanded to the n normalized values once
    // here; run-time ones are used in place when whole, else expanded into scratch.
    struct Param {
      size_t input = 0;
      int64_t numel = 0;
      std::shared_ptr<std::vector<float>> constant;
    };
    std::vector<Param> params;  // [gamma, beta]
    size_t scratch = residual ? size_t(rows * n) : 0;
    for (size_t k : {residual ? size_t(2) : size_t(1), residual ? size_t(3) : size_t(2)}) {
      Param p;
      if (c.has_input(k) && !(rms && params.size() == 1)) {
        p.input = k;
        p.numel = shape_numel(c.in_shape(k));
        if (const Tensor* t = c.constant(k)) {
          p.constant = std::make_shared<std::vector<float>>(size_t(n));
          expand(t->data<float>(), p.numel, p.constant->data(), n);
        } else if (p.numel != n) {
          scratch += size_t(n);
        }
      }
      params.push_back(p);
    }
    const Isa isa = c.isa;
    const size_t outs = c.out.size();
    return kernel_fn(
        [=](const RunArgs& a) {
          float* free_scratch = static_cast<float*>(a.scratch) + (residual ? rows * n : 0);
          auto resolve = [&](const Param& p) -> const float* {
            if (!p.input) return nullptr;
            if (p.constant) return p.constant->data();
            auto* v = static_cast<const float*>(a.in[p.input]);
            if (p.numel == n) return v;
            expand(v, p.numel, free_scratch, n);
            free_scratch += n;
            return free_scratch - n;
          };
          kernels::LayerNormArgs args;
          args.x = static_cast<const float*>(a.in[0]);
          args.y = static_cast<float*>(a.out[0]);
          if (residual) {
            float* sum = outs > 1 && a.out[1] ? static_cast<float*>(a.out[1]) : static_cast<float*>(a.scratch);
            if (broadcast_sum) {
              auto* p = static_cast<const float*>(a.in[0]);
              auto* q = static_cast<const float*>(a.in[1]);
              for_each_broadcast(x, sum_strides, [&](int64_t i, const auto& o) { sum[i] = p[o[0]] + q[o[1]]; });
              args.x = sum;
            } else {
              args.residual = static_cast<const float*>(a.in[1]);
              args.sum_out = sum;
            }
          } else if (!rms) {
            args.mean_out = outs > 1 ? static_cast<float*>(a.out[1]) : nullptr;
            args.inv_std_out = outs > 2 ? static_cast<float*>(a.out[2]) : nullptr;
          }
          args.gamma = resolve(params[0]);
          args.beta = resolve(params[1]);
          args.rows = rows;
          args.n = n;
          args.epsilon = eps;
          args.rms = rms;
          kernels::layer_norm(isa, args);
        },
        scratch * sizeof(float));
  };
}

std::unique_ptr<Kernel> instance_norm(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const int64_t N = x[0], C = x[1], inner = shape_numel(Shape(x.begin() + 2, x.end()));
  const float eps = c.node.attr_f("epsilon", 1e-5f);
  const Isa isa = c.isa;
  return kernel_fn([=](const RunArgs& a) {
    kernels::instance_norm(isa, static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]),
                           static_cast<const float*>(a.in[1]), static_cast<const float*>(a.in[2]), N, C, inner, eps);
  });
}

// LRN across channels: x / (bias + alpha / size * sum of x^2 over the
// channels [c - (size - 1) / 2, c + size / 2])^beta, the sum in double.
std::unique_ptr<Kernel> lrn(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const int64_t size = c.node.attr_i("size", 0);
  if (size < 1) c.fail("size must be positive");
  if (x.size() < 3) c.fail("input must be [N, C, ...]");
  const double alpha = c.node.attr_f("alpha", 1e-4f), beta = c.node.attr_f("beta", 0.75f),
               bias = c.node.attr_f("bias", 1.f);
  const int64_t N = x[0], C = x[1], S = shape_numel(x) / std::max<int64_t>(N * C, 1);
  const int64_t before = (size - 1) / 2, after = size / 2, window = std::min(size, C);
  return kernel_fn([=](const RunArgs& a) {
    auto* in = static_cast<const float*>(a.in[0]);
    auto* out = static_cast<float*>(a.out[0]);
#pragma omp parallel for schedule(static) if (N * C * S * window > 65536)
    for (int64_t nc = 0; nc < N * C; ++nc) {
      const int64_t n = nc / C, ch = nc % C;
      const int64_t lo = std::max<int64_t>(0, ch - before), hi = std::min<int64_t>(C - 1, ch + after);
      for (int64_t s = 0; s < S; ++s) {
        double sq = 0;
        for (int64_t k = lo; k <= hi; ++k) {
          const double v = in[(n * C + k) * S + s];
          sq += v * v;
        }
        out[nc * S + s] = float(double(in[nc * S + s]) / std::pow(bias + alpha / double(size) * sq, beta));
      }
    }
  });
}

// MeanVarianceNormalization: (x - mean) / (std + 1e-9) over `axes` (default
// N, H, W), the moments in double and two passes (the ONNX function's own
// E[x^2] - E[x]^2 cancels for data far from zero).
std::unique_ptr<Kernel> mean_variance_norm(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const int64_t r = int64_t(x.size());
  std::vector<bool> reduced(x.size(), false);
  std::vector<int64_t> axes = c.node.attr_ints("axes", {0, 2, 3});
  if (axes.empty())  // (as the ONNX function's ReduceMean: every axis)
    for (int64_t a = 0; a < r; ++a) axes.push_back(a);
  for (int64_t a : axes) {
    const int64_t axis = normalize_axis(a, r, c.where);
    if (reduced[size_t(axis)]) c.fail("repeated axis");
    reduced[size_t(axis)] = true;
  }
  // Each element's group: its index with the reduced dims dropped.
  Shape group_stride(x.size(), 0);
  int64_t groups = 1;
  for (int64_t d = r; d-- > 0;)
    if (!reduced[size_t(d)]) {
      group_stride[size_t(d)] = groups;
      groups *= x[size_t(d)];
    }
  const int64_t n = shape_numel(x), count = groups ? n / groups : 0;
  auto group_of = [=](int64_t i) {
    int64_t g = 0;
    for (int64_t d = r; d-- > 0; i /= x[size_t(d)]) g += (i % x[size_t(d)]) * group_stride[size_t(d)];
    return size_t(g);
  };
  return kernel_fn(
      [=](const RunArgs& a) {
        auto* in = static_cast<const float*>(a.in[0]);
        auto* out = static_cast<float*>(a.out[0]);
        double* mean = static_cast<double*>(a.scratch);
        double* dev = mean + groups;
        std::fill(mean, mean + 2 * groups, 0.0);
        for (int64_t i = 0; i < n; ++i) mean[group_of(i)] += in[i];
        for (int64_t g = 0; g < groups; ++g) mean[g] /= double(count);
        for (int64_t i = 0; i < n; ++i) {
          const double d = in[i] - mean[group_of(i)];
          dev[group_of(i)] += d * d;
        }
        for (int64_t g = 0; g < groups; ++g) dev[g] = std::sqrt(dev[g] / double(count)) + 1e-9;
        for (int64_t i = 0; i < n; ++i) {
          const size_t g = group_of(i);
          out[i] = float((in[i] - mean[g]) / dev[g]);
        }
      },
      size_t(2 * groups) * sizeof(double));
}

}  // namespace

void register_normalization_ops(Registry& r) {
  r.add("BatchNormalization", 7, 18, batch_norm);
  r.add("LayerNormalization", 17, 18, layer_norm_op(false, false));
  r.add("InstanceNormalization", 6, 18, instance_norm);
  r.add("LRN", 1, 18, lrn);
  r.add("MeanVarianceNormalization", 9, 18, mean_variance_norm);
  r.add("LayerNormalization", 1, 999, layer_norm_op(false, false), "normrt");
  r.add("RMSNormalization", 1, 999, layer_norm_op(true, false), "normrt");
  r.add("AddLayerNormalization", 1, 999, layer_norm_op(false, true), "normrt");
}

}  // namespace normrt
