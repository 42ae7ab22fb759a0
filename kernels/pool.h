#pragma once
// Max and average pooling over 1-3 spatial dims, NC[D]HW.
#include <cstdint>
#include <vector>

namespace normrt::kernels {

struct PoolParams {
  int64_t N = 1, C = 1;
  // Spatial dims, padded to 3 with leading 1s (kernel 1, stride 1, no pad).
  int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad_begin[3], pad_end[3];
  bool max = true;
  bool count_include_pad = false;  // average only
};

// Fills a PoolParams' spatial fields from 1-3 dim vectors.
PoolParams make_pool_params(int64_t N, int64_t C, const std::vector<int64_t>& in, const std::vector<int64_t>& out,
                            const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                            const std::vector<int64_t>& dilation, const std::vector<int64_t>& pad_begin,
                            const std::vector<int64_t>& pad_end);

void pool(const PoolParams& p, const float* x, float* y);

// Mean or max over `inner` contiguous values for each of `rows` rows.
void global_pool(bool max, const float* x, float* y, int64_t rows, int64_t inner);

}  // namespace normrt::kernels
