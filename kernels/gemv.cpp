#include "kernels/gemv.h"

namespace normrt::kernels {

void gemv(Isa isa, const float* x, const float* w, const float* bias, float* y, int64_t K, int64_t N) {
  const auto panel = gemv_table_for(isa).panel;
  const int64_t kp = (K + kGemvKBlock - 1) / kGemvKBlock * kGemvKBlock, np = (N + kGemvPanel - 1) / kGemvPanel;
  // Threads pay off once B is past the size of a small cache.
#pragma omp parallel for schedule(static) if (K * N >= 65536 && np > 1)
  for (int64_t p = 0; p < np; ++p) panel(x, w, bias, y, K, kp, N, p);
}

}  // namespace normrt::kernels
