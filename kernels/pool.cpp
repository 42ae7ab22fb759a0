#include "kernels/pool.h"

#include <algorithm>
#include <limits>

namespace normrt::kernels {

PoolParams make_pool_params(int64_t N, int64_t C, const std::vector<int64_t>& in, const std::vector<int64_t>& out,
                            const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                            const std::vector<int64_t>& dilation, const std::vector<int64_t>& pad_begin,
                            const std::vector<int64_t>& pad_end) {
  PoolParams p;
  p.N = N;
  p.C = C;
  const size_t lead = 3 - in.size();
  for (size_t i = 0; i < 3; ++i) {
    bool pad = i < lead;
    size_t k = i - lead;
    p.in[i] = pad ? 1 : in[k];
    p.out[i] = pad ? 1 : out[k];
    p.kernel[i] = pad ? 1 : kernel[k];
    p.stride[i] = pad ? 1 : stride[k];
    p.dilation[i] = pad ? 1 : dilation[k];
    p.pad_begin[i] = pad ? 0 : pad_begin[k];
    p.pad_end[i] = pad ? 0 : pad_end[k];
  }
  return p;
}

void pool(const PoolParams& p, const float* x, float* y) {
  const int64_t in_plane = p.in[0] * p.in[1] * p.in[2];
  const int64_t out_plane = p.out[0] * p.out[1] * p.out[2];
  const int64_t planes = p.N * p.C;
#pragma omp parallel for schedule(static) if (planes * out_plane > 4096)
  for (int64_t pc = 0; pc < planes; ++pc) {
    const float* xp = x + pc * in_plane;
    float* yp = y + pc * out_plane;
    for (int64_t od = 0; od < p.out[0]; ++od)
      for (int64_t oh = 0; oh < p.out[1]; ++oh)
        for (int64_t ow = 0; ow < p.out[2]; ++ow) {
          const int64_t o[3] = {od, oh, ow};
          float acc = p.max ? -std::numeric_limits<float>::infinity() : 0.f;
          int64_t count = 0, padded_count = 1;
          int64_t lo[3], hi[3];
          for (int d = 0; d < 3; ++d) {
            lo[d] = o[d] * p.stride[d] - p.pad_begin[d];
            hi[d] = lo[d] + (p.kernel[d] - 1) * p.dilation[d] + 1;
            // Taps inside the padded input (what count_include_pad divides by).
            int64_t end = std::min(hi[d], p.in[d] + p.pad_end[d]);
            padded_count *= (end - lo[d] + p.dilation[d] - 1) / p.dilation[d];
          }
          for (int64_t kd = lo[0]; kd < hi[0]; kd += p.dilation[0]) {
            if (kd < 0 || kd >= p.in[0]) continue;
            for (int64_t kh = lo[1]; kh < hi[1]; kh += p.dilation[1]) {
              if (kh < 0 || kh >= p.in[1]) continue;
              for (int64_t kw = lo[2]; kw < hi[2]; kw += p.dilation[2]) {
                if (kw < 0 || kw >= p.in[2]) continue;
                float v = xp[(kd * p.in[1] + kh) * p.in[2] + kw];
                if (p.max) acc = (v > acc || v != v) ? v : acc;
                else acc += v;
                ++count;
              }
            }
          }
          if (!p.max) acc /= float(p.count_include_pad ? padded_count : std::max<int64_t>(count, 1));
          yp[(od * p.out[1] + oh) * p.out[2] + ow] = acc;
        }
  }
}

void global_pool(bool max, const float* x, float* y, int64_t rows, int64_t inner) {
#pragma omp parallel for schedule(static) if (rows * inner > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * inner;
    if (max) {
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < inner; ++i) m = (xr[i] > m || xr[i] != xr[i]) ? xr[i] : m;
      y[r] = m;
    } else {
      double s = 0;  // long rows: accumulate in double, fixed order
      for (int64_t i = 0; i < inner; ++i) s += xr[i];
      y[r] = float(s / double(inner));
    }
  }
}

}  // namespace normrt::kernels
