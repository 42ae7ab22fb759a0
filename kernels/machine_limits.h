#pragma once
// The machine's own limits, measured, so that kernel speeds can be reported
// as fractions of them: peak FMA throughput and copy bandwidth.
#include <cstddef>
#include <cstdint>
#include <vector>

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
// GB/s (bytes read + written) of memcpy on `threads` threads, source and
// destination together `footprint` bytes (so a small footprint measures a
// cache level, a large one memory).
double measure_copy_gbps(int threads, size_t footprint);

// Copy bandwidth at footprints from L1-sized to far beyond the last-level
// cache, smallest first: what a memory-bound kernel touching that many bytes
// can be held to.
struct CopyLevel {
  size_t footprint;
  double gbps;
};
std::vector<CopyLevel> measure_copy_levels(int threads);
// The level for a kernel that reads and writes `bytes`: the smallest whose
// footprint holds them, or the largest.
const CopyLevel& copy_level_for(const std::vector<CopyLevel>& levels, double bytes);

}  // namespace normrt::kernels
