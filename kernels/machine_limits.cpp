#include "kernels/machine_limits.h"

#include <omp.h>

#include <algorithm>
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

double measure_copy_gbps(int threads, size_t footprint) {
  const size_t n = std::max<size_t>(footprint / 2 / 64, size_t(threads)) * 64;  // each buffer, in cache lines
  std::vector<char> a(n, 1), b(n, 0);
  // Small buffers are copied many times inside one parallel region, so the
  // region's start does not count; about 64 MiB moves per timing.
  const int64_t rounds = std::max<int64_t>(1, int64_t((size_t(64) << 20) / (2 * n)));
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
    {
      const size_t lines = n / 64, t = size_t(omp_get_num_threads()), id = size_t(omp_get_thread_num());
      const size_t begin = lines * id / t * 64, end = lines * (id + 1) / t * 64;
      // In pieces of at most 256 KB, as the kernels' own loops copy: one
      // call of many megabytes would switch glibc to non-temporal stores,
      // which no kernel writing its output for the next one uses.
      constexpr size_t kPiece = size_t(256) << 10;
      for (int64_t r = 0; r < rounds; ++r) {
        for (size_t o = begin; o < end; o += kPiece) std::memcpy(b.data() + o, a.data() + o, std::min(kPiece, end - o));
        asm volatile("" ::: "memory");  // each round is a copy of its own
      }
    }
    best = std::max(best, 2.0 * double(n) * double(rounds) / seconds_since(start) / 1e9);
  }
  return best;
}

std::vector<CopyLevel> measure_copy_levels(int threads) {
  std::vector<CopyLevel> levels;
  for (size_t kb : {32, 256, 2048, 16384, 262144}) levels.push_back({kb << 10, measure_copy_gbps(threads, kb << 10)});
  return levels;
}

const CopyLevel& copy_level_for(const std::vector<CopyLevel>& levels, double bytes) {
  for (const auto& l : levels)
    if (bytes <= double(l.footprint)) return l;
  return levels.back();
}

}  // namespace normrt::kernels
