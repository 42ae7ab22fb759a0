#pragma once
// An execution plan for one set of input shapes: kernels bound in
// topological order, constants (and shape chains) evaluated once, and every
// intermediate placed in one arena whose regions are reused by liveness.
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "graph/ir.h"
#include "runtime/registry.h"

namespace normrt {

struct Slot {
  enum class Kind { constant, input, arena, output } kind = Kind::arena;
  int index = -1;              // input or output index
  size_t offset = 0;           // in the arena
  size_t bytes = 0;
  const void* data = nullptr;  // constant
};

struct Step {
  const Node* node = nullptr;
  std::string where;  // "model.onnx: node Conv 'conv1'", for errors at run time
  std::unique_ptr<Kernel> kernel;
  std::vector<int> ins, outs;  // slot ids; -1 for an omitted input
  std::vector<Shape> in_shapes, out_shapes;
  double flops = 0;  // multiply-adds x 2 for convolutions and matmuls, else 0
  double bytes = 0;  // bytes read and written
};

// Everything one run writes. Contexts are pooled by the plan, so a steady
// state run allocates nothing for intermediates.
struct RunContext {
  std::unique_ptr<uint8_t, void (*)(void*)> arena{nullptr, std::free};
  std::unique_ptr<uint8_t, void (*)(void*)> scratch{nullptr, std::free};
  std::vector<void*> ptrs;
  std::vector<const void*> in_args;
  std::vector<void*> out_args;
  kernels::DnnlRun dnnl;
};

// Runs one node on constant inputs with the registry's kernel (constant
// folding, at plan time and for graph/passes/fold_constants).
std::vector<std::shared_ptr<const Tensor>> evaluate_node(const Registry& reg, const Node& n,
                                                         const std::vector<const Tensor*>& inputs, int64_t opset,
                                                         Isa isa, const std::string& where,
                                                         size_t max_tensor_bytes = 0);

class Plan {
 public:
  // `inputs`: the graph inputs' types (shapes fixed). `fold_float`: also
  // evaluate float subgraphs whose inputs are all constant, and run work
  // that repeats an earlier step's once (optimization on); integer/bool
  // ones (shape chains) and float ones of a few elements (Resize's scales)
  // are always evaluated.
  // `winograd`: 3x3 stride-1 convolutions may run as Winograd (SessionOptions::winograd).
  // `max_tensor_bytes`: SessionOptions::max_tensor_bytes.
  // `bf16_matmuls`: SessionOptions::bf16_matmuls, where the CPU has them.
  Plan(const Graph& g, const Registry& reg, const std::vector<ValueInfo>& inputs, Isa isa, bool fold_float,
       kernels::WeightCache* weights = nullptr, bool winograd = false, size_t max_tensor_bytes = 0,
       bool bf16_matmuls = false);

  // The graph's outputs; for a plan that stops early, the values carried().
  const std::vector<ValueInfo>& outputs() const { return outputs_; }
  // The first node whose output shapes depend on values this plan cannot
  // know (a NonZero, a Reshape to a computed shape), or -1: the plan runs
  // the nodes before it, and its outputs are then every value the rest of
  // the graph reads (graph inputs and computed values, not initializers).
  int cut() const { return cut_; }
  const std::vector<std::string>& carried() const { return carried_; }
  // Per carried value: its contents were known when planning and it is
  // shape-sized (not float, or a few elements), so the rest may plan on them.
  const std::vector<bool>& carried_known() const { return carried_known_; }
  const std::vector<Step>& steps() const { return steps_; }
  size_t arena_bytes() const { return arena_bytes_; }

  // Runs with inputs in graph input order; fills outputs (already shaped).
  // With `step_seconds`, also times every step (sized to steps()).
  void execute(const Tensor* const* inputs, std::vector<Tensor>& outputs,
               std::vector<double>* step_seconds = nullptr) const;

 private:
  // The constructor's work, with these values held in the convolutions' layout.
  void build(const Graph& g, const Registry& reg, const std::vector<ValueInfo>& inputs, Isa isa, bool fold_float,
             kernels::WeightCache* weights, bool winograd, size_t max_tensor_bytes, bool bf16_matmuls,
             const std::set<std::string>& blocked);
  std::unique_ptr<RunContext> acquire() const;
  void release(std::unique_ptr<RunContext> c) const;

  std::vector<Step> steps_;
  std::vector<Slot> slots_;
  std::vector<std::shared_ptr<const Tensor>> constants_;
  std::vector<ValueInfo> outputs_;
  std::vector<int> output_slots_;
  int cut_ = -1;
  std::vector<std::string> carried_;
  std::vector<bool> carried_known_;
  size_t arena_bytes_ = 0, scratch_bytes_ = 0, max_args_ = 0;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<RunContext>> pool_;
};

}  // namespace normrt
