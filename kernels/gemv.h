#pragma once
// One row times a constant matrix, y[N] = x[K] · B[K, N] + bias: the
// products of batch 1 (a classifier head, a decoder step). B is read in the
// panels oneDNN's matmul packs weights into for every row count (BA16a64b:
// 64 columns at a time, each panel K rows of 64 contiguous floats, K padded
// to 16 and N to 64 with zeros), so no second copy is made. One row reads
// each weight once and does one FMA with it, so the product runs at the
// speed B streams from memory; oneDNN's brgemm kernel, blocked for many rows,
// took 1.4-1.6x as long when B was not in cache (bench_matmul's BM_GemvCold
// beside BM_MatMulCold).
#include <cstdint>

#include "kernels/isa.h"

namespace normrt::kernels {

constexpr int64_t kGemvPanel = 64, kGemvKBlock = 16;

// The packed B of columns [c0, N) alone: its panels from c0 (a multiple of
// kGemvPanel) on.
inline const float* panels_from(const float* w, int64_t K, int64_t c0) {
  return w + (K + kGemvKBlock - 1) / kGemvKBlock * kGemvKBlock * c0;
}

struct GemvTable {
  // Panel p of y: columns [64 p, min(N, 64 (p + 1))). `w` is the whole
  // packed B, `kp` its padded row count; bias may be null.
  void (*panel)(const float* x, const float* w, const float* bias, float* y, int64_t K, int64_t kp, int64_t N,
                int64_t p);
};
NORMRT_ISA_TABLE(GemvTable, gemv_table)

// Panels spread over the OpenMP threads; each output sums over K in one
// fixed order, so the result is bitwise the same for any thread count.
void gemv(Isa isa, const float* x, const float* w, const float* bias, float* y, int64_t K, int64_t N);

}  // namespace normrt::kernels
