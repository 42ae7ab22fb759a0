#pragma once
// The machine's own limits, measured, so that kernel speeds can be reported
// as fractions of them: peak FMA throughput and copy bandwidth.
#include <cstdint>

#include "kernels/isa.h"

namespace normrt::kernels {

struct PeakTable {
  // Runs `iters` rounds of independent FMAs; returns a value that depends on them (kept live).
  float (*fma_loop)(int64_t iters);
  int64_t flops_per_iter;  // 2 * lanes * chains
};
NORMRT_ISA_TABLE(PeakTable, peak_table)

// GFLOP/s of fused multiply-adds on `threads` threads with `isa` vectors.
double measure_fma_gflops(Isa isa, int threads);
// GB/s (bytes read + written) of memcpy of a 64 MiB buffer split over `threads` threads.
double measure_copy_gbps(int threads);

}  // namespace normrt::kernels
