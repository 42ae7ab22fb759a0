#pragma once
// LayerNorm family: LayerNormalization, RMS norm, InstanceNormalization and
// the fused residual Add + LayerNorm, on rows of contiguous floats.
//
// Accuracy scheme: a row's moments are taken about a pivot p, the mean of
// its first 16 values (or fewer). One pass sums d = x - p and d^2; with the
// data near p the subtraction is exact (Sterbenz), so a mean of 1e4 with a
// spread of 0.1 loses nothing, and the mean is kept as p + delta with delta
// small and precise. var = E[d^2] - delta^2 is accurate while delta^2 is
// small beside var, which a pivot drawn from the row makes the usual case;
// when it is not (the first values unrepresentative of the row), a second
// pass sums ((x - p) - delta)^2, the centred two-pass variance. The output is
// ((x - p) - delta) * rstd * gamma + beta.
// Rows are cut into fixed chunks whose partial sums are combined in double in
// chunk order, so a row gives the same bits whether it is alone, in a batch,
// or split across any number of threads.
#include <cstdint>

#include "kernels/isa.h"

namespace normrt::kernels {

struct LayerNormTable {
  // Sum of (x[i] - pivot).
  float (*sum_shifted)(const float* x, int64_t n, float pivot);
  // out = {sum of d, sum of d^2}, d = x[i] - pivot.
  void (*stats_shifted)(const float* x, int64_t n, float pivot, float* out);
  // s[i] = a[i] + b[i], and the moments of s[i] - pivot as stats_shifted.
  void (*add_stats_shifted)(const float* a, const float* b, float* s, int64_t n, float pivot, float* out);
  // Sum of ((x[i] - pivot) - delta)^2.
  float (*sum_sq_centered)(const float* x, int64_t n, float pivot, float delta);
  // y = ((x - pivot) - delta) * rstd * gamma[i] + beta[i]; gamma/beta may be null (1, 0).
  void (*normalize)(const float* x, float* y, int64_t n, float pivot, float delta, float rstd, const float* gamma,
                    const float* beta);
  // normalize(x -> y), and stats_shifted(next, n, next_pivot, out) with the
  // same bits, in one loop.
  void (*normalize_then_stats)(const float* x, float* y, int64_t n, float pivot, float delta, float rstd,
                               const float* gamma, const float* beta, const float* next, float next_pivot, float* out);
  // y = ((x - pivot) - delta) * scale + shift (per-row constants: InstanceNorm).
  void (*normalize_affine)(const float* x, float* y, int64_t n, float pivot, float delta, float scale, float shift);
  // y = x * rinv * gamma[i] (gamma may be null).
  void (*scale_rows)(const float* x, float* y, int64_t n, float rinv, const float* gamma);
  // scale_rows(x -> y), and stats_shifted(next, n, 0, out) with the same bits, in one loop.
  void (*scale_then_stats)(const float* x, float* y, int64_t n, float rinv, const float* gamma, const float* next,
                           float* out);
};
NORMRT_ISA_TABLE(LayerNormTable, layer_norm_table)

// Rows longer than this are split into chunks of this many elements.
constexpr int64_t kNormChunk = 16384;

struct LayerNormArgs {
  const float* x = nullptr;
  const float* residual = nullptr;  // Add+LayerNorm: x + residual is normalized
  float* sum_out = nullptr;         // Add+LayerNorm: where x + residual goes (required with residual)
  float* y = nullptr;
  const float* gamma = nullptr;     // [n] or null
  const float* beta = nullptr;      // [n] or null
  float* mean_out = nullptr;        // [rows] or null
  float* inv_std_out = nullptr;     // [rows] or null
  int64_t rows = 0, n = 0;
  float epsilon = 1e-5f;
  bool rms = false;                 // RMS norm: no centring, no beta
};

// Threaded over rows and chunks; deterministic for any thread count.
void layer_norm(Isa isa, const LayerNormArgs& a);

// InstanceNormalization: x [N, C, inner], per-channel scale/bias.
void instance_norm(Isa isa, const float* x, float* y, const float* scale, const float* bias, int64_t N, int64_t C,
                   int64_t inner, float epsilon);

}  // namespace normrt::kernels
