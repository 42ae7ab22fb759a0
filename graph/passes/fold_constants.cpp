// Nodes whose inputs are all constants become initializers, computed by the
// runtime's own kernels through the evaluator it supplies.
#include "graph/passes/pass_manager.h"

namespace normrt {

bool fold_constants(Graph& g, const PassOptions& o, std::vector<Rewrite>& log) {
  if (!o.evaluate) return false;
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    std::vector<const Tensor*> in;
    bool all_constant = n.num_inputs() > 0;
    for (auto& name : n.inputs) {
      in.push_back(name.empty() ? nullptr : g.constant(name));
      all_constant = all_constant && (name.empty() || in.back());
    }
    if (!all_constant) continue;
    bool any_output_is_graph_output = false;
    for (auto& out : n.outputs) any_output_is_graph_output = any_output_is_graph_output || g.is_output(out);
    if (any_output_is_graph_output) continue;
    std::vector<std::shared_ptr<const Tensor>> values;
    try {
      values = o.evaluate(n, in, g.opset);
    } catch (const Error&) {
      continue;  // cannot be computed ahead (the planner will report it if it matters)
    }
    for (size_t k = 0; k < n.outputs.size() && k < values.size(); ++k)
      if (!n.outputs[k].empty()) g.initializers[n.outputs[k]] = values[k];
    log.push_back(Rewrite{"fold_constants", {n.label()}, ""});
    g.nodes.erase(g.nodes.begin() + long(i));
    --i;
    changed = true;
  }
  return changed;
}

}  // namespace normrt
