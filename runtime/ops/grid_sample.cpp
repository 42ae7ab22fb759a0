// GridSample (opset 16): Y[n, c, h, w] samples X[n, c] at the point
// grid[n, h, w] = (x, y) in [-1, 1], bilinear, nearest or bicubic, with zeros,
// border or reflection padding, as PyTorch's grid_sample computes it (which
// the ONNX operator follows): the same unnormalizing, reflecting and
// clipping of coordinates, round half to even for nearest, and bicubic's
// taps each padded on their own with A = -0.75. A NaN in the grid gives NaN
// (PyTorch's own kernels disagree there: 0, or the first or last pixel).
#include <algorithm>
#include <cmath>
#include <string>

#include "runtime/registry.h"

namespace normrt {
namespace {

enum class Mode { bilinear, nearest, bicubic };
enum class Padding { zeros, border, reflection };

struct Sampler {
  int64_t N = 0, C = 0, H = 0, W = 0, Ho = 0, Wo = 0;
  Mode mode = Mode::bilinear;
  Padding padding = Padding::zeros;
  bool align = false;

  // [-1, 1] to pixel coordinates in [0, size - 1] (align_corners) or
  // [-0.5, size - 0.5].
  double unnormalize(double g, int64_t size) const {
    return align ? (g + 1) / 2 * double(size - 1) : ((g + 1) * double(size) - 1) / 2;
  }
  static double reflect(double v, double twice_low, double twice_high) {
    if (twice_low == twice_high) return 0;
    const double low = twice_low / 2, span = (twice_high - twice_low) / 2;
    v = std::fabs(v - low);
    const double extra = std::fmod(v, span);
    const bool even = std::fmod(std::floor(v / span), 2.0) == 0;  // flips, without an integer to overflow
    return even ? extra + low : span - extra + low;
  }
  // Border and reflection move a coordinate inside the image; with zeros a
  // point far outside only moves to where every tap still reads 0, so the
  // integer conversions after stay in range.
  double padded(double v, int64_t size) const {
    if (padding == Padding::zeros) return std::clamp(v, -4.0, double(size) + 3);
    if (padding == Padding::border) return std::clamp(v, 0.0, double(size - 1));
    if (padding == Padding::reflection) {
      v = align ? reflect(v, 0, 2.0 * double(size - 1)) : reflect(v, -1, 2.0 * double(size) - 1);
      return std::clamp(v, 0.0, double(size - 1));
    }
    return v;
  }
  // A pixel, or 0 outside the image.
  static float at(const float* plane, int64_t y, int64_t x, int64_t H, int64_t W) {
    return y >= 0 && y < H && x >= 0 && x < W ? plane[y * W + x] : 0.f;
  }
  static void cubic(double t, double w[4]) {
    const double A = -0.75;
    auto near = [&](double d) { return ((A + 2) * d - (A + 3)) * d * d + 1; };
    auto far = [&](double d) { return ((A * d - 5 * A) * d + 8 * A) * d - 4 * A; };
    w[0] = far(t + 1);
    w[1] = near(t);
    w[2] = near(1 - t);
    w[3] = far(2 - t);
  }

  void run(const float* X, const float* grid, float* Y) const {
#pragma omp parallel for schedule(static) if (N * Ho * Wo * C > 32768)
    for (int64_t p = 0; p < N * Ho * Wo; ++p) {
      const int64_t n = p / (Ho * Wo), hw = p % (Ho * Wo);
      const float* x = X + n * C * H * W;
      float* y = Y + n * C * Ho * Wo + hw;
      if (std::isnan(grid[2 * p]) || std::isnan(grid[2 * p + 1])) {  // no point to sample
        for (int64_t c = 0; c < C; ++c) y[c * Ho * Wo] = std::nanf("");
        continue;
      }
      // An infinity becomes a very large number, which reflection can fold.
      const double gx = std::clamp(double(grid[2 * p]), -1e30, 1e30), gy = std::clamp(double(grid[2 * p + 1]), -1e30, 1e30);
      if (mode == Mode::bicubic) {
        double ix = unnormalize(gx, W), iy = unnormalize(gy, H);
        if (padding == Padding::zeros) ix = padded(ix, W), iy = padded(iy, H);  // each tap padded below otherwise
        const double fx = std::floor(ix), fy = std::floor(iy);
        double wx[4], wy[4];
        cubic(ix - fx, wx);
        cubic(iy - fy, wy);
        int64_t xs[4], ys[4];
        for (int k = 0; k < 4; ++k) {
          xs[k] = int64_t(padded(fx - 1 + k, W));
          ys[k] = int64_t(padded(fy - 1 + k, H));
          if (padding == Padding::zeros) xs[k] = int64_t(fx) - 1 + k, ys[k] = int64_t(fy) - 1 + k;
        }
        for (int64_t c = 0; c < C; ++c) {
          const float* plane = x + c * H * W;
          double v = 0;
          for (int j = 0; j < 4; ++j) {
            double row = 0;
            for (int i = 0; i < 4; ++i) row += wx[i] * at(plane, ys[j], xs[i], H, W);
            v += wy[j] * row;
          }
          y[c * Ho * Wo] = float(v);
        }
        continue;
      }
      const double ix = padded(unnormalize(gx, W), W), iy = padded(unnormalize(gy, H), H);
      if (mode == Mode::nearest) {
        const int64_t xn = int64_t(std::nearbyint(ix)), yn = int64_t(std::nearbyint(iy));
        for (int64_t c = 0; c < C; ++c) y[c * Ho * Wo] = at(x + c * H * W, yn, xn, H, W);
        continue;
      }
      const double fx = std::floor(ix), fy = std::floor(iy), tx = ix - fx, ty = iy - fy;
      const int64_t x0 = int64_t(fx), y0 = int64_t(fy);
      for (int64_t c = 0; c < C; ++c) {
        const float* plane = x + c * H * W;
        const double top = (1 - tx) * at(plane, y0, x0, H, W) + tx * at(plane, y0, x0 + 1, H, W);
        const double bottom = (1 - tx) * at(plane, y0 + 1, x0, H, W) + tx * at(plane, y0 + 1, x0 + 1, H, W);
        y[c * Ho * Wo] = float((1 - ty) * top + ty * bottom);
      }
    }
  }
};

std::unique_ptr<Kernel> grid_sample(const BindContext& c) {
  Sampler s;
  const Shape &x = c.in_shape(0), &g = c.in_shape(1);
  s.N = x[0], s.C = x[1], s.H = x[2], s.W = x[3], s.Ho = g[1], s.Wo = g[2];
  const std::string mode = c.node.attr_s("mode", "bilinear"), padding = c.node.attr_s("padding_mode", "zeros");
  if (mode == "bilinear") s.mode = Mode::bilinear;
  else if (mode == "nearest") s.mode = Mode::nearest;
  else if (mode == "bicubic") s.mode = Mode::bicubic;
  else c.fail("mode '" + mode + "' is not bilinear, nearest or bicubic");
  if (padding == "zeros") s.padding = Padding::zeros;
  else if (padding == "border") s.padding = Padding::border;
  else if (padding == "reflection") s.padding = Padding::reflection;
  else c.fail("padding_mode '" + padding + "' is not zeros, border or reflection");
  s.align = c.node.attr_i("align_corners", 0) != 0;
  return kernel_fn([s](const RunArgs& a) {
    s.run(static_cast<const float*>(a.in[0]), static_cast<const float*>(a.in[1]), static_cast<float*>(a.out[0]));
  });
}

}  // namespace

void register_grid_sample_ops(Registry& r) { r.add("GridSample", 16, 18, grid_sample); }

}  // namespace normrt
