#include "kernels/machine_limits.h"

#include <omp.h>

#include <chrono>
#include <cstring>
#include <vector>

namespace normrt::kernels {
namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

double measure_fma_gflops(Isa isa, int threads) {
  const auto& t = peak_table_for(isa);
  const int64_t iters = 2000000;
  double best = 0;
  volatile float sink = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
    { sink = sink + t.fma_loop(iters); }
    best = std::max(best, double(t.flops_per_iter) * double(iters) * threads / seconds_since(start) / 1e9);
  }
  return best;
}

double measure_copy_gbps(int threads) {
  const size_t n = size_t(64) << 20, chunk = size_t(1) << 20;
  std::vector<char> a(n, 1), b(n, 0);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t c = 0; c < int64_t(n / chunk); ++c) std::memcpy(b.data() + c * chunk, a.data() + c * chunk, chunk);
    best = std::max(best, 2.0 * double(n) / seconds_since(start) / 1e9);
  }
  return best;
}

}  // namespace normrt::kernels
