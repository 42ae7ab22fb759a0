// Resize (nearest, linear, cubic; opsets 11-18) as separable passes: one
// resized dim at a time, each output element a weighted sum of `taps`
// neighbours along that dim (1 nearest, 2 linear, 4 cubic). Indices outside
// the dim are clamped to it (the edge repeats), or with exclude_outside get
// weight 0 and the rest are renormalized, as ONNX's reference does. A dim
// whose taps pick each element as it is costs no pass.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "graph/geometry.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

struct Pass {
  int64_t outer = 1, in = 1, out = 1, inner = 1, taps = 1;
  std::vector<int64_t> index;  // [out * taps], within [0, in)
  std::vector<float> weight;   // [out * taps]
};

// Where output element o of a dim of `in` resized by `scale` comes from. The
// resized length is in * scale unrounded, as in ONNX's reference (it differs
// from the output size only when scales, not sizes, are given).
double source(const std::string& mode, int64_t o, int64_t in, double scale) {
  const double out = double(in) * scale;
  if (mode == "asymmetric") return double(o) / scale;
  if (mode == "align_corners") return out == 1 ? 0.0 : double(o) * double(in - 1) / (out - 1);
  if (mode == "pytorch_half_pixel") return out == 1 ? 0.0 : (double(o) + 0.5) / scale - 0.5;
  if (mode == "tf_half_pixel_for_nn") return (double(o) + 0.5) / scale;
  return (double(o) + 0.5) / scale - 0.5;  // half_pixel
}

// Coordinates far outside any dim are clamped first (they select the edge
// either way), so converting them to an index cannot overflow.
double clamped(double x) { return std::isnan(x) ? 0.0 : std::clamp(x, -double(int64_t(1) << 50), double(int64_t(1) << 50)); }

int64_t nearest(double x, const std::string& mode) {
  const double f = std::floor(x), r = x - f;
  if (r == 0) return int64_t(f);
  if (mode == "floor") return int64_t(f);
  if (mode == "ceil") return int64_t(f) + 1;
  if (mode == "round_prefer_ceil") return int64_t(f) + (r >= 0.5);
  return int64_t(f) + (r > 0.5);  // round_prefer_floor
}

// Keys' cubic convolution weights of the taps at floor(x) - 1 .. floor(x) + 2, r = x - floor(x).
void cubic_weights(double r, double A, double* w) {
  auto far = [A](double t) { return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A; };  // 1 <= t < 2
  auto near = [A](double t) { return ((A + 2) * t - (A + 3)) * t * t + 1; };      // 0 <= t < 1
  w[0] = far(r + 1);
  w[1] = near(r);
  w[2] = near(1 - r);
  w[3] = far(2 - r);
}

// What a Resize or Upsample node asks for, checked.
struct ResizeSpec {
  std::string mode, coords, nearest_mode;
  double A = -0.75;
  bool exclude_outside = false;
  std::vector<float> scales;
  std::vector<int64_t> sizes, axes;
};

std::unique_ptr<Kernel> resampled(const BindContext& c, const ResizeSpec& spec);

std::unique_ptr<Kernel> resize(const BindContext& c) {
  const Node& n = c.node;
  ResizeSpec spec;
  spec.mode = n.attr_s("mode", "nearest");
  spec.coords = n.attr_s("coordinate_transformation_mode", "half_pixel");
  spec.nearest_mode = n.attr_s("nearest_mode", "round_prefer_floor");
  const std::string &mode = spec.mode, &coords = spec.coords, &nearest_mode = spec.nearest_mode;
  if (mode != "nearest" && mode != "linear" && mode != "cubic") c.fail("unknown mode '" + mode + "'");
  if (coords == "tf_crop_and_resize") c.fail("coordinate_transformation_mode tf_crop_and_resize is not supported");
  if (coords != "half_pixel" && coords != "pytorch_half_pixel" && coords != "align_corners" &&
      coords != "asymmetric" && coords != "tf_half_pixel_for_nn")
    c.fail("unknown coordinate_transformation_mode '" + coords + "'");
  if (nearest_mode != "round_prefer_floor" && nearest_mode != "round_prefer_ceil" && nearest_mode != "floor" &&
      nearest_mode != "ceil")
    c.fail("unknown nearest_mode '" + nearest_mode + "'");
  if (n.attr_i("antialias", 0) != 0) c.fail("antialias is not supported");
  if (n.attr_s("keep_aspect_ratio_policy", "stretch") != "stretch")
    c.fail("keep_aspect_ratio_policy other than stretch is not supported");
  spec.A = n.attr_f("cubic_coeff_a", -0.75f);
  spec.exclude_outside = n.attr_i("exclude_outside", 0) != 0;
  if (const Tensor* t = c.constant(2); t && t->numel() > 0) spec.scales.assign(t->data<float>(), t->data<float>() + t->numel());
  if (const Tensor* t = c.constant(3)) spec.sizes = t->as_int64();
  if (c.opset >= 18) spec.axes = n.attr_ints("axes");
  return resampled(c, spec);
}

// Upsample (opsets 7 to 9, before Resize): scales (an attribute, an input
// from opset 9), nearest or linear, coordinates asymmetric, nearest rounding
// down, as ONNX's own Upsample data have it.
std::unique_ptr<Kernel> upsample(const BindContext& c) {
  ResizeSpec spec;
  spec.mode = c.node.attr_s("mode", "nearest");
  if (spec.mode != "nearest" && spec.mode != "linear") c.fail("mode '" + spec.mode + "' is not nearest or linear");
  spec.coords = "asymmetric";
  spec.nearest_mode = "floor";
  if (c.opset < 9) {
    if (const Attribute* a = c.node.attr("scales")) spec.scales = a->fs;
  } else if (const Tensor* t = c.constant(1)) {
    spec.scales.assign(t->data<float>(), t->data<float>() + t->numel());
  }
  return resampled(c, spec);
}

std::unique_ptr<Kernel> resampled(const BindContext& c, const ResizeSpec& spec) {
  const std::string &mode = spec.mode, &coords = spec.coords, &nearest_mode = spec.nearest_mode;
  const double A = spec.A;
  const bool exclude_outside = spec.exclude_outside;
  const Shape& x = c.in_shape(0);
  const ResizeDims g = resize_dims(x, spec.scales, spec.sizes, spec.axes, c.where);

  const int64_t taps = mode == "nearest" ? 1 : mode == "linear" ? 2 : 4;
  std::vector<Pass> passes;
  Shape cur = x;
  for (size_t d = 0; d < x.size(); ++d) {
    Pass p;
    p.in = x[d], p.out = g.out[d], p.taps = taps;
    bool identity = p.in == p.out;
    for (int64_t o = 0; o < p.out; ++o) {
      const double s = clamped(source(coords, o, p.in, g.scale[d]));
      double w[4] = {1, 0, 0, 0};
      int64_t first = 0;
      if (taps == 1) {
        first = nearest(s, nearest_mode);
      } else {
        first = int64_t(std::floor(s)) - (taps == 4);
        const double r = s - std::floor(s);
        if (taps == 2) w[0] = 1 - r, w[1] = r;
        else cubic_weights(r, A, w);
      }
      if (exclude_outside && taps > 1) {
        double sum = 0;
        for (int64_t t = 0; t < taps; ++t) {
          if (first + t < 0 || first + t >= p.in) w[t] = 0;
          sum += w[t];
        }
        if (sum != 0)
          for (int64_t t = 0; t < taps; ++t) w[t] /= sum;
      }
      bool picks_o = false;  // this output is input element o, as it is
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t i = std::clamp<int64_t>(first + t, 0, std::max<int64_t>(p.in - 1, 0));
        p.index.push_back(i);
        p.weight.push_back(float(w[t]));
        if (w[t] == 0) continue;
        if (i == o && w[t] == 1 && !picks_o) picks_o = true;
        else identity = false;
      }
      identity = identity && picks_o;
    }
    if (identity) continue;
    p.outer = 1;
    for (size_t k = 0; k < d; ++k) p.outer *= cur[k];
    p.inner = 1;
    for (size_t k = d + 1; k < cur.size(); ++k) p.inner *= cur[k];
    cur[d] = p.out;
    passes.push_back(std::move(p));
  }
  const int64_t total = shape_numel(g.out);
  if (passes.empty() || total == 0) {
    const size_t bytes = size_t(total) * sizeof(float);
    return kernel_fn([bytes](const RunArgs& a) { if (bytes) std::memcpy(a.out[0], a.in[0], bytes); });
  }
  // Two buffers for the passes before the last, each as large as the largest of their outputs.
  size_t half = 0;
  for (size_t k = 0; k + 1 < passes.size(); ++k)
    half = std::max(half, size_t(passes[k].outer * passes[k].out * passes[k].inner));
  half = (half + 15) / 16 * 16;
  return kernel_fn(
      [passes, half](const RunArgs& a) {
        const float* src = static_cast<const float*>(a.in[0]);
        for (size_t k = 0; k < passes.size(); ++k) {
          const Pass& p = passes[k];
          float* dst = k + 1 == passes.size() ? static_cast<float*>(a.out[0])
                                              : static_cast<float*>(a.scratch) + (k % 2) * half;
          const int64_t rows = p.outer * p.out;
#pragma omp parallel for schedule(static) if (rows * p.inner * p.taps > 65536)
          for (int64_t r = 0; r < rows; ++r) {
            const int64_t o1 = r / p.out, o = r % p.out;
            float* y = dst + r * p.inner;
            const int64_t* idx = &p.index[size_t(o * p.taps)];
            const float* w = &p.weight[size_t(o * p.taps)];
            const float* s0 = src + (o1 * p.in + idx[0]) * p.inner;
            for (int64_t j = 0; j < p.inner; ++j) y[j] = w[0] * s0[j];
            for (int64_t t = 1; t < p.taps; ++t) {
              const float* s = src + (o1 * p.in + idx[t]) * p.inner;
              for (int64_t j = 0; j < p.inner; ++j) y[j] += w[t] * s[j];
            }
          }
          src = dst;
        }
      },
      2 * half * sizeof(float));
}

}  // namespace

void register_resize_ops(Registry& r) {
  r.add("Resize", 11, 18, resize);
  r.add("Upsample", 7, 9, upsample);
}

}  // namespace normrt
