#pragma once
// Numerically stable softmax: exp(x - max) / sum, along one axis.
#include <cstdint>

#include "kernels/isa.h"

namespace normrt::kernels {

struct SoftmaxTable {
  void (*row)(const float* x, float* y, int64_t n);      // one contiguous row
  void (*log_row)(const float* x, float* y, int64_t n);  // log-softmax of one row
};
NORMRT_ISA_TABLE(SoftmaxTable, softmax_table)

// x, y: [outer, n, inner], softmax over n. Rows spread over threads.
void softmax(Isa isa, const float* x, float* y, int64_t outer, int64_t n, int64_t inner, bool log = false);

}  // namespace normrt::kernels
