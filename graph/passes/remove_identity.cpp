// Identity, and Dropout at inference (no mask read), pass their input through:
// readers of the output read the input instead.
#include "graph/passes/pass_manager.h"

namespace normrt {

bool remove_identity(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const bool identity = is_op(n, "Identity");
    const bool dropout = is_op(n, "Dropout") && (n.outputs.size() < 2 || n.outputs[1].empty()) &&
                         n.num_inputs() <= 1 && n.attr_i("training_mode", 0) == 0;
    if (!(identity || dropout) || n.inputs.empty() || n.inputs[0].empty()) continue;
    const std::string in = n.inputs[0], out = n.outputs[0];
    // A graph output keeps its name: only when the input can take it instead.
    if (g.is_output(out)) continue;
    for (auto& m : g.nodes)
      for (auto& x : m.inputs)
        if (x == out) x = in;
    log.push_back(Rewrite{"remove_identity", {n.label()}, ""});
    g.nodes.erase(g.nodes.begin() + long(i));
    --i;
    changed = true;
  }
  return changed;
}

}  // namespace normrt
