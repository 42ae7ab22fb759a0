// An Add feeding a Softmax over the last axis (attention's scores plus their
// mask) becomes one normrt AddSoftmax: each row is summed and normalized
// while it is in cache, instead of the sum going out to memory and back.
#include "graph/passes/pass_manager.h"

namespace normrt {

bool fuse_add_softmax(Graph& g, const PassOptions&, std::vector<Rewrite>& log) {
  return rewrite_each(g, [&](const GraphView& v, size_t i) {
    const Node& sm = g.nodes[i];
    if (!is_op(sm, "Softmax") || sm.inputs.empty() || sm.outputs.size() != 1) return false;
    // Axis -1 is the last axis at every opset (below 13, the trailing dims
    // flattened from -1 are that one dim); an absent axis is -1 from 13 on.
    if (!(sm.has("axis") ? sm.attr_i("axis", 0) == -1 : g.opset >= 13)) return false;
    const Node* add = v.produced_by(sm.inputs[0], "Add");
    if (!add || add->inputs.size() != 2 || !v.internal(add->outputs[0])) return false;
    Node f = fused_node("AddSoftmax", sm.name + "_add", {add->inputs[0], add->inputs[1]}, {sm.outputs[0]});
    f.attrs["axis"] = Attribute::integer(-1);
    replace_nodes(g, log, "fuse_add_softmax", {v.index_of(add), int(i)}, f);
    return true;
  });
}

}  // namespace normrt
