#include "kernels/gemm.h"

#include <omp.h>

#include <algorithm>
#include <limits>

namespace normrt::kernels {

void gemm(Isa isa, const float* a, int64_t lda, const float* w, const float* bias, float* y, int64_t ldy, int64_t ldb,
          int64_t M, int64_t K, int64_t N, const UnaryParams* act) {
  if (M == 0 || N == 0) return;
  const auto panel = gemm_table_for(isa).panel;
  const auto unary = elementwise_table_for(isa).unary;
  const int64_t kp = (K + kGemvKBlock - 1) / kGemvKBlock * kGemvKBlock, np = (N + kGemvPanel - 1) / kGemvPanel;
  const int64_t kblocks = std::max<int64_t>(1, (K + kGemmKBlock - 1) / kGemmKBlock), kc = (K + kblocks - 1) / kblocks;
  auto block = [&](int64_t p, int64_t b) { return w + (p * kp + b * kc) * kGemvPanel; };
  auto block_k = [&](int64_t b) { return std::min(kc, K - b * kc); };
  // Relu and Clip are applied as each tile is stored; other activations to
  // each block of rows once it is done.
  float clamp[2] = {0.f, std::numeric_limits<float>::infinity()};
  const bool clamped = act && (act->op == Unary::relu || act->op == Unary::clip);
  if (act && act->op == Unary::clip) clamp[0] = act->a, clamp[1] = act->b;
  // Rows [m_begin, m_end) of panels [p_begin, p_end).
  auto run = [&](int64_t m_begin, int64_t m_end, int64_t p_begin, int64_t p_end) {
    for (int64_t m0 = m_begin; m0 < m_end; m0 += kGemmRowBlock) {
      const int64_t rows = std::min(kGemmRowBlock, m_end - m0);
      for (int64_t b = 0; b < kblocks; ++b)
        for (int64_t p = p_begin; p < p_end; ++p) {
          // The block of B that runs next: the next panel's, else the first
          // panel's of the next block of K (or of the next block of rows).
          const int64_t next_p = p + 1 < p_end ? p + 1 : p_begin, next_b = p + 1 < p_end ? b : (b + 1) % kblocks;
          const bool more = p + 1 < p_end || b + 1 < kblocks || m0 + kGemmRowBlock < m_end;
          const int64_t c0 = p * kGemvPanel, width = std::min(kGemvPanel, N - c0);
          panel(a + m0 * lda + b * kc, lda, block(p, b), block_k(b), y + m0 * ldy + c0 / kGemmColumnBlock * ldb, ldy,
                ldb, rows, width, b == 0, b + 1 == kblocks, bias ? bias + c0 : nullptr, clamped ? clamp : nullptr,
                more ? reinterpret_cast<const char*>(block(next_p, next_b)) : nullptr,
                more ? block_k(next_b) * kGemvPanel * int64_t(sizeof(float)) / 64 : 0);
        }
      if (act && !clamped) {
        // Each row's columns [c0, c1), in runs as contiguous as the layout has them.
        const int64_t c0 = p_begin * kGemvPanel, c1 = std::min(N, p_end * kGemvPanel);
        const int64_t span = ldb == kGemmColumnBlock ? c1 - c0 : kGemmColumnBlock;
        for (int64_t r = m0; r < m0 + rows; ++r)
          for (int64_t c = c0; c < c1; c += span) {
            float* at = y + r * ldy + c / kGemmColumnBlock * ldb + c % kGemmColumnBlock;
            unary(*act, at, at, std::min(span, c1 - c));
          }
      }
    }
  };
#pragma omp parallel if (M * K * N >= (int64_t(1) << 18))
  {
    // The work is panels × `parts` ranges of rows, part-major, cut evenly
    // between the threads: panels alone where they divide evenly between
    // the threads (or are many), else rows too (a part's rows read every
    // panel of B again, from L3).
    const int64_t threads = omp_get_num_threads(), id = omp_get_thread_num();
    int64_t parts = 1;
    while (parts < M && np * parts % threads != 0 && np * parts < 4 * threads) ++parts;
    const int64_t items = np * parts, end = items * (id + 1) / threads;
    for (int64_t i = items * id / threads; i < end;) {
      const int64_t part = i / np, p0 = i % np, p1 = std::min(np, p0 + end - i);
      run(M * part / parts, M * (part + 1) / parts, p0, p1);
      i += p1 - p0;
    }
  }
}

void gemm(Isa isa, const float* a, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N,
          const UnaryParams* act) {
  gemm(isa, a, K, w, bias, y, N, kGemmColumnBlock, M, K, N, act);
}

void panels_product(Isa isa, const float* a, int64_t lda, const float* w, const float* bias, float* y, int64_t ldy,
                    int64_t ldb, int64_t M, int64_t K, int64_t N, const UnaryParams* act) {
  if (M != 1 || ldb != kGemmColumnBlock) return gemm(isa, a, lda, w, bias, y, ldy, ldb, M, K, N, act);
  gemv(isa, a, w, bias, y, K, N);
  if (act) unary(isa, *act, y, y, N);
}

bool gemm_chosen(Isa isa) {
  static const bool intel = __builtin_cpu_is("intel");
  return isa == Isa::avx512 && intel;
}

}  // namespace normrt::kernels
