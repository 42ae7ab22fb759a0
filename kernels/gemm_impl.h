#include "kernels/gemm.h"
#include "kernels/simd_common.h"

namespace {
using normrt::kernels::kGemmColumnBlock;
using normrt::kernels::kGemvPanel;
constexpr int64_t kAcc = kGemvPanel / kLanes;  // vectors across a panel
// Rows per tile: on AVX-512, 6 rows of 4 accumulators, with 4 vectors of B
// and a broadcast of A, use 29 of the 32 registers.
constexpr int64_t kTileRows = kAcc <= 4 ? 6 : 1;

// A tile of R rows over one panel and one block of K; see GemmTable::panel.
// `stage` holds the tile when the panel is narrower than 64 columns.
template <int64_t R>
void tile(const float* a, int64_t lda, const float* wp, int64_t kc, float* y, int64_t ldy, int64_t ldb, int64_t width,
          bool first, bool last, const float* bias, const float* clamp, const char* next, int64_t lines) {
  const bool full = width == kGemvPanel;
  // Where column c of a row is (GemmTable::panel); vector j of a full panel
  // lies whole in one block of columns.
  auto col = [ldb](int64_t c) { return c / kGemmColumnBlock * ldb + c % kGemmColumnBlock; };
  alignas(64) float stage[R][kGemvPanel];
  Vec acc[R][kAcc];
  for (int64_t r = 0; r < R; ++r) {
    const float* from = y + r * ldy;
    if (!first && !full) {
      for (int64_t j = 0; j < kGemvPanel; ++j) stage[r][j] = j < width ? from[col(j)] : 0.f;
      from = stage[r];
    }
    for (int64_t j = 0; j < kAcc; ++j) acc[r][j] = first ? Vec(0.f) : load(from + (full ? col(j * kLanes) : j * kLanes));
  }
  auto step = [&](int64_t k) {
    Vec b[kAcc];
    for (int64_t j = 0; j < kAcc; ++j) b[j] = load(wp + k * kGemvPanel + j * kLanes);
    for (int64_t r = 0; r < R; ++r) {
      const Vec av(a[r * lda + k]);
      for (int64_t j = 0; j < kAcc; ++j) acc[r][j] = xsimd::fma(av, b[j], acc[r][j]);
    }
  };
  // The lines spread evenly over the groups of four steps.
  const int64_t groups = kc / 4, per = groups ? (lines + groups - 1) / groups : 0;
  int64_t k = 0, l = 0;
  for (; k + 4 <= kc; k += 4) {
    for (int64_t q = 0; q < per && l < lines; ++q) __builtin_prefetch(next + 64 * l++, 0, 3);
    step(k);
    step(k + 1);
    step(k + 2);
    step(k + 3);
  }
  for (; k < kc; ++k) step(k);
  alignas(64) float edge_bias[kGemvPanel];
  if (last && bias && !full) {
    for (int64_t j = 0; j < kGemvPanel; ++j) edge_bias[j] = j < width ? bias[j] : 0.f;
    bias = edge_bias;
  }
  const bool clamped = last && clamp;
  for (int64_t r = 0; r < R; ++r) {
    float* to = full ? y + r * ldy : stage[r];
    for (int64_t j = 0; j < kAcc; ++j) {
      Vec v = last && bias ? acc[r][j] + load(bias + j * kLanes) : acc[r][j];
      if (clamped) v = clamp_v(v, clamp[0], clamp[1]);  // as the element-wise Relu and Clip
      store(to + (full ? col(j * kLanes) : j * kLanes), v);
    }
    if (!full)
      for (int64_t j = 0; j < width; ++j) y[r * ldy + col(j)] = stage[r][j];
  }
}

void gemm_panel(const float* a, int64_t lda, const float* wp, int64_t kc, float* y, int64_t ldy, int64_t ldb,
                int64_t rows, int64_t width, bool first, bool last, const float* bias, const float* clamp,
                const char* next, int64_t lines) {
  const int64_t tiles = (rows + kTileRows - 1) / kTileRows, share = (lines + tiles - 1) / tiles;
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t r0 = t * kTileRows, n = rows - r0 < kTileRows ? rows - r0 : kTileRows;
    const int64_t l0 = t * share < lines ? t * share : lines, l = lines - l0 < share ? lines - l0 : share;
    const float* at = a + r0 * lda;
    float* yt = y + r0 * ldy;
    const char* pf = next ? next + 64 * l0 : nullptr;
    switch (n) {
      case 6: tile<6>(at, lda, wp, kc, yt, ldy, ldb, width, first, last, bias, clamp, pf, l); break;
      case 5: tile<5>(at, lda, wp, kc, yt, ldy, ldb, width, first, last, bias, clamp, pf, l); break;
      case 4: tile<4>(at, lda, wp, kc, yt, ldy, ldb, width, first, last, bias, clamp, pf, l); break;
      case 3: tile<3>(at, lda, wp, kc, yt, ldy, ldb, width, first, last, bias, clamp, pf, l); break;
      case 2: tile<2>(at, lda, wp, kc, yt, ldy, ldb, width, first, last, bias, clamp, pf, l); break;
      default: tile<1>(at, lda, wp, kc, yt, ldy, ldb, width, first, last, bias, clamp, pf, l); break;
    }
  }
}

}  // namespace

namespace normrt::kernels::NORMRT_ISA {
extern const GemmTable gemm_table = {&gemm_panel};
}
