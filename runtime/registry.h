#pragma once
// The op registry: (domain, op type, opset range) -> kernel factory. Filled
// from one explicit list (registry.cpp), one line per op family.
#include <set>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace normrt {

struct OpEntry {
  std::string domain;  // "" for the default ONNX domain
  std::string op_type;
  int64_t since = 1, until = 18;  // opsets this implementation follows
  KernelFactory make;
  // Whether output 0 is input 0's bytes under another shape for these input
  // types: a plan then gives both one buffer and runs nothing (make still
  // serves constant folding). Null: never.
  std::function<bool(const Node&, const std::vector<const ValueInfo*>& in)> view;
  // Set (and `make` null) for an op whose output shapes depend on its
  // inputs' values (NonZero, Unique, ...): it computes its outputs whole from
  // known inputs. A plan stops before such a node; the session runs it
  // between the plan and one for the rest of the graph.
  // `max_bytes`: SessionOptions::max_tensor_bytes, checked before each output is allocated.
  std::function<std::vector<std::shared_ptr<const Tensor>>(const Node&, const std::vector<const Tensor*>& in,
                                                           int64_t opset, const std::string& where, size_t max_bytes)>
      compute;
  // Control flow (If, Loop): a plan stops before such a node, and the
  // session runs its subgraphs (runtime/session.cpp).
  bool control_flow = false;
};

class Registry {
 public:
  void add(std::string op_type, int64_t since, int64_t until, KernelFactory make, std::string domain = "");
  void add(std::string op_type, int64_t since, int64_t until, KernelFactory make, decltype(OpEntry::view) view);
  void add_control_flow(std::string op_type, int64_t since, int64_t until);
  void add_computed(std::string op_type, int64_t since, int64_t until, decltype(OpEntry::compute) compute);
  const OpEntry* find(const std::string& domain, const std::string& op_type, int64_t opset) const;

 private:
  std::vector<OpEntry> entries_;
};

const Registry& default_registry();

// Values passed from one 2-D convolution (with constant weights) or 2-D
// pooling only to others, as input or residual: the plan keeps them in
// oneDNN's blocked or NHWC layout so no reorder stands between them
// (runtime/ops/conv.cpp).
std::set<std::string> blocked_conv_values(const Graph& g, bool winograd);
// The layout those values are held in, for this graph (blocked where some
// convolution may run as Winograd).
kernels::HeldLayout held_conv_layout(const Graph& g, bool winograd);

// Packs the constant weights of the graph's matmuls into `cache` now, in the
// layout plans for any input shape will use, and releases the plain bytes of
// those nothing else reads: such an initializer keeps its dtype and shape
// with empty bytes, and plans take it from the cache (runtime/ops/matmul.cpp).
void prepack_matmul_weights(Graph& g, kernels::WeightCache& cache, bool bf16);

// One per file in runtime/ops/.
void register_activation_ops(Registry& r);
void register_arithmetic_ops(Registry& r);
void register_conv_ops(Registry& r);
void register_normalization_ops(Registry& r);
void register_logic_ops(Registry& r);
void register_pool_ops(Registry& r);
void register_reduce_ops(Registry& r);
void register_matmul_ops(Registry& r);
void register_softmax_ops(Registry& r);
void register_tensor_ops(Registry& r);
void register_resize_ops(Registry& r);
void register_scatter_ops(Registry& r);
void register_recurrent_ops(Registry& r);
void register_einsum_ops(Registry& r);
void register_grid_sample_ops(Registry& r);
void register_data_dependent_ops(Registry& r);
void register_control_flow_ops(Registry& r);

}  // namespace normrt
