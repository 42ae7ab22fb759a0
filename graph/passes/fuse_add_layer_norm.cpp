// A residual Add feeding a LayerNormalization becomes one normrt
// AddLayerNormalization: x + r is summed, normalized and (when the sum is
// read again, as in a post-norm transformer's next residual) written out in
// the same pass over memory.
#include "graph/passes/pass_manager.h"

namespace normrt {

bool fuse_add_layer_norm(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  return rewrite_each(g, [&](const GraphView& v, size_t i) {
    const Node& ln = g.nodes[i];
    const bool is_ln = is_op(ln, "LayerNormalization") || is_op(ln, "LayerNormalization", "normrt");
    // Mean/InvStdDev outputs cannot be kept: the fused node does not produce them.
    if (!is_ln || ln.outputs.size() > 1 || ln.inputs.empty()) return false;
    const Node* add_node = v.produced_by(ln.inputs[0], "Add");
    if (!add_node || add_node->inputs[0] == add_node->inputs[1]) return false;
    const Node& add = *add_node;
    const int add_at = v.index_of(add_node);
    Node f = fused_node("AddLayerNormalization", ln.name + "_add",
                        {add.inputs[0], add.inputs[1], ln.inputs.size() > 1 ? ln.inputs[1] : "",
                         ln.inputs.size() > 2 ? ln.inputs[2] : ""},
                        {ln.outputs[0]});
    // The sum stays an output where something else reads it.
    if (!v.internal(add.outputs[0])) f.outputs.push_back(add.outputs[0]);
    f.attrs = ln.attrs;
    // Where the sum is read elsewhere, the fused node must stand where the Add
    // stood, so the scale and bias must already be defined there.
    int at = int(i);
    if (f.outputs.size() > 1) {
      at = add_at;
      bool defined_early = true;
      for (size_t k = 1; k < ln.inputs.size(); ++k) defined_early = defined_early && v.producer_of(ln.inputs[k]) < at;
      if (!defined_early) return false;
    }
    replace_nodes(g, log, "fuse_add_layer_norm", {add_at, int(i)}, f, at);
    return true;
  });
}

}  // namespace normrt
