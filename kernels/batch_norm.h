#pragma once
// BatchNormalization at inference: a per-channel affine map y = x*scale + shift.
#include <cstdint>

#include "kernels/isa.h"

namespace normrt::kernels {

struct BatchNormTable {
  // y[i] = x[i] * scale + shift for i < n
  void (*scale_shift_row)(const float* x, float* y, int64_t n, float scale, float shift);
  // y[c] = x[c] * scale[c] + shift[c] for c < C (one sample of [N, C] data)
  void (*scale_shift_channels)(const float* x, float* y, int64_t C, const float* scale, const float* shift);
};
NORMRT_ISA_TABLE(BatchNormTable, batch_norm_table)

// scale = gamma / sqrt(var + eps), shift = beta - mean * scale, computed in double.
void batch_norm_fold_params(const float* gamma, const float* beta, const float* mean, const float* var, float eps,
                            int64_t C, float* scale, float* shift);

// x, y: [N, C, inner]; rows (n, c) are spread over the OpenMP threads.
void batch_norm_inference(Isa isa, const float* x, float* y, const float* scale, const float* shift, int64_t N,
                          int64_t C, int64_t inner);

// training_mode=1: each channel normalized with the mean and (population)
// variance of its N*inner values in this batch; the running statistics are
// updated as ONNX defines: out = in * momentum + current * (1 - momentum).
// running_mean_out/running_var_out may be null.
struct BatchNormTrainingArgs {
  const float *x, *gamma, *beta, *running_mean, *running_var;
  float *y, *running_mean_out, *running_var_out;
  int64_t N, C, inner;
  float epsilon, momentum;
};
void batch_norm_training(Isa isa, const BatchNormTrainingArgs& a);

}  // namespace normrt::kernels
