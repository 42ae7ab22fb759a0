#include "runtime/registry.h"

namespace normrt {

void Registry::add(std::string op_type, int64_t since, int64_t until, KernelFactory make, std::string domain) {
  entries_.push_back(OpEntry{std::move(domain), std::move(op_type), since, until, std::move(make), nullptr, nullptr, false});
}

void Registry::add(std::string op_type, int64_t since, int64_t until, KernelFactory make, decltype(OpEntry::view) view) {
  add(std::move(op_type), since, until, std::move(make));
  entries_.back().view = std::move(view);
}

void Registry::add_computed(std::string op_type, int64_t since, int64_t until, decltype(OpEntry::compute) compute) {
  add(std::move(op_type), since, until, nullptr);
  entries_.back().compute = std::move(compute);
}

void Registry::add_control_flow(std::string op_type, int64_t since, int64_t until) {
  add(std::move(op_type), since, until, nullptr);
  entries_.back().control_flow = true;
}

const OpEntry* Registry::find(const std::string& domain, const std::string& op_type, int64_t opset) const {
  for (auto& e : entries_)
    if (e.domain == domain && e.op_type == op_type && opset >= e.since && opset <= e.until) return &e;
  return nullptr;
}

const Registry& default_registry() {
  static const Registry r = [] {
    Registry r;
    register_activation_ops(r);
    register_arithmetic_ops(r);
    register_conv_ops(r);
    register_normalization_ops(r);
    register_logic_ops(r);
    register_pool_ops(r);
    register_reduce_ops(r);
    register_matmul_ops(r);
    register_softmax_ops(r);
    register_tensor_ops(r);
    register_resize_ops(r);
    register_scatter_ops(r);
    register_recurrent_ops(r);
    register_einsum_ops(r);
    register_grid_sample_ops(r);
    register_data_dependent_ops(r);
    register_control_flow_ops(r);
    return r;
  }();
  return r;
}

}  // namespace normrt
