// BatchNormalization (inference): the per-channel scale and shift are
// computed once at plan time when the parameters are weights.
#include "kernels/batch_norm.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

std::unique_ptr<Kernel> batch_norm(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const int64_t N = x[0], C = x[1], inner = shape_numel(Shape(x.begin() + 2, x.end()));
  const float eps = c.node.attr_f("epsilon", 1e-5f);
  const Isa isa = c.isa;
  bool all_constant = true;
  for (size_t k = 1; k <= 4; ++k) all_constant = all_constant && c.constant(k);
  if (all_constant) {
    auto p = [&](size_t k) { return c.constant(k)->data<float>(); };
    auto ss = std::make_shared<std::vector<float>>(2 * size_t(C));
    kernels::batch_norm_fold_params(p(1), p(2), p(3), p(4), eps, C, ss->data(), ss->data() + C);
    return kernel_fn([=](const RunArgs& a) {
      kernels::batch_norm_inference(isa, static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]),
                                    ss->data(), ss->data() + C, N, C, inner);
    });
  }
  return kernel_fn(
      [=](const RunArgs& a) {
        auto p = [&](size_t k) { return static_cast<const float*>(a.in[k]); };
        float* scale = static_cast<float*>(a.scratch);
        kernels::batch_norm_fold_params(p(1), p(2), p(3), p(4), eps, C, scale, scale + C);
        kernels::batch_norm_inference(isa, p(0), static_cast<float*>(a.out[0]), scale, scale + C, N, C, inner);
      },
      2 * size_t(C) * sizeof(float));
}

}  // namespace

void register_normalization_ops(Registry& r) { r.add("BatchNormalization", 7, 18, batch_norm); }

}  // namespace normrt
