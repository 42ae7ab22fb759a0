#pragma once
// LayerNorm family: LayerNormalization, RMS norm, InstanceNormalization and
// the fused residual Add + LayerNorm, on rows of contiguous floats.
//
// Accuracy scheme: a row's statistics are taken relative to a pivot, its
// first element p. Pass 1 sums d = x - p (exact by Sterbenz for data near
// p, so a mean of 1e4 with a spread of 0.1 loses nothing), giving the mean as
// p + delta with delta small and precise; pass 2 sums ((x - p) - delta)^2,
// the centred two-pass variance, which cannot go negative or cancel; pass 3
// writes ((x - p) - delta) * rstd * gamma + beta. Rows are cut into fixed
// chunks whose partial sums are combined in double in chunk order, so a row
// gives the same bits whether it is alone, in a batch, or split across any
// number of threads. The extra read passes hit cache: a chunk (<= 64 KiB)
// is still in L1/L2 when it is read again.
#include <cstdint>

#include "kernels/isa.h"

namespace normrt::kernels {

struct LayerNormTable {
  // Sum of (x[i] - pivot).
  float (*sum_shifted)(const float* x, int64_t n, float pivot);
  // s[i] = a[i] + b[i]; returns the sum of (s[i] - pivot).
  float (*add_sum_shifted)(const float* a, const float* b, float* s, int64_t n, float pivot);
  // Sum of ((x[i] - pivot) - delta)^2.
  float (*sum_sq_centered)(const float* x, int64_t n, float pivot, float delta);
  // Sum of x[i]^2.
  float (*sum_sq)(const float* x, int64_t n);
  // y = ((x - pivot) - delta) * rstd * gamma[i] + beta[i]; gamma/beta may be null (1, 0).
  void (*normalize)(const float* x, float* y, int64_t n, float pivot, float delta, float rstd, const float* gamma,
                    const float* beta);
  // y = ((x - pivot) - delta) * scale + shift (per-row constants: InstanceNorm).
  void (*normalize_affine)(const float* x, float* y, int64_t n, float pivot, float delta, float scale, float shift);
  // y = x * rinv * gamma[i] (gamma may be null).
  void (*scale_rows)(const float* x, float* y, int64_t n, float rinv, const float* gamma);
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
